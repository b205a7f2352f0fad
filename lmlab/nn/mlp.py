"""The position-wise feed-forward network of a Transformer block.

Each position goes through the same two-layer MLP: expand to `hidden` (4 x n_embd in GPT-2),
apply a nonlinearity, project back. Attention mixes information *across* positions; the MLP
transforms each position on its own. GPT-2 uses GELU in its tanh approximation.
"""

from __future__ import annotations

import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, n_embd: int, hidden: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.up = nn.Linear(n_embd, hidden, bias=bias)
        self.activation = nn.GELU(approximate="tanh")
        self.down = nn.Linear(hidden, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):  # (B, T, C) -> (B, T, C)
        return self.dropout(self.down(self.activation(self.up(x))))
