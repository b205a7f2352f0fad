"""Learning-rate schedules as pure functions of the step.

Linear warmup protects the first updates, when Adam's second-moment estimates are still noisy;
cosine decay then lowers the rate smoothly to `min_lr` by the last step. BERT's fine-tuning
recipe (Devlin et al., 2019) decays linearly instead (`warmup_linear`). Being a pure function of
the step, the schedule needs no state to resume.
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


SCHEDULES = {"cosine": warmup_cosine, "linear": warmup_linear}
