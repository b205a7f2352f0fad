"""GPT: a decoder-only Transformer language model (Radford et al., 2018/2019).

Read top to bottom, the forward pass is

    x = token_embedding(ids) + position_embedding(positions)      # (B, T, C)
    for each block:  x = x + attention(LayerNorm(x))               # pre-norm residual
                     x = x + mlp(LayerNorm(x))
    logits = LayerNorm(x) @ token_embedding.weight^T                # weight tying, (B, T, V)

The attention is causal, so the logits at position t depend only on tokens 0..t and one forward
pass trains on every next-token prediction of the window at once. Initialisation follows GPT-2:
N(0, 0.02) everywhere, and the projections that write into the residual stream scaled by
1/sqrt(2 * n_layer) so the stream's variance does not grow with depth.

That is the default, GPT-2's recipe. Every part is a config key shared with the other
Transformers (`lmlab.models.transformer`): ``pos`` (learned, sinusoidal, relative, t5, rope,
alibi), ``norm``, ``norm_position``, ``activation``, ``score``, ``n_kv_head``... With a position
scheme that extrapolates (all but ``learned``), the model runs on more than block_size tokens, and
with a sliding window (``attention_window``) as well, generation runs on with a cache that
never grows past the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.config import AT_LEAST_ONE
from lmlab.errors import UserError
from lmlab.models.base import ModelBase
from lmlab.models.transformer import TransformerConfig, attention_positions, embed, init_weights
from lmlab.nn.kv_cache import KVCache


@dataclass
class GPTConfig(TransformerConfig):
    """Shape of a GPT. `vocab_size` comes from the tokenizer; the rest from a preset or --set."""

    vocab_size: int = 0
    block_size: Annotated[int, AT_LEAST_ONE] = 256  # context length: the most positions the model is trained on
    tie_weights: bool = True  # share the token embedding with the output projection



class GPT(ModelBase, nn.Module):
    embedding_tables = ("token_embedding", "position_embedding")

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.vocab_size <= 0:
            raise UserError("GPTConfig.vocab_size must be set (it comes from the tokenizer)")
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = config.positions(config.block_size, bidirectional=False)  # how positions enter
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(config.block(causal=True) for _ in range(config.n_layer))
        self.ln_f = config.final_norm()
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.token_embedding.weight
        init_weights(self, config.n_layer, (self.token_embedding,) if config.scale_embeddings else ())

    def new_cache(self, batch_size: int, max_length: int | None = None) -> KVCache:
        """A KV cache of block_size positions (or `max_length`). With a sliding window it keeps only
        the last W - 1, and if the positions extrapolate it never fills (max_length None)."""
        weight, config = self.token_embedding.weight, self.config
        window = config.attention_window
        if max_length is None and not (window is not None and self.position_embedding.extrapolates):
            max_length = config.block_size
        return KVCache(config.n_layer, batch_size, config.n_kv_head or config.n_head, config.head_dim,
                       max_length, device=weight.device, dtype=weight.dtype, window=window)

    def _transform(self, ids: torch.Tensor, cache: KVCache | None, need_weights: bool):
        """Embeddings and blocks: ids (B, T) -> (final hidden states (B, T, C), attention maps)."""
        B, T = ids.shape
        past = cache.length if cache is not None else 0
        if past + T > self.config.block_size and not self.position_embedding.extrapolates:
            raise ValueError(f"sequence of {past + T} tokens exceeds block_size {self.config.block_size}")
        x = self.dropout(embed(self.token_embedding, self.position_embedding, ids, past,
                               self.config.scale_embeddings))  # (B, T, C)
        positional = attention_positions(self.position_embedding)
        attention_maps = []
        for layer, block in enumerate(self.blocks):
            x, weights = block(x, positional=positional, cache=cache, layer=layer, need_weights=need_weights)
            attention_maps.append(weights["self"])
        if cache is not None:
            cache.advance()
        return self.ln_f(x), attention_maps

    def forward(self, ids: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None):
        """ids (B, T) -> (logits (B, T, V), loss or None). With `cache`, `ids` continue the cached
        prefix and the cache is advanced in place. Targets of -1 are ignored in the loss."""
        hidden, _ = self._transform(ids, cache, need_weights=False)
        logits = self.lm_head(hidden)  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-1)
        return logits, loss

    @torch.no_grad()
    def attention_weights(self, ids: torch.Tensor) -> list[torch.Tensor]:
        """Per layer, the softmax weights (B, H, T, T) of every head: what each token looked at."""
        _, maps = self._transform(ids, cache=None, need_weights=True)
        return maps
