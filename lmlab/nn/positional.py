"""Six ways to tell a Transformer where a token is.

Attention alone is blind to order: permute the input tokens and every output is permuted the
same way, nothing else changes. Position has to be put in, and there are three places to do it:

1. **Add a vector to each token embedding** (absolute positions):
   - `sinusoidal` (Vaswani et al., 2017): PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] =
     cos(p / 10000^(2i/C)). Fixed, no parameters, defined for every position; each pair of
     dimensions is a clock at its own frequency, and PE[p + k] is a rotation of PE[p].
   - `learned` (GPT, BERT): one trained vector per position. Flexible, but there is no vector for
     a position beyond the table (block_size): it cannot extrapolate.
2. **Rotate queries and keys** before the dot product:
   - `rope` (Su et al., 2021): dimension pairs of q and k at position p are rotated by angle
     p * theta_i. A rotation by m and one by n leave (R_m q) . (R_n k) = q . R_(n-m) k, so the score
     depends on the positions only through n - m: relative position from absolute rotations.
3. **Add a bias to the attention scores** that depends on the distance j - i:
   - `relative` (Shaw et al., 2018): a learned vector a_(j-i) per clipped distance
     (|j - i| <= `max_distance`), scored against the query: bias = q . a_(j-i) / sqrt(d_k).
     Shaw et al. also add a_(j-i) to the values; their ablation found the key term enough, and
     that is the one kept here.
   - `t5` (Raffel et al., 2020): one learned scalar per head and distance *bucket*; small
     distances get a bucket each, larger ones share logarithmically wider buckets up to
     `max_distance`, beyond which all distances look alike.
   - `alibi` (Press et al., 2022): no parameters, bias = -m_h * |i - j| with one slope m_h per head
     (a geometric sequence 2^(-8/H), 2^(-16/H), ...): a linear penalty on distance, steep for some
     heads (local) and gentle for others (global).

And `none` adds nothing: without a mask the model is then blind to order; with the causal mask
it is not quite, since a query at position t averages over exactly t + 1 keys (Haviv et al., 2022).

Every scheme but `learned` is defined for any position, so those models run on longer sequences
than they were trained on (`extrapolates`); how *well* they do is another matter: trained on 64
characters and run on 512, ALiBi kept its perplexity, sinusoidal and RoPE lost about a quarter
(`lmlab experiment run positions`, docs/lab/positions.md).

Each class answers the same three questions, with "nothing to do" as the default: `embed` (add to
the token embeddings), `rotate` (queries and keys) and `bias` (the scores). Positions are
absolute: queries sit at start, start + 1, ...; keys at 0, 1, ... (with a KV cache, `start` is
the number of cached positions). A bias depends only on j - i, so attention counts positions from
its first key: with a sliding window's rolling cache, that key is not position 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

POSITIONS = ("learned", "sinusoidal", "relative", "t5", "rope", "alibi", "none")


def relative_distances(start: int, num_queries: int, num_keys: int, device=None) -> torch.Tensor:
    """(Tq, Tk) key position minus query position, j - i: negative for keys in the past."""
    queries = torch.arange(start, start + num_queries, device=device)
    return torch.arange(num_keys, device=device)[None, :] - queries[:, None]


class PositionalEncoding(nn.Module):
    """Base: a scheme that does nothing; subclasses override where they act."""

    extrapolates = True  # defined for positions beyond the training context
    in_attention = False  # acts inside attention (rotate or bias), not on the embeddings

    def embed(self, x: torch.Tensor, start: int) -> torch.Tensor:
        """Token embeddings (B, T, C) of positions start.. -> with position added."""
        return x

    def rotate(self, x: torch.Tensor, start: int) -> torch.Tensor:
        """Queries or keys (B, H, T, D) of positions start.. -> rotated."""
        return x

    def bias(self, queries: torch.Tensor, start: int, num_keys: int) -> torch.Tensor | None:
        """Queries (B, H, Tq, D) at start.. against keys at 0..num_keys-1 -> (.., Tq, Tk) bias or None."""
        return None


# --- 1. added to the embeddings -------------------------------------------------------------------
def sinusoidal_table(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """positions (T,) -> (T, dim): sin on even dimensions, cos on odd ones, frequencies 10000^(-2i/dim)."""
    frequencies = torch.pow(10000.0, -torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32) / dim)
    angles = positions.float()[:, None] * frequencies[None, :]  # (T, dim / 2)
    table = torch.empty(len(positions), dim, device=positions.device)
    table[:, 0::2], table[:, 1::2] = torch.sin(angles), torch.cos(angles)
    return table


class SinusoidalPositions(PositionalEncoding):
    def __init__(self, n_embd: int) -> None:
        super().__init__()
        self.n_embd = n_embd

    def embed(self, x, start):
        positions = torch.arange(start, start + x.size(1), device=x.device)
        return x + sinusoidal_table(positions, self.n_embd).to(x.dtype)


class LearnedPositions(PositionalEncoding, nn.Embedding):
    """A trained table of block_size vectors (an nn.Embedding: its weight is `weight`)."""

    extrapolates = False

    def __init__(self, block_size: int, n_embd: int) -> None:
        nn.Embedding.__init__(self, block_size, n_embd)

    def embed(self, x, start):
        return x + nn.Embedding.forward(self, torch.arange(start, start + x.size(1), device=x.device))


# --- 2. rotating queries and keys -----------------------------------------------------------------
class RotaryPositions(PositionalEncoding):
    """RoPE in the "rotate half" layout: dimension i is paired with i + D/2 (GPT-NeoX, LLaMA)."""

    in_attention = True

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RoPE rotates pairs of dimensions: head_dim ({head_dim}) must be even")
        inverse_frequencies = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inverse_frequencies", inverse_frequencies, persistent=False)  # (D/2,)

    def rotate(self, x, start):
        positions = torch.arange(start, start + x.size(-2), device=x.device, dtype=torch.float32)
        angles = positions[:, None] * self.inverse_frequencies[None, :]  # (T, D/2)
        cos, sin = torch.cos(angles).repeat(1, 2).to(x.dtype), torch.sin(angles).repeat(1, 2).to(x.dtype)  # (T, D)
        first, second = x.chunk(2, dim=-1)
        rotated_half = torch.cat([-second, first], dim=-1)  # (x1, x2) -> (-x2, x1) on each pair
        return x * cos + rotated_half * sin


# --- 3. biasing the scores ------------------------------------------------------------------------
class ShawRelativePositions(PositionalEncoding):
    """Learned key vectors a_(j-i) for distances clipped to [-max_distance, max_distance]."""

    in_attention = True

    def __init__(self, head_dim: int, max_distance: int = 16) -> None:
        super().__init__()
        self.max_distance = max_distance
        self.keys = nn.Embedding(2 * max_distance + 1, head_dim)  # a^K, shared by the heads

    def bias(self, queries, start, num_keys):
        distances = relative_distances(start, queries.size(-2), num_keys, queries.device)
        vectors = self.keys(distances.clamp(-self.max_distance, self.max_distance) + self.max_distance)  # (Tq, Tk, D)
        return torch.einsum("bhqd,qkd->bhqk", queries, vectors.to(queries.dtype)) / math.sqrt(queries.size(-1))


def t5_bucket(distances: torch.Tensor, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128) -> torch.Tensor:
    """Map key-minus-query distances to T5's buckets.

    Bidirectional: half of the buckets for keys after the query, half for keys before. Within a
    half, distances 0 .. n/2 - 1 get a bucket each; larger ones share buckets whose width grows
    logarithmically up to `max_distance`; everything further falls into the last bucket. A causal
    model only sees keys in the past and gives all the buckets to them.
    """
    buckets = torch.zeros_like(distances)
    if bidirectional:
        num_buckets //= 2
        buckets += (distances > 0).long() * num_buckets  # keys in the future: the upper half
        distances = distances.abs()
    else:
        distances = (-distances).clamp(min=0)  # how far in the past
    exact = num_buckets // 2
    logarithmic = exact + (torch.log(distances.float().clamp(min=1) / exact) / math.log(max_distance / exact)
                           * (num_buckets - exact)).long()
    logarithmic = logarithmic.clamp(max=num_buckets - 1)
    return buckets + torch.where(distances < exact, distances, logarithmic)


class T5RelativeBias(PositionalEncoding):
    """One learned scalar per head and distance bucket."""

    in_attention = True

    def __init__(self, n_head: int, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128) -> None:
        super().__init__()
        self.bidirectional, self.num_buckets, self.max_distance = bidirectional, num_buckets, max_distance
        self.buckets = nn.Embedding(num_buckets, n_head)

    def bias(self, queries, start, num_keys):
        distances = relative_distances(start, queries.size(-2), num_keys, queries.device)
        buckets = t5_bucket(distances, self.bidirectional, self.num_buckets, self.max_distance)  # (Tq, Tk)
        return self.buckets(buckets).permute(2, 0, 1)  # (H, Tq, Tk)


def alibi_slopes(n_head: int) -> torch.Tensor:
    """The paper's slopes: 2^(-8/n), 2^(-16/n), ... for n a power of two; otherwise those of the
    nearest lower power of two, then every other slope of the next one."""
    def geometric(n: int) -> list[float]:
        return [2 ** (-8 * (h + 1) / n) for h in range(n)]

    lower = 2 ** math.floor(math.log2(n_head))
    slopes = geometric(lower) + geometric(2 * lower)[0::2][: n_head - lower]
    return torch.tensor(slopes)


class ALiBi(PositionalEncoding):
    """bias = -slope_h * |i - j|: the further the key, the lower its score, linearly."""

    in_attention = True

    def __init__(self, n_head: int) -> None:
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(n_head), persistent=False)  # (H,)

    def bias(self, queries, start, num_keys):
        distances = relative_distances(start, queries.size(-2), num_keys, queries.device).abs()
        return -self.slopes[:, None, None] * distances[None].to(self.slopes.dtype)  # (H, Tq, Tk)


def positional_encoding(kind: str, n_embd: int, n_head: int, block_size: int, bidirectional: bool) -> PositionalEncoding:
    """The scheme named `kind` (`POSITIONS`) for a stack of width n_embd with n_head heads.
    `bidirectional`: its attention sees keys on both sides (an encoder), which T5's buckets need."""
    head_dim = n_embd // n_head
    if kind == "learned":
        return LearnedPositions(block_size, n_embd)
    if kind == "sinusoidal":
        return SinusoidalPositions(n_embd)
    if kind == "relative":
        return ShawRelativePositions(head_dim)
    if kind == "t5":
        return T5RelativeBias(n_head, bidirectional)
    if kind == "rope":
        return RotaryPositions(head_dim)
    if kind == "alibi":
        return ALiBi(n_head)
    if kind == "none":
        return PositionalEncoding()
    raise ValueError(f"unknown positional encoding {kind!r}; choose one of {', '.join(POSITIONS)}")
