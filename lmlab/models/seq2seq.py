"""The encoder-decoder Transformer (Vaswani et al., 2017), for translation.

    source ids (B, S) ─► embed + positions ─► N x [self-attention (padding mask) ; MLP] ─► memory (B, S, C)
    target ids (B, T) ─► embed + positions ─► N x [causal self-attention ; cross-attention to memory ; MLP]
                      ─► x @ target_embedding^T ─► logits (B, T, V_target)

The **encoder** reads the whole source at once: its self-attention is bidirectional (every
source token sees every other), and a padding mask hides the padding of shorter sentences. The
**decoder** is a language model over the target with one more sublayer: *cross-attention*,
whose queries come from the decoder and whose keys and values come from the encoder output.
That is where the two sides meet: each target position asks "which source words matter now?".

**Teacher forcing with the shifted-right target.** The decoder is trained on every position at
once: its input is the reference target shifted right by one, behind a start token,

    decoder input:  <s>  Ein  Hund  läuft
    targets:        Ein  Hund läuft  </s>

and its causal mask keeps position t from seeing the token it must predict. lmlab uses the
tokenizer's end-of-text token for both <s> and </s> (as GPT-2 does), and pads token tensors with
-1 (`lmlab.nn.masks.PAD`): never a real id, masked out of the encoder's attention, ignored by
the loss.

**Label smoothing** (Szegedy et al., 2016; used by the original Transformer with eps = 0.1): the
training target puts 1 - eps on the reference token and spreads eps over the vocabulary, so the
model is not pushed towards infinite confidence. It is a training regulariser only: in eval mode
the loss is the plain cross-entropy, whose exponential is the perplexity.

**Vocabularies.** With one shared vocabulary (`share_embeddings`), the source embedding, the
target embedding and the output projection are one matrix (three-way tying, as the paper); with
separate vocabularies the two sides have their own tables and only the target's is tied.

**Decoding** keeps two caches per decoder layer (`Seq2SeqCache`): the usual KV cache of the
decoder's self-attention, and the cross-attention's keys and values of the encoder output,
projected once at the first step. `ConditionedDecoder` wraps a model and an encoded source
into a language model over the target, so greedy, sampling and beam search run on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.config import FRACTION, Range
from lmlab.errors import UserError
from lmlab.models.base import ModelBase
from lmlab.models.transformer import TransformerConfig, attention_positions, embed, init_weights
from lmlab.nn.kv_cache import CrossKVCache, KVCache
from lmlab.nn.masks import PAD, padding_mask


@dataclass
class Seq2SeqConfig(TransformerConfig):
    """An encoder-decoder Transformer. The defaults are the original's parts (post-norm, ReLU,
    sinusoidal positions, scaled embeddings, label smoothing 0.1) at a small size."""

    n_layer: int = 3  # encoder layers, and as many decoder layers
    n_head: int = 4
    n_embd: int = 256
    dropout: float = 0.1
    pos: Literal["learned", "sinusoidal", "relative", "t5", "rope", "alibi"] = "sinusoidal"
    norm_position: Literal["pre", "post"] = "post"
    activation: Literal["gelu", "relu", "swiglu"] = "relu"
    scale_embeddings: bool = True
    src_vocab_size: int = 0  # from the source tokenizer
    tgt_vocab_size: int = 0  # from the target tokenizer (the same one when the vocabulary is shared)
    block_size: Annotated[int, Range(2)] = 128  # longest source or target sequence, special token included
    share_embeddings: bool = True  # one table for source, target and output (needs a shared vocabulary)
    tie_weights: bool = True  # the output projection is the target embedding
    label_smoothing: Annotated[float, FRACTION] = 0.1

    def check_relations(self) -> None:
        super().check_relations()
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise UserError(f"share_embeddings needs one vocabulary, but the source has {self.src_vocab_size} "
                            f"tokens and the target {self.tgt_vocab_size}: --set share_embeddings=false")


class Seq2SeqCache:
    """Decoding state: the decoder's self-attention KV cache, the cross-attention keys/values,
    and the encoder output they come from (with its padding mask)."""

    def __init__(self, self_attention: KVCache, cross: CrossKVCache, memory: torch.Tensor,
                 memory_mask: torch.Tensor) -> None:
        self.self_attention, self.cross = self_attention, cross
        self.memory, self.memory_mask = memory, memory_mask  # (N, S, C), (N, 1, 1, S)

    @property
    def length(self) -> int:
        return self.self_attention.length

    @property
    def max_length(self) -> int:
        return self.self_attention.max_length

    def reset(self) -> None:
        self.self_attention.reset()  # the memory's keys and values stay valid

    def reorder(self, rows: torch.Tensor) -> None:
        self.self_attention.reorder(rows)
        self.cross.reorder(rows)
        self.memory, self.memory_mask = self.memory[rows], self.memory_mask[rows]


class Seq2Seq(ModelBase, nn.Module):
    vocab_field = "tgt_vocab_size"  # `check_tokenizer` checks the target side: the one that is generated
    embedding_tables = ("source_embedding", "target_embedding", "encoder_positions", "decoder_positions")

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        if min(config.src_vocab_size, config.tgt_vocab_size) <= 0:
            raise UserError("Seq2SeqConfig.src_vocab_size and tgt_vocab_size must be set (from the tokenizers)")
        config.validate()
        self.config = config
        C = config.n_embd
        self.source_embedding = nn.Embedding(config.src_vocab_size, C)
        self.target_embedding = (self.source_embedding if config.share_embeddings
                                 else nn.Embedding(config.tgt_vocab_size, C))
        self.encoder_positions = config.positions(config.block_size, bidirectional=True)
        self.decoder_positions = config.positions(config.block_size, bidirectional=False)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = nn.ModuleList(config.block(causal=False) for _ in range(config.n_layer))
        self.decoder = nn.ModuleList(config.block(causal=True, cross=True) for _ in range(config.n_layer))
        self.encoder_norm, self.decoder_norm = config.final_norm(), config.final_norm()
        self.lm_head = nn.Linear(C, config.tgt_vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.target_embedding.weight
        scaled = {self.source_embedding, self.target_embedding} if config.scale_embeddings else set()
        init_weights(self, config.n_layer, tuple(scaled))

    def check_tokenizers(self, source_tokenizer, target_tokenizer) -> None:
        """Refuse a source or target tokenizer whose vocabulary does not match its side's table."""
        self.check_tokenizer(source_tokenizer, "src_vocab_size")
        self.check_tokenizer(target_tokenizer)

    def _check_length(self, length: int, side: str) -> None:
        if length > self.config.block_size and not self.encoder_positions.extrapolates:
            raise ValueError(f"{side} of {length} tokens exceeds block_size {self.config.block_size}")

    def encode(self, source: torch.Tensor, need_weights: bool = False):
        """source (B, S), padded with -1 -> (memory (B, S, C), mask (B, 1, 1, S), per-layer attention maps)."""
        self._check_length(source.size(1), "source")
        mask = padding_mask(source)
        x = self.dropout(embed(self.source_embedding, self.encoder_positions, source.clamp(min=0), 0,
                               self.config.scale_embeddings))  # (B, S, C)
        positional = attention_positions(self.encoder_positions)
        maps = []
        for layer, block in enumerate(self.encoder):
            x, weights = block(x, mask=mask, positional=positional, layer=layer, need_weights=need_weights)
            maps.append(weights["self"])
        return self.encoder_norm(x), mask, maps

    def decode(self, target: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor,
               cache: Seq2SeqCache | None = None, need_weights: bool = False):
        """target (B, T) decoder input -> (logits (B, T, V), per-layer {"self", "cross"} maps). With
        `cache`, `target` continues the cached prefix and the cache is advanced in place."""
        self_cache = cache.self_attention if cache is not None else None
        cross_cache = cache.cross if cache is not None else None
        start = self_cache.length if self_cache is not None else 0
        self._check_length(start + target.size(1), "target")
        x = self.dropout(embed(self.target_embedding, self.decoder_positions, target.clamp(min=0), start,
                               self.config.scale_embeddings))  # (B, T, C)
        positional = attention_positions(self.decoder_positions)
        maps = []
        for layer, block in enumerate(self.decoder):
            x, weights = block(x, positional=positional, cache=self_cache, layer=layer, memory=memory,
                               memory_mask=memory_mask, cross_cache=cross_cache, need_weights=need_weights)
            maps.append(weights)
        if self_cache is not None:
            self_cache.advance()
        return self.lm_head(self.decoder_norm(x)), maps

    def forward(self, source: torch.Tensor, target_input: torch.Tensor, targets: torch.Tensor | None = None):
        """Teacher forcing: (source (B, S), shifted-right target (B, T), targets (B, T)) ->
        (logits (B, T, V), loss or None). Padding (-1) is masked in the source, ignored in targets."""
        memory, memory_mask, _ = self.encode(source)
        logits, _ = self.decode(target_input, memory, memory_mask)
        loss = None
        if targets is not None:
            smoothing = self.config.label_smoothing if self.training else 0.0
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=PAD,
                                   label_smoothing=smoothing)
        return logits, loss

    @torch.no_grad()
    def attention_weights(self, source: torch.Tensor, target_input: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Per layer, the weights (B, H, queries, keys) of the encoder's self-attention, the
        decoder's self-attention and its cross-attention (target queries over source keys)."""
        memory, memory_mask, encoder_maps = self.encode(source, need_weights=True)
        _, decoder_maps = self.decode(target_input, memory, memory_mask, need_weights=True)
        return {"encoder": encoder_maps, "decoder": [m["self"] for m in decoder_maps],
                "cross": [m["cross"] for m in decoder_maps]}

    def conditioned_on(self, source: torch.Tensor) -> "ConditionedDecoder":
        """The decoder given `source` (B, S): a language model over the target (see below)."""
        return ConditionedDecoder(self, source)


class ConditionedDecoder:
    """A seq2seq model with its source fixed is a language model over the target.

    It follows the language-model decoding contract (`new_cache(batch_size)`, then
    `model(ids, cache=cache) -> (logits, None)`), so `lmlab.generate.sampling.generate` and
    `lmlab.generate.beam.beam_search` translate with it as they continue text with a GPT. The
    source is encoded once; a cache for N = B x k rows gives each source k rows (beams).
    """

    def __init__(self, model: Seq2Seq, source: torch.Tensor) -> None:
        self.model = model
        self.memory, self.memory_mask, _ = model.encode(source)

    def new_cache(self, batch_size: int, max_length: int | None = None) -> Seq2SeqCache:
        config, sources = self.model.config, self.memory.size(0)
        if batch_size % sources:
            raise ValueError(f"a cache of {batch_size} rows cannot hold {sources} sources equally")
        rows = batch_size // sources
        self_attention = KVCache(config.n_layer, batch_size, config.n_kv_head or config.n_head, config.head_dim,
                                 max_length or config.block_size, device=self.memory.device, dtype=self.memory.dtype,
                                 window=config.attention_window)
        return Seq2SeqCache(self_attention, CrossKVCache(config.n_layer), self.memory.repeat_interleave(rows, 0),
                            self.memory_mask.repeat_interleave(rows, 0))

    def __call__(self, ids: torch.Tensor, targets=None, cache: Seq2SeqCache | None = None):
        if cache is None:  # the whole target at once, one row per source
            logits, _ = self.model.decode(ids, self.memory, self.memory_mask)
        else:
            logits, _ = self.model.decode(ids, cache.memory, cache.memory_mask, cache)
        return logits, None
