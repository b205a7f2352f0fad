"""A causal convolutional language model: gated, dilated, residual 1-D convolutions.

Each layer mixes a window of positions with a causal convolution (`lmlab.nn.conv`), so position
t sees tokens t - R + 1 .. t, R the receptive field of the stack; nothing beyond it, and nothing
to the right. The layer is the gated linear unit of Dauphin et al. (2017, "Language Modeling with
Gated Convolutional Networks") inside a pre-norm residual connection:

    x = x + dropout(GLU(conv(LayerNorm(x))))        GLU(a, b) = a * sigmoid(b)

With dilation_base 2 the dilations are 1, 2, 4, ...: the receptive field doubles with every
layer (WaveNet's trick), 1 + (k - 1)(2^L - 1) for L layers of kernel k.

For decoding, the model needs only the last R - 1 tokens (`TokenHistory`): each new token is
scored by running the stack over those and the new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.config import AT_LEAST_ONE, Config, FRACTION, Range
from lmlab.models.base import NeuralLM, require_vocab_size
from lmlab.nn.conv import CausalConv1d, receptive_field
from lmlab.nn.history import TokenHistory


@dataclass
class CNNLMConfig(Config):
    """Shape of a gated causal CNN language model."""

    vocab_size: int = 0
    block_size: Annotated[int, AT_LEAST_ONE] = 128  # positions per training window
    n_embd: Annotated[int, AT_LEAST_ONE] = 128  # channels
    n_layer: Annotated[int, AT_LEAST_ONE] = 6
    kernel_size: Annotated[int, Range(2)] = 3
    dilation_base: Annotated[int, AT_LEAST_ONE] = 2  # layer l has dilation dilation_base ** l; 1 = no dilation
    dropout: Annotated[float, FRACTION] = 0.0
    tie_weights: bool = True  # share the token embedding with the output projection

    @property
    def dilations(self) -> list[int]:
        return [self.dilation_base ** layer for layer in range(self.n_layer)]


class GatedConvBlock(nn.Module):
    """(B, T, C) -> (B, T, C): x + dropout(GLU(causal conv(LayerNorm(x))))."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.conv = CausalConv1d(channels, 2 * channels, kernel_size, dilation)  # values and gates
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = self.conv(self.norm(x).transpose(1, 2)).transpose(1, 2)  # (B, T, 2C)
        return x + self.dropout(F.glu(mixed, dim=-1))


class CNNLM(NeuralLM):
    def __init__(self, config: CNNLMConfig) -> None:
        super().__init__()
        require_vocab_size(config)
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(GatedConvBlock(config.n_embd, config.kernel_size, d, config.dropout)
                                    for d in config.dilations)
        self.norm = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        nn.init.normal_(self.embedding.weight, std=0.02)
        if config.tie_weights:
            self.lm_head.weight = self.embedding.weight

    @property
    def receptive_field(self) -> int:
        """Tokens one prediction can see, the current one included."""
        return receptive_field(self.config.kernel_size, self.config.dilations)

    def new_cache(self, batch_size: int, max_length: int | None = None) -> TokenHistory:
        return TokenHistory(batch_size, self.receptive_field - 1, self.embedding.weight.device)

    def forward(self, ids: torch.Tensor, targets: torch.Tensor | None = None, cache: TokenHistory | None = None):
        """ids (B, T) -> (logits (B, T, V), loss or None); `cache` holds the tokens before `ids`."""
        T = ids.size(1)
        if cache is not None:
            ids = torch.cat([cache.push(ids), ids], dim=1)  # the receptive field's worth of past
        x = self.dropout(self.embedding(ids))  # (B, T', C)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.norm(x[:, -T:]))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-1)
        return logits, loss
