"""Attention masks as boolean tensors: True means "this query may look at this key".

Two reasons to hide a key, and one way to combine them:

- **causal** (look-ahead): position i sees positions j <= i only, which is what makes a decoder a
  language model: the prediction for token i+1 never sees token i+1. With a KV cache the queries
  are the *last* `num_queries` positions of a longer sequence, so the diagonal moves right by
  `num_keys - num_queries`.
- **padding**: sentences of different lengths share a batch by being padded to the longest one;
  the padding positions are not words, and no query may look at them.
- **sliding window** (local attention): a causal query at position i sees only the last W
  positions, i - W < j <= i, so each token's cost and its KV cache stop growing with the text.
  Without causality the band is symmetric, |i - j| < W. Stacked layers still pass information
  further: L layers of window W reach back L (W - 1) positions.
- **both**: a decoder over padded targets ANDs the two. Masks broadcast, so a padding mask of
  shape (B, 1, 1, Tk) and a causal mask of shape (Tq, Tk) combine into (B, 1, Tq, Tk).

>>> causal_mask(2, 3).int().tolist()   # 2 new queries after 1 cached key
[[1, 1, 0], [1, 1, 1]]
>>> sliding_window_mask(3, 4, window=2).int().tolist()   # 3 queries after 1 cached key, W = 2
[[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
>>> padding_mask(torch.tensor([[5, 7, -1]])).int().tolist()   # -1 pads the short sentence
[[[[1, 1, 0]]]]
>>> combine_masks(causal_mask(3, 3), padding_mask(torch.tensor([[5, 7, -1]])))[0, 0].int().tolist()
[[1, 0, 0], [1, 1, 0], [1, 1, 0]]

The softmax turns blocked scores (-inf) into weights of exactly zero. A row with *no* allowed key
(a padding query that may only see padding) would be 0/0 = NaN; `masked_softmax` gives it
weights of zero instead, so one empty row cannot poison a batch.
"""

from __future__ import annotations

import torch

from lmlab.constants import PAD  # re-exported: the layers above may import PAD from here


def causal_mask(num_queries: int, num_keys: int, device=None) -> torch.Tensor:
    """(num_queries, num_keys) bool; query q sits at absolute position num_keys - num_queries + q."""
    offset = num_keys - num_queries
    query_positions = torch.arange(num_queries, device=device).unsqueeze(1) + offset  # (Tq, 1)
    key_positions = torch.arange(num_keys, device=device).unsqueeze(0)  # (1, Tk)
    return key_positions <= query_positions


def sliding_window_mask(num_queries: int, num_keys: int, window: int, causal: bool = True,
                        device=None) -> torch.Tensor:
    """(num_queries, num_keys) bool: query i sees key j when i - window < j <= i (causal) or
    |i - j| < window (not causal). Queries are the last num_queries of the num_keys positions."""
    offset = num_keys - num_queries
    query_positions = torch.arange(num_queries, device=device).unsqueeze(1) + offset  # (Tq, 1)
    key_positions = torch.arange(num_keys, device=device).unsqueeze(0)  # (1, Tk)
    distance = query_positions - key_positions  # i - j: positive for keys in the past
    if causal:
        return (distance >= 0) & (distance < window)
    return distance.abs() < window


def padding_mask(ids: torch.Tensor, pad: int = PAD) -> torch.Tensor:
    """ids (B, Tk) -> (B, 1, 1, Tk) bool: every query (and head) may look at the non-padding keys."""
    return (ids != pad)[:, None, None, :]


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """AND of broadcastable boolean masks; None means "no restriction" and is skipped."""
    present = [mask for mask in masks if mask is not None]
    if not present:
        return None
    combined = present[0]
    for mask in present[1:]:
        combined = combined & mask
    return combined


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Turn a boolean mask into the additive form: 0 where allowed, -inf where blocked."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, float("-inf"))


def masked_softmax(scores: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """softmax over the last axis of `scores` restricted to `allowed` keys; a row with no allowed
    key gets all-zero weights (not NaN), in the forward and in the backward pass."""
    if allowed is None:
        return torch.softmax(scores, dim=-1)
    empty = ~allowed.any(dim=-1, keepdim=True)  # rows that may see nothing
    scores = scores.masked_fill(~allowed, float("-inf")).masked_fill(empty, 0.0)
    return torch.softmax(scores, dim=-1).masked_fill(~allowed, 0.0)
