"""Learning-rate schedules as pure functions of the step.

Linear warmup protects the first updates, when Adam's second-moment estimates are still noisy;
cosine decay then lowers the rate smoothly to `min_lr` by the last step. BERT's fine-tuning
recipe (Devlin et al., 2019) decays linearly instead (`warmup_linear`). The original Transformer
(Vaswani et al., 2017) used the "Noam" schedule (`noam`): linear warmup, then decay as the inverse
square root of the step, with no end point. Being a pure function of the step, the schedule
needs no state to resume.
"""

from __future__ import annotations

import math


def warmup_cosine(step: int, max_steps: int, lr: float, min_lr: float, warmup_steps: int) -> float:
    """Learning rate for update number `step` (0-based) of `max_steps`."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    decay_steps = max(max_steps - 1 - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)  # 0 -> 1 over the decay
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def warmup_linear(step: int, max_steps: int, lr: float, min_lr: float, warmup_steps: int) -> float:
    """Linear warmup to `lr`, then a straight line down to `min_lr` at the last step (BERT's schedule)."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = min((step - warmup_steps) / max(max_steps - 1 - warmup_steps, 1), 1.0)
    return lr + progress * (min_lr - lr)


def noam(step: int, max_steps: int, lr: float, min_lr: float, warmup_steps: int) -> float:
    """The Transformer paper's rate, normalised to peak at `lr` after `warmup_steps` updates.

    The paper writes it d_model^-0.5 * min(s^-0.5, s * warmup^-1.5) for update s = step + 1: linear
    growth to s = warmup, then 1/sqrt(s). That is lr * min(s / warmup, sqrt(warmup / s)) with
    lr = (d_model * warmup)^-0.5 (7e-4 for d_model 512 and warmup 4000). It never reaches
    `min_lr` and ignores `max_steps`, as in the paper. Without warmup (`warmup_steps` 0, the
    paper's limit warmup -> 0 of the s^-0.5 branch) the rate starts at `lr` and decays as lr / sqrt(s).
    """
    s, warmup = step + 1, max(warmup_steps, 1)  # warmup 1 and 0 are the same: lr at s = 1, then lr / sqrt(s)
    return lr * min(s / warmup, math.sqrt(warmup / s))


SCHEDULES = {"cosine": warmup_cosine, "linear": warmup_linear, "noam": noam}
