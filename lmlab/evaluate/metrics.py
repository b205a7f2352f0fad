"""Evaluation metrics for language models.

Perplexity is the exponential of the mean negative log-likelihood per token,
PPL = exp(-1/N * sum_i log p(x_i | x_<i)): the effective number of equally likely choices the
model hesitates between at each step. A uniform model over V tokens has perplexity V.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch


def perplexity(mean_nll: float) -> float:
    """exp(mean negative log-likelihood in nats); inf instead of an overflow."""
    return math.exp(mean_nll) if mean_nll < 700 else math.inf


@torch.no_grad()
def language_model_loss(model, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device,
                        cache=None) -> tuple[float, int]:
    """Mean cross-entropy per target token over all batches, and the number of target tokens.

    Targets equal to -1 (padding) are not counted. Sums token losses before dividing, so batches
    of different sizes are weighted by their tokens, not averaged per batch. With `cache` (a
    model's `new_cache`), each batch continues the previous one (`lmlab.data.lm.stream_windows`).
    """
    model.eval()
    total_nll, total_tokens = 0.0, 0
    for inputs, targets in batches:
        inputs, targets = inputs.to(device), targets.to(device)
        logits, _ = model(inputs) if cache is None else model(inputs, cache=cache)
        nll = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(),
                                                ignore_index=-1, reduction="sum")
        total_nll += nll.item()
        total_tokens += int((targets != -1).sum())
    return total_nll / max(total_tokens, 1), total_tokens
