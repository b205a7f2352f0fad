"""The parts every lmlab Transformer is assembled from, chosen by config.

GPT (decoder only), the encoder-decoder of `lmlab.models.seq2seq` and BERT (encoder only) differ
in how they stack blocks and what they predict; the blocks themselves are the same
`lmlab.nn.block.TransformerBlock`, and `TransformerConfig` is the one set of keys that chooses
their parts, so ``--set pos=rope`` or ``--set norm=rmsnorm`` means the same thing for each:

    attention   explicit | sdpa                  the written-out formula or the fused kernel
    score       scaled_dot | dot | bilinear | additive
    n_kv_head   None (= n_head) | k              grouped-query attention; 1 = multi-query
    attention_window  None (all) | W             sliding window: a query sees the last W positions
    fused_qkv   one Q/K/V projection or three
    orthogonal_init                              orthogonal per-head W_Q, W_K, W_V rows, as long as N(0, 0.02) rows
    pos         learned | sinusoidal | relative | t5 | rope | alibi | none
    norm        layernorm | rmsnorm | batchnorm | none
    norm_eps    None (the norm's default) | e.g. 1e-12 (BERT)
    norm_position  pre | post
    residual    True | False (no skip connections: what the residual path is for)
    activation  gelu (tanh approximation) | gelu_exact (erf, BERT) | relu | swiglu
    scale_embeddings                             token embeddings x sqrt(n_embd), as the original

`init_weights` is GPT-2's initialisation, shared: N(0, 0.02) for every matrix and embedding,
zero biases, and the projections that write into the residual stream scaled by
1/sqrt(2 * number of residual layers), so the stream's variance does not grow with depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal, Optional

import torch.nn as nn

from lmlab.config import AT_LEAST_ONE, Config, FRACTION, POSITIVE
from lmlab.errors import UserError
from lmlab.nn.attention import AttentionConfig, MultiHeadAttention
from lmlab.nn.block import TransformerBlock
from lmlab.nn.norm import make_norm
from lmlab.nn.positional import positional_encoding

RESIDUAL_PROJECTIONS = ("attn.proj.weight", "mlp.down.weight")  # cross_attn.proj.weight ends the same way


@dataclass
class TransformerConfig(Config):
    """The shape of the stack and its interchangeable parts (see the module docstring)."""

    n_layer: Annotated[int, AT_LEAST_ONE] = 6
    n_head: Annotated[int, AT_LEAST_ONE] = 6
    n_embd: Annotated[int, AT_LEAST_ONE] = 384
    dropout: Annotated[float, FRACTION] = 0.0
    bias: bool = True  # biases in Linear layers and norms (GPT-2: True)
    attention: Literal["explicit", "sdpa"] = "sdpa"  # written-out formula or the fused kernel
    score: Literal["scaled_dot", "dot", "bilinear", "additive"] = "scaled_dot"  # how a query scores a key
    n_kv_head: Optional[Annotated[int, AT_LEAST_ONE]] = None  # key/value heads: None = n_head, fewer = grouped-query, 1 = multi-query
    fused_qkv: bool = True  # one Linear for Q, K and V
    orthogonal_init: bool = False  # orthogonal rows (at the default init's size) for the per-head W_Q, W_K, W_V
    attention_window: Optional[Annotated[int, AT_LEAST_ONE]] = None  # sliding window: query i sees keys i-W < j <= i; None = all
    pos: Literal["learned", "sinusoidal", "relative", "t5", "rope", "alibi", "none"] = "learned"  # where tokens are
    norm: Literal["layernorm", "rmsnorm", "batchnorm", "none"] = "layernorm"
    norm_eps: Optional[Annotated[float, POSITIVE]] = None  # the epsilon under the square root; None: the norm's default
    norm_position: Literal["pre", "post"] = "pre"  # Norm inside the residual (pre) or after the sum (post)
    residual: bool = True  # x + Sublayer(x); False drops the skip connection (to measure what it does)
    activation: Literal["gelu", "gelu_exact", "relu", "swiglu"] = "gelu"  # of the MLP
    scale_embeddings: bool = False  # multiply token embeddings by sqrt(n_embd) (Vaswani et al.)

    def check_relations(self) -> None:
        if self.n_embd % self.n_head:
            raise UserError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.n_head % (self.n_kv_head or self.n_head):
            raise UserError(f"n_kv_head ({self.n_kv_head}) must divide n_head ({self.n_head})")
        if self.pos == "sinusoidal" and self.n_embd % 2:
            raise UserError(f"pos=sinusoidal pairs sin and cos: n_embd ({self.n_embd}) must be even")
        if self.pos == "rope" and (self.n_embd // self.n_head) % 2:
            raise UserError(f"pos=rope rotates pairs: the head size n_embd / n_head ({self.n_embd // self.n_head}) "
                            f"must be even")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def attention_config(self, causal: bool) -> AttentionConfig:
        return AttentionConfig(self.n_embd, self.n_head, self.n_kv_head, causal=causal, fused_qkv=self.fused_qkv,
                               score=self.score, path=self.attention, dropout=self.dropout, bias=self.bias,
                               orthogonal_init=self.orthogonal_init, attention_window=self.attention_window)

    def block(self, causal: bool, cross: bool = False) -> TransformerBlock:
        return TransformerBlock(self.attention_config(causal), cross=cross, norm=self.norm,
                                pre_norm=self.norm_position == "pre", activation=self.activation,
                                norm_eps=self.norm_eps, residual=self.residual)

    def final_norm(self) -> nn.Module:
        """The norm after the last block: pre-norm leaves the stream unnormalised; post-norm's
        output already is normalised, so it gets none."""
        if self.norm_position == "post":
            return nn.Identity()
        return make_norm(self.norm, self.n_embd, self.bias, self.norm_eps)

    def positions(self, block_size: int, bidirectional: bool):
        return positional_encoding(self.pos, self.n_embd, self.n_head, block_size, bidirectional)


def embed(table: nn.Embedding, positions, ids, start: int, scale: bool):
    """Token embeddings (x sqrt(C) when `scale`) with absolute positions added: ids (B, T) -> (B, T, C)."""
    x = table(ids)
    if scale:
        x = x * math.sqrt(x.size(-1))
    return positions.embed(x, start)


def attention_positions(positions):
    """What the attention layers get: the scheme when it acts inside attention, else None."""
    return positions if positions.in_attention else None


def init_weights(model: nn.Module, residual_layers: int, scaled_tables: tuple[nn.Embedding, ...] = ()) -> None:
    """GPT-2's initialisation (module docstring); orthogonal W_Q, W_K, W_V where configured.

    `scaled_tables`: token embeddings that the forward pass multiplies by sqrt(n_embd). They start
    at N(0, 1/n_embd), as in the original Transformer: as the output projection (tied), their
    logits start near 1 in size; as inputs, times sqrt(n_embd), they have unit variance, the size
    of the sinusoidal position vectors they are added to. (At 0.02 a token would be a whisper
    next to its position and training stalls.)
    """
    def normal(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    model.apply(normal)
    residual_std = 0.02 / math.sqrt(2 * residual_layers)
    for name, parameter in model.named_parameters():
        if name.endswith(RESIDUAL_PROJECTIONS):
            nn.init.normal_(parameter, mean=0.0, std=residual_std)
    for table in scaled_tables:
        nn.init.normal_(table.weight, mean=0.0, std=table.embedding_dim**-0.5)
    for module in model.modules():  # orthogonal rows of the size N(0, 0.02^2) rows have: only the directions change
        if isinstance(module, MultiHeadAttention) and module.config.orthogonal_init:
            module.init_orthogonal(gain=0.02 * math.sqrt(module.config.n_embd))
