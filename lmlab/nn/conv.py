"""Causal 1-D convolutions: a convolution that only looks left.

A convolution over a sequence computes each output from a window of k inputs. For a language
model the window must end at the current position, h_t = f(x_{t-k+1}, ..., x_t), or the model
could read the token it is asked to predict. Padding the input with k - 1 zeros on the left (and
none on the right) does exactly that (van den Oord et al. 2016, WaveNet).

With dilation d the window skips: h_t = f(x_{t-(k-1)d}, ..., x_{t-d}, x_t). Stacking layers with
dilations 1, 2, 4, ... grows the receptive field, the span of inputs one output can see,
exponentially with depth instead of linearly:

    receptive field = 1 + sum over layers of (k - 1) * d_layer

>>> receptive_field(3, [1, 2, 4, 8])
31
>>> receptive_field(3, [1, 1, 1, 1])
9
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def receptive_field(kernel_size: int, dilations: list[int]) -> int:
    """How many consecutive inputs (the current one included) one output of the stack depends on."""
    return 1 + sum((kernel_size - 1) * d for d in dilations)


class CausalConv1d(nn.Conv1d):
    """(B, C_in, T) -> (B, C_out, T); output t depends on inputs t - (k-1)d, ..., t only."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left_padding = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left_padding, 0)))
