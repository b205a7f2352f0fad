"""Multi-head self-attention, written out and fast.

Attention is a soft dictionary lookup: each query scores every key, the scores become weights
through a softmax, and the output is the weighted average of the values,

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + mask) V

Dividing by sqrt(d_k) keeps the dot products at unit variance for unit-variance inputs, so the
softmax does not saturate as the head dimension grows. Several heads attend in parallel over
different learned projections, and their outputs are concatenated and projected back.

Two paths compute the same thing: the *explicit* one spells the formula out and can return the
attention weights (for plots and teaching); the *fast* one calls PyTorch's fused
`scaled_dot_product_attention` (flash / memory-efficient kernels where available).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.nn.kv_cache import KVCache
from lmlab.nn.masks import additive_mask, causal_mask


def scaled_dot_product_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """(..., Tq, D) x (..., Tk, D) -> (..., Tq, Tk) scores q.k / sqrt(D)."""
    return queries @ keys.transpose(-2, -1) / math.sqrt(queries.size(-1))


def explicit_attention(queries, keys, values, allowed: torch.Tensor | None, dropout: float = 0.0,
                       training: bool = False):
    """The formula, step by step. Returns (output (..., Tq, D), weights (..., Tq, Tk))."""
    scores = scaled_dot_product_scores(queries, keys)  # (B, H, Tq, Tk)
    if allowed is not None:
        scores = scores + additive_mask(allowed, scores.dtype)  # blocked keys get -inf
    weights = torch.softmax(scores, dim=-1)  # each row sums to 1 over the keys it may see
    output = F.dropout(weights, p=dropout, training=training) @ values  # (B, H, Tq, D)
    return output, weights


class CausalSelfAttention(nn.Module):
    """Masked multi-head self-attention with a fused QKV projection and an optional KV cache."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True,
                 path: Literal["explicit", "sdpa"] = "sdpa") -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.n_head, self.head_dim = n_head, n_embd // n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)  # W_Q, W_K, W_V side by side
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)  # W_O
        self.dropout = dropout
        self.residual_dropout = nn.Dropout(dropout)
        self.path = path

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, D)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0,
                need_weights: bool = False):
        """x: (B, T, C). Returns (y (B, T, C), weights (B, H, T, T_total) or None)."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)  # (B, H, T, D)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, H, T_past + T, D)
        num_keys = k.size(2)
        dropout = self.dropout if self.training else 0.0

        if self.path == "explicit" or need_weights:
            allowed = causal_mask(T, num_keys, device=x.device)
            y, weights = explicit_attention(q, k, v, allowed, dropout, self.training)
        else:
            weights = None
            if num_keys == T:  # no past: the standard lower-triangular mask
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
            elif T == 1:  # one new token sees the whole past: no mask at all
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
            else:  # several new tokens after a past: the diagonal is shifted
                allowed = causal_mask(T, num_keys, device=x.device)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # concatenate the heads
        return self.residual_dropout(self.proj(y)), weights
