"""The decoding state of a fixed-window model: the last few tokens it has seen.

An n-gram model looks back n - 1 tokens, Bengio's feed-forward model a fixed `context`, a causal
CNN its receptive field. To continue a text one token at a time, such a model only needs those
last tokens: `TokenHistory` keeps them, in the place where a Transformer keeps its KV cache
(`model.new_cache`). Like an RNN's state it never fills up (`max_length` is None).
"""

from __future__ import annotations

import torch


class TokenHistory:
    """The last `size` tokens of each row, (B, <= size)."""

    max_length = None

    def __init__(self, batch_size: int, size: int, device=None) -> None:
        self.size = size
        self.tokens = torch.zeros(batch_size, 0, dtype=torch.long, device=device)
        self.length = 0  # tokens seen so far

    def push(self, ids: torch.Tensor) -> torch.Tensor:
        """Append ids (B, T); return the tokens that came before them, (B, <= size)."""
        past = self.tokens
        self.tokens = torch.cat([past, ids], dim=1)[:, max(0, past.size(1) + ids.size(1) - self.size):]
        self.length += ids.size(1)
        return past

    def reset(self) -> None:
        self.tokens = self.tokens[:, :0]
        self.length = 0
