"""The Transformer block: attention and MLP sublayers, each inside a normalised residual connection.

A block is two or three *sublayers* (self-attention; cross-attention in an encoder-decoder's
decoder; the MLP), each wrapped the same way. Two ways to place the normalisation:

    post-norm (Vaswani et al., 2017):   x = Norm(x + Sublayer(x))
    pre-norm  (GPT-2, most models now): x = x + Sublayer(Norm(x))

The residual path x + ... lets gradients reach the first layers undiminished and makes each
block learn a *correction* to its input. Pre-norm keeps that path free of any normalisation, so
deep stacks train without learning-rate warmup tricks (Xiong et al., 2020); post-norm normalises
the sum, which keeps the stream's scale fixed but needs warmup, and its final output is already
normalised. A pre-norm stack therefore ends with one more norm (see the models).

`residual=False` drops the x + ... (pre: x = Sublayer(Norm(x)); post: x = Norm(Sublayer(x))): a
plain deep network, there only to measure what the residual path does.

The residual does not leak the future: it adds position t's own input to position t's output,
and every sublayer output at t already saw only what its mask allowed.
"""

from __future__ import annotations

import torch.nn as nn

from lmlab.nn.attention import AttentionConfig, MultiHeadAttention, cross_attention_config
from lmlab.nn.mlp import MLP, mlp_hidden
from lmlab.nn.norm import make_norm


class TransformerBlock(nn.Module):
    """Self-attention, optional cross-attention, MLP; pre- or post-norm residual sublayers."""

    def __init__(self, attention: AttentionConfig, cross: bool = False, norm: str = "layernorm",
                 pre_norm: bool = True, activation: str = "gelu", norm_eps: float | None = None,
                 residual: bool = True) -> None:
        super().__init__()
        C, bias = attention.n_embd, attention.bias
        self.pre_norm, self.residual = pre_norm, residual
        self.ln_1 = make_norm(norm, C, bias, norm_eps)
        self.attn = MultiHeadAttention(attention)
        self.ln_2 = make_norm(norm, C, bias, norm_eps)
        self.mlp = MLP(C, mlp_hidden(C, activation), attention.dropout, bias, activation)
        self.ln_cross = make_norm(norm, C, bias, norm_eps) if cross else None
        self.cross_attn = MultiHeadAttention(cross_attention_config(attention)) if cross else None

    def forward(self, x, mask=None, positional=None, cache=None, layer: int = 0, memory=None,
                memory_mask=None, cross_cache=None, need_weights: bool = False):
        """x (B, T, C) -> (x (B, T, C), {"self": weights or None, "cross": weights or None}).

        mask / positional / cache go to the self-attention; memory (B, S, C), memory_mask
        (B, 1, 1, S) and cross_cache to the cross-attention (decoder blocks only). Each sublayer:
        pre-norm x + f(Norm(x)), post-norm Norm(x + f(x)).
        """
        pre = self.pre_norm
        attended, self_weights = self.attn(self.ln_1(x) if pre else x, mask=mask, positional=positional, cache=cache,
                                           layer=layer, need_weights=need_weights)
        x = self._join(x, attended, self.ln_1)
        cross_weights = None
        if self.cross_attn is not None:
            attended, cross_weights = self.cross_attn(self.ln_cross(x) if pre else x, memory, mask=memory_mask,
                                                      cache=cross_cache, layer=layer, need_weights=need_weights)
            x = self._join(x, attended, self.ln_cross)
        x = self._join(x, self.mlp(self.ln_2(x) if pre else x), self.ln_2)
        return x, {"self": self_weights, "cross": cross_weights}

    def _join(self, x, sublayer_output, norm):
        """The residual sum (or the sublayer's output alone), normalised after it in post-norm."""
        joined = x + sublayer_output if self.residual else sublayer_output
        return joined if self.pre_norm else norm(joined)
