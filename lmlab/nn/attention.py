"""Attention: score functions, masks, and the one multi-head module every Transformer uses.

Attention is a soft dictionary lookup: each query scores every key, the scores become weights
through a softmax, and the output is the weighted average of the values,

    Attention(Q, K, V) = softmax(score(Q, K) + mask) V

**Four score functions** (`SCORES`), from the oldest to the one Transformers use:

- additive (Bahdanau et al., 2015): ``w^T tanh(W [q; k])``, a one-hidden-layer MLP on the pair.
  ``W [q; k]`` is ``W_q q + W_k k``, so the query and key halves are projected separately and
  broadcast against each other: (B, H, Tq, 1, A) + (B, H, 1, Tk, A). Flexible and expensive.
- bilinear (Luong et al., 2015, "general"): ``q^T W k``, a learned metric between the two.
- dot (Luong's "dot"): ``q . k``, no parameters; a matrix product for all pairs at once.
- scaled dot (Vaswani et al., 2017): ``q . k / sqrt(d_k)``. For unit-variance components, q . k
  is a sum of d_k products with variance d_k; dividing by sqrt(d_k) keeps the softmax out of its
  saturated, zero-gradient regime however large the heads are.

**Multi-head.** `n_head` heads attend in parallel, each over its own d_k = n_embd / n_head slice
of learned projections of the input; their outputs are concatenated and mixed by W_O. Each head
is cheaper than one full-width head (d_k smaller), so n_head of them cost about the same as one.

**One module, configured** (`AttentionConfig`): self-attention (Q, K, V from the same sequence)
or cross-attention (Q from the decoder, K and V from the encoder output); causal or not; padding
masks passed in; one fused Q/K/V projection or one per projection; grouped-query attention
(`n_kv_head` < `n_head`: groups of query heads share one key/value head; 1 is multi-query), which
shrinks the KV cache; sliding-window (local) attention (`attention_window` W: a query sees the
last W positions only, and the KV cache keeps only what it can still see); optional orthogonal
initialisation of the per-head projections; positions that rotate queries and keys (RoPE) or
bias the scores (relative, T5, ALiBi; `lmlab.nn.positional`).

**Two paths, one result.** The *explicit* path spells the formula out and returns the weights
(for plots and teaching); the *fast* path calls PyTorch's fused `scaled_dot_product_attention`.
Dot, scaled-dot and bilinear scores (``q^T W k = (W^T q) . k``) all run on the fast path; the
additive score is not a dot product and always takes the explicit one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.nn.kv_cache import CrossKVCache, KVCache
from lmlab.nn.masks import additive_mask, causal_mask, combine_masks, masked_softmax, sliding_window_mask

SCORES = ("scaled_dot", "dot", "bilinear", "additive")


# --- score functions: (B, H, Tq, D) x (B, H, Tk, D) -> (B, H, Tq, Tk) ---------------------------------
def scaled_dot_product_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """(..., Tq, D) x (..., Tk, D) -> (..., Tq, Tk) scores q.k / sqrt(D)."""
    return queries @ keys.transpose(-2, -1) / math.sqrt(queries.size(-1))


class DotProductScore(nn.Module):
    """q . k, divided by sqrt(d_k) when `scaled`. No parameters."""

    fusable = True  # expressible as SDPA's q' . k * scale

    def __init__(self, scaled: bool = True) -> None:
        super().__init__()
        self.scaled = scaled
        self.scale = None if scaled else 1.0  # SDPA's `scale`: None means 1 / sqrt(d_k)

    def transform_query(self, queries: torch.Tensor) -> torch.Tensor:
        return queries

    def forward(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        queries = self.transform_query(queries)
        if self.scaled:
            return scaled_dot_product_scores(queries, keys)
        return queries @ keys.transpose(-2, -1)


class BilinearScore(DotProductScore):
    """q^T W k with one learned (D, D) matrix per head, computed as (q^T W) . k.

    W starts at I / sqrt(D), so an untrained bilinear score equals the scaled dot product.
    """

    def __init__(self, n_head: int, head_dim: int) -> None:
        super().__init__(scaled=False)
        self.weight = nn.Parameter(torch.eye(head_dim).repeat(n_head, 1, 1) / math.sqrt(head_dim))  # (H, D, D)

    def transform_query(self, queries: torch.Tensor) -> torch.Tensor:
        return queries @ self.weight  # (B, H, Tq, D) @ (H, D, D)


class AdditiveScore(nn.Module):
    """w^T tanh(W_q q + W_k k) per head, with a hidden layer of `hidden` units."""

    fusable = False  # a (Tq, Tk, hidden) tensor per head: no fused kernel computes it

    def __init__(self, n_head: int, head_dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or head_dim
        self.query_weight = nn.Parameter(torch.randn(n_head, head_dim, hidden) / math.sqrt(head_dim))
        self.key_weight = nn.Parameter(torch.randn(n_head, head_dim, hidden) / math.sqrt(head_dim))
        self.vector = nn.Parameter(torch.randn(n_head, hidden) / math.sqrt(hidden))  # w

    def forward(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        projected_queries = (queries @ self.query_weight).unsqueeze(-2)  # (B, H, Tq, 1, A)
        projected_keys = (keys @ self.key_weight).unsqueeze(-3)  # (B, H, 1, Tk, A)
        hidden = torch.tanh(projected_queries + projected_keys)  # (B, H, Tq, Tk, A)
        return torch.einsum("bhqka,ha->bhqk", hidden, self.vector)


def score_function(name: str, n_head: int, head_dim: int) -> nn.Module:
    if name == "scaled_dot":
        return DotProductScore(scaled=True)
    if name == "dot":
        return DotProductScore(scaled=False)
    if name == "bilinear":
        return BilinearScore(n_head, head_dim)
    if name == "additive":
        return AdditiveScore(n_head, head_dim)
    raise ValueError(f"unknown attention score {name!r}; choose one of {', '.join(SCORES)}")


def explicit_attention(queries, keys, values, allowed: torch.Tensor | None = None, dropout: float = 0.0,
                       training: bool = False, score=scaled_dot_product_scores, bias: torch.Tensor | None = None):
    """The formula, step by step. Returns (output (..., Tq, D), weights (..., Tq, Tk))."""
    scores = score(queries, keys)  # (B, H, Tq, Tk)
    if bias is not None:
        scores = scores + bias  # relative positions (Shaw, T5, ALiBi)
    weights = masked_softmax(scores, allowed)  # each row sums to 1 over the keys it may see
    output = F.dropout(weights, p=dropout, training=training) @ values  # (B, H, Tq, D)
    return output, weights


# --- the module --------------------------------------------------------------------------------------
@dataclass
class AttentionConfig:
    """What kind of multi-head attention: the one knob set shared by GPT, BERT and seq2seq."""

    n_embd: int
    n_head: int
    n_kv_head: Optional[int] = None  # key/value heads (grouped-query); 1 = multi-query; None = n_head
    causal: bool = False  # hide the future: decoder self-attention
    cross: bool = False  # keys and values from another sequence (the encoder output)
    fused_qkv: bool = True  # one Linear for Q, K and V (K and V for cross) instead of one each
    score: Literal["scaled_dot", "dot", "bilinear", "additive"] = "scaled_dot"
    path: Literal["explicit", "sdpa"] = "sdpa"  # written-out formula or the fused kernel
    dropout: float = 0.0  # on the attention weights and on the output
    bias: bool = True  # biases in the projections
    orthogonal_init: bool = False  # W_Q, W_K, W_V with orthonormal rows: heads start in orthogonal subspaces
    attention_window: Optional[int] = None  # sliding window W: query i sees keys i - W < j <= i; None = all


class MultiHeadAttention(nn.Module):
    """Multi-head attention: self or cross, causal or not, fused or separate projections, GQA/MQA."""

    def __init__(self, config: AttentionConfig) -> None:
        super().__init__()
        n_kv_head = config.n_kv_head or config.n_head
        if config.n_embd % config.n_head:
            raise ValueError(f"n_embd ({config.n_embd}) must be divisible by n_head ({config.n_head})")
        if config.n_head % n_kv_head:
            raise ValueError(f"n_head ({config.n_head}) must be a multiple of n_kv_head ({n_kv_head})")
        self.config = config
        self.n_head, self.n_kv_head, self.head_dim = config.n_head, n_kv_head, config.n_embd // config.n_head
        self.kv_dim = n_kv_head * self.head_dim  # width of K (and of V): n_embd unless grouped
        C, bias = config.n_embd, config.bias
        if config.cross:  # queries from x, keys and values from the memory
            self.q = nn.Linear(C, C, bias=bias)
            if config.fused_qkv:
                self.kv = nn.Linear(C, 2 * self.kv_dim, bias=bias)
            else:
                self.k, self.v = nn.Linear(C, self.kv_dim, bias=bias), nn.Linear(C, self.kv_dim, bias=bias)
        elif config.fused_qkv:
            self.qkv = nn.Linear(C, C + 2 * self.kv_dim, bias=bias)  # W_Q, W_K, W_V side by side
        else:
            self.q = nn.Linear(C, C, bias=bias)
            self.k, self.v = nn.Linear(C, self.kv_dim, bias=bias), nn.Linear(C, self.kv_dim, bias=bias)
        self.proj = nn.Linear(C, C, bias=bias)  # W_O
        self.residual_dropout = nn.Dropout(config.dropout)
        self.score = score_function(config.score, config.n_head, self.head_dim)
        self.fused_path = config.path == "sdpa" and self.score.fusable  # else: the explicit formula
        self.qkv_sizes = [C, self.kv_dim, self.kv_dim]
        if config.orthogonal_init:
            self.init_orthogonal()

    def projection_weights(self) -> list[torch.Tensor]:
        """W_Q, W_K, W_V as (out, n_embd) views, whatever the layout of the Linear layers."""
        if self.config.cross and self.config.fused_qkv:
            return [self.q.weight, *self.kv.weight.split(self.kv_dim)]
        if self.config.fused_qkv:
            return list(self.qkv.weight.split(self.qkv_sizes))
        return [self.q.weight, self.k.weight, self.v.weight]

    @torch.no_grad()
    def init_orthogonal(self, gain: float = 1.0) -> None:
        """Orthogonal rows of norm `gain` for W_Q, W_K and W_V. The rows of different heads are then
        orthogonal, so the heads start by looking at the input through non-overlapping subspaces."""
        for weight in self.projection_weights():
            nn.init.orthogonal_(weight, gain=gain)

    def split_heads(self, x: torch.Tensor, n_head: int) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, n_head, self.head_dim).transpose(1, 2)  # (B, H, T, D)

    def _memory_projections(self, memory: torch.Tensor, cache: CrossKVCache | None, layer: int):
        """Keys and values of the memory (B, S, C): from the cache after the first decoding step."""
        cached = cache.get(layer) if cache is not None else None
        if cached is not None:
            return cached
        k, v = self.kv(memory).split(self.kv_dim, dim=2) if self.config.fused_qkv else (self.k(memory), self.v(memory))
        k, v = self.split_heads(k, self.n_kv_head), self.split_heads(v, self.n_kv_head)  # (B, Hkv, S, D)
        if cache is not None:
            cache.set(layer, k, v)
        return k, v

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                positional=None, cache: KVCache | CrossKVCache | None = None, layer: int = 0,
                need_weights: bool = False):
        """x (B, T, C) -> (y (B, T, C), weights (B, H, T, T_keys) or None).

        memory: (B, S, C) keys' and values' input for cross-attention. mask: bool, broadcastable
        to (B, H, T, T_keys), True where a query may look (padding; the causal part is added
        here). positional: rotates q and k and/or biases the scores (`lmlab.nn.positional`).
        cache: a KVCache (self-attention: append, then attend to the whole past) or a
        CrossKVCache (cross-attention: memory projected once).
        """
        B, T, C = x.shape
        start = 0  # absolute position of the first query
        if self.config.cross:
            q = self.split_heads(self.q(x), self.n_head)
            k, v = self._memory_projections(memory, cache, layer)
        else:
            q, k, v = self.qkv(x).split(self.qkv_sizes, dim=2) if self.config.fused_qkv else (self.q(x), self.k(x), self.v(x))
            q, k, v = self.split_heads(q, self.n_head), self.split_heads(k, self.n_kv_head), self.split_heads(v, self.n_kv_head)
            if cache is not None:
                start = cache.length
            if positional is not None:
                q, k = positional.rotate(q, start), positional.rotate(k, start)  # RoPE; others: unchanged
            if cache is not None:
                k, v = cache.update(layer, k, v)  # (B, Hkv, T_past + T, D)
        num_keys = k.size(2)
        # relative schemes need only i - j: count positions from the first key (with a rolling cache
        # that is not position 0), so the queries sit at num_keys - T.. (cross-attention: at 0..)
        query_offset = 0 if self.config.cross else num_keys - T
        bias = positional.bias(q, query_offset, num_keys) if positional is not None else None
        dropout = self.config.dropout if self.training else 0.0

        if need_weights or not self.fused_path:
            allowed = combine_masks(mask, self.structural_mask(T, num_keys, x.device))
            groups = self.n_head // self.n_kv_head  # each key/value head serves `groups` query heads
            if groups > 1:
                k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
            y, weights = explicit_attention(q, k, v, allowed, dropout, self.training, self.score, bias)
        else:
            y, weights = self._fused(q, k, v, mask, bias, dropout), None
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # concatenate the heads
        return self.residual_dropout(self.proj(y)), weights

    def structural_mask(self, num_queries: int, num_keys: int, device=None) -> torch.Tensor | None:
        """The mask the configuration itself implies (causal and/or sliding window), or None.
        The queries are the last num_queries of the num_keys positions."""
        window = self.config.attention_window
        if window is not None:
            return sliding_window_mask(num_queries, num_keys, window, self.config.causal, device)
        return causal_mask(num_queries, num_keys, device) if self.config.causal else None

    def _fused(self, q, k, v, mask, bias, dropout):
        """PyTorch's fused kernel, given the cheapest mask that is right."""
        T, num_keys = q.size(2), k.size(2)
        score = self.score
        q, scale, gqa = score.transform_query(q), score.scale, self.n_kv_head != self.n_head
        window = self.config.attention_window
        if mask is None and bias is None and (window is None or num_keys <= window):  # the window hides nothing
            if not self.config.causal or T == 1:  # one new token sees the whole past: no mask at all
                return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, scale=scale, enable_gqa=gqa)
            if num_keys == T:  # no past: the standard lower-triangular mask
                return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True, scale=scale,
                                                      enable_gqa=gqa)
        allowed = combine_masks(mask, self.structural_mask(T, num_keys, q.device))  # a (T, T_keys) tensor
        if bias is not None:  # one float mask: the bias, and -inf where blocked
            bias = bias.to(q.dtype)
            allowed = bias if allowed is None else bias + additive_mask(allowed, q.dtype)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout, scale=scale,
                                              enable_gqa=gqa)


def cross_attention_config(config: AttentionConfig) -> AttentionConfig:
    """The cross-attention that goes with a decoder's self-attention: same heads, not causal, and
    no window (the source is not a stream the decoder slides along)."""
    return replace(config, causal=False, cross=True, attention_window=None)
