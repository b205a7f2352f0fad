"""Knowledge distillation (Hinton, Vinyals and Dean, 2015): a student learns from a teacher's soft targets.

For each position, with the teacher's and the student's logits softened by a temperature T:

    p_T = softmax(teacher_logits / T)        q_T = softmax(student_logits / T)
    loss = alpha * T^2 * KL(p_T || q_T)  +  (1 - alpha) * cross_entropy(student_logits, targets)

The data's hard target says which token came next; the teacher's distribution also says how
likely every other token was (after "th", "e" but also "a" and "i": what Hinton calls dark
knowledge), so each position teaches the student a whole distribution instead of one index.
T > 1 flattens both distributions so the small probabilities count; the gradient of the soft
term shrinks as 1/T^2, and the factor T^2 keeps it at the scale of the hard term whatever T is.
alpha = 0 is ordinary training on the data alone. The teacher only runs forward, without
gradients; the student is trained by the one Trainer, whose `training_loss` this module supplies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

import torch
import torch.nn.functional as F

from lmlab.config import POSITIVE, Config, Range


@dataclass
class DistillConfig(Config):
    """How the student learns from the teacher."""

    teacher: str = ""  # the teacher's run folder (TEACHER_RUN of `lmlab distill`)
    temperature: Annotated[float, POSITIVE] = 1.0  # T: teacher and student logits are divided by it in the
    # soft term
    alpha: Annotated[float, Range(0, 1)] = 0.9  # weight of the soft term (KL to the teacher); 1 - alpha
    # weighs the cross-entropy on the data; 0 trains on the data alone


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
                      temperature: float, alpha: float) -> torch.Tensor:
    """alpha * T^2 * KL(p_T || q_T) + (1 - alpha) * CE: logits (B, T, V), targets (B, T) -> a scalar,
    both terms averaged over the positions whose target is not -1."""
    vocab = student_logits.size(-1)
    keep = targets.reshape(-1) != -1  # (B * T,)
    student = student_logits.reshape(-1, vocab)[keep].float()  # (N, V)
    teacher = teacher_logits.reshape(-1, vocab)[keep].float()
    log_q = F.log_softmax(student / temperature, dim=-1)
    log_p = F.log_softmax(teacher / temperature, dim=-1)
    soft = (log_p.exp() * (log_p - log_q)).sum(dim=-1).mean()  # KL(p || q) per position, averaged
    hard = F.cross_entropy(student, targets.reshape(-1)[keep])
    return alpha * temperature ** 2 * soft + (1 - alpha) * hard


def teacher_loss(teacher: torch.nn.Module, config: DistillConfig) -> Callable[[torch.nn.Module, tuple], torch.Tensor]:
    """A `Trainer` training loss: the student's `distillation_loss` against a frozen teacher's logits."""
    teacher.eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)

    def loss(student: torch.nn.Module, batch: tuple) -> torch.Tensor:
        inputs, targets = batch[0], batch[1]  # (B, T) each
        with torch.no_grad():
            teacher_logits = teacher(inputs)[0]  # (B, T, V)
        return distillation_loss(student(inputs)[0], teacher_logits, targets, config.temperature, config.alpha)

    return loss
