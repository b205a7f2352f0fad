"""Attention masks as boolean tensors: True means "this query may look at this key".

A causal (look-ahead) mask lets position i see positions j <= i only, which is what makes a
decoder a language model: the prediction for token i+1 never sees token i+1. With a KV cache the
queries are the *last* `num_queries` positions of a longer sequence, so the diagonal moves right
by `num_keys - num_queries`.

>>> causal_mask(2, 3).int().tolist()   # 2 new queries after 1 cached key
[[1, 1, 0], [1, 1, 1]]
"""

from __future__ import annotations

import torch


def causal_mask(num_queries: int, num_keys: int, device=None) -> torch.Tensor:
    """(num_queries, num_keys) bool; query q sits at absolute position num_keys - num_queries + q."""
    offset = num_keys - num_queries
    query_positions = torch.arange(num_queries, device=device).unsqueeze(1) + offset  # (Tq, 1)
    key_positions = torch.arange(num_keys, device=device).unsqueeze(0)  # (1, Tk)
    return key_positions <= query_positions


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Turn a boolean mask into the additive form: 0 where allowed, -inf where blocked."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, float("-inf"))
