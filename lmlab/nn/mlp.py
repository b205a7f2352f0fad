"""The position-wise feed-forward network of a Transformer block.

Each position goes through the same two-layer MLP: expand to `hidden` units, apply a
nonlinearity, project back. Attention mixes information *across* positions; the MLP transforms
each position on its own, and holds about two thirds of a Transformer's weights.

Four activations (`ACTIVATIONS`):

- relu (the original Transformer): max(0, x). Cheap; units that stay negative get no gradient.
- gelu (GPT-2): x * Phi(x), a smooth ReLU that lets small negative values through, computed
  with GPT-2's tanh approximation of the normal CDF Phi.
- gelu_exact (BERT): the same x * Phi(x) with the exact, erf-based Phi. The two differ by less
  than 1e-3, enough to matter when pretrained weights must be reproduced to 1e-5.
- swiglu (Shazeer, 2020; PaLM, LLaMA): down(silu(gate(x)) * up(x)). A *gated* unit: one
  projection decides, per hidden unit, how much of the other passes. It has three matrices, so
  `mlp_hidden` gives it 2/3 of the units (8C/3 instead of 4C) to keep the parameter count.
"""

from __future__ import annotations

import math

import torch.nn as nn

ACTIVATIONS = ("gelu", "gelu_exact", "relu", "swiglu")


def mlp_hidden(n_embd: int, activation: str) -> int:
    """4 x n_embd units, or 2/3 of that (rounded up to a multiple of 8) for the three-matrix SwiGLU."""
    if activation == "swiglu":
        return math.ceil(8 * n_embd / 3 / 8) * 8
    return 4 * n_embd


def activation_module(name: str) -> nn.Module:
    """The elementwise nonlinearity of an activation name (SwiGLU's is the SiLU of its gate)."""
    modules = {"relu": nn.ReLU, "gelu": lambda: nn.GELU(approximate="tanh"), "gelu_exact": nn.GELU,
               "swiglu": nn.SiLU}
    if name not in modules:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return modules[name]()


class MLP(nn.Module):
    def __init__(self, n_embd: int, hidden: int, dropout: float = 0.0, bias: bool = True,
                 activation: str = "gelu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        self.up = nn.Linear(n_embd, hidden, bias=bias)
        self.activation = activation_module(activation)
        self.down = nn.Linear(hidden, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.gate = nn.Linear(n_embd, hidden, bias=bias) if activation == "swiglu" else None

    def forward(self, x):  # (B, T, C) -> (B, T, C)
        if self.gate is None:
            hidden = self.activation(self.up(x))  # (B, T, hidden)
        else:
            hidden = self.activation(self.gate(x)) * self.up(x)  # the gate decides what of `up` passes
        return self.dropout(self.down(hidden))
