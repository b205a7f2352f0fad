"""Normalisation layers: LayerNorm, RMSNorm and, for comparison, BatchNorm.

All three rescale activations to a standard size and then apply a learned gain (and shift):

- **LayerNorm** (Ba et al., 2016): per token, over its C features,
  y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta.
  Each token is normalised on its own, so the result does not depend on the batch, on the
  sequence length, on padding or on future tokens, and training and inference compute the same
  thing. That is why Transformers use it.
- **RMSNorm** (Zhang & Sennrich, 2019): y = x / sqrt(mean(x^2) + eps) * gamma. LayerNorm without
  the centring and the shift: cheaper, and as good in practice (LLaMA, T5).
- **BatchNorm** (Ioffe & Szegedy, 2015): per *feature*, over every token of the batch,
  y = (x - mean_batch) / sqrt(var_batch + eps) * gamma + beta, with running averages of the
  statistics used at inference. In a sequence model the batch statistics mix tokens of other
  sentences, padding, and, in a causal decoder, *future* tokens into each position (the model
  can cheat: tests/nn/test_norm.py shows it), and small or variable batches make them noisy.

And `none` (an identity) is there to measure what the others are for (`lmlab experiment run
norms-and-residuals`).

`layer_norm` and `rms_norm` are the formulas written out; the modules call PyTorch's fused
kernels by default (one kernel instead of five) and the written-out formula with
``explicit=True``. Tests check both against `torch.nn.LayerNorm` and `torch.nn.RMSNorm`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

NORMS = ("layernorm", "rmsnorm", "batchnorm", "none")


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, eps: float) -> torch.Tensor:
    mean = x.mean(dim=-1, keepdim=True)
    variance = x.var(dim=-1, keepdim=True, unbiased=False)  # the biased estimate, as the paper
    y = (x - mean) / torch.sqrt(variance + eps) * weight
    return y if bias is None else y + bias


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


class LayerNorm(nn.Module):
    def __init__(self, dim: int, bias: bool = True, eps: float = 1e-5, explicit: bool = False) -> None:
        super().__init__()
        self.eps, self.explicit, self.shape = eps, explicit, (dim,)
        self.weight = nn.Parameter(torch.ones(dim))  # gamma
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None  # beta

    def forward(self, x):  # (..., C) -> (..., C)
        if self.explicit:
            return layer_norm(x, self.weight, self.bias, self.eps)
        return F.layer_norm(x, self.shape, self.weight, self.bias, self.eps)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6, explicit: bool = False) -> None:
        super().__init__()
        self.eps, self.explicit, self.shape = eps, explicit, (dim,)
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):  # (..., C) -> (..., C)
        if self.explicit:
            return rms_norm(x, self.weight, self.eps)
        return F.rms_norm(x, self.shape, self.weight, self.eps)


class BatchNorm(nn.Module):
    """BatchNorm over the features of (B, T, C) activations: statistics over all B * T tokens."""

    def __init__(self, dim: int, bias: bool = True, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x):  # (B, T, C) -> (B, T, C)
        if self.training:
            tokens = x.reshape(-1, x.size(-1))  # (B * T, C)
            mean, variance = tokens.mean(dim=0), tokens.var(dim=0, unbiased=False)
            with torch.no_grad():  # running estimates for inference (unbiased variance, as PyTorch)
                n = tokens.size(0)
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(variance * n / max(n - 1, 1), self.momentum)
        else:
            mean, variance = self.running_mean, self.running_var
        y = (x - mean) / torch.sqrt(variance + self.eps) * self.weight
        return y if self.bias is None else y + self.bias


def make_norm(kind: str, dim: int, bias: bool = True, eps: float | None = None) -> nn.Module:
    """A normalisation layer by name (`NORMS`). RMSNorm has no shift, whatever `bias` says.
    `eps` None keeps each layer's own default (1e-5, RMSNorm 1e-6); BERT uses 1e-12."""
    epsilon = {} if eps is None else {"eps": eps}
    if kind == "layernorm":
        return LayerNorm(dim, bias=bias, **epsilon)
    if kind == "rmsnorm":
        return RMSNorm(dim, **epsilon)
    if kind == "batchnorm":
        return BatchNorm(dim, bias=bias, **epsilon)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")
