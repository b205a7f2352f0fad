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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.errors import UserError
from lmlab.models.base import check_vocab_size
from lmlab.nn.attention import CausalSelfAttention
from lmlab.nn.kv_cache import KVCache
from lmlab.nn.mlp import MLP


@dataclass
class GPTConfig:
    """Shape of a GPT. `vocab_size` comes from the tokenizer; the rest from a preset or --set."""

    vocab_size: int = 0
    block_size: int = 256  # context length: the most positions the model can see
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    dropout: float = 0.0
    bias: bool = True  # biases in Linear layers and LayerNorms (GPT-2: True)
    attention: Literal["explicit", "sdpa"] = "sdpa"  # written-out formula or the fused kernel
    tie_weights: bool = True  # share the token embedding with the output projection

    def validate(self) -> None:
        if self.block_size < 1:
            raise UserError("block_size must be >= 1")
        if self.n_embd % self.n_head:
            raise UserError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0 <= self.dropout < 1:
            raise UserError("dropout must be in [0, 1)")


class Block(nn.Module):
    """One pre-LayerNorm Transformer decoder block."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout, config.bias,
                                        path=config.attention)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config.n_embd, 4 * config.n_embd, config.dropout, config.bias)

    def forward(self, x, cache=None, layer=0, need_weights=False):
        attended, weights = self.attn(self.ln_1(x), cache, layer, need_weights)
        x = x + attended
        x = x + self.mlp(self.ln_2(x))
        return x, weights


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.vocab_size <= 0:
            raise UserError("GPTConfig.vocab_size must be set (it comes from the tokenizer)")
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = nn.Embedding(config.block_size, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.token_embedding.weight
        self.apply(self._init_weights)
        residual_std = 0.02 / math.sqrt(2 * config.n_layer)
        for name, parameter in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                nn.init.normal_(parameter, mean=0.0, std=residual_std)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self, include_embeddings: bool = True) -> int:
        """Trainable parameters, counted once when tied; without the token and position tables."""
        total = sum(p.numel() for p in self.parameters())
        if not include_embeddings:
            total -= self.token_embedding.weight.numel() + self.position_embedding.weight.numel()
        return total

    def check_tokenizer(self, tokenizer) -> None:
        """Refuse a tokenizer whose vocabulary does not match the embedding table."""
        check_vocab_size(tokenizer, self.config.vocab_size)

    def new_cache(self, batch_size: int, max_length: int | None = None) -> KVCache:
        weight = self.token_embedding.weight
        return KVCache(self.config.n_layer, batch_size, self.config.n_head,
                       self.config.n_embd // self.config.n_head, max_length or self.config.block_size,
                       device=weight.device, dtype=weight.dtype)

    def _transform(self, ids: torch.Tensor, cache: KVCache | None, need_weights: bool):
        """Embeddings and blocks: ids (B, T) -> (final hidden states (B, T, C), attention maps)."""
        B, T = ids.shape
        past = cache.length if cache is not None else 0
        if past + T > self.config.block_size:
            raise ValueError(f"sequence of {past + T} tokens exceeds block_size {self.config.block_size}")
        positions = torch.arange(past, past + T, device=ids.device)  # (T,)
        x = self.dropout(self.token_embedding(ids) + self.position_embedding(positions))  # (B, T, C)
        attention_maps = []
        for layer, block in enumerate(self.blocks):
            x, weights = block(x, cache, layer, need_weights)
            attention_maps.append(weights)
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
