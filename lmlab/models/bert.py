"""BERT: a bidirectional Transformer encoder and its three heads (Devlin et al., 2019).

Read top to bottom, the encoder is

    x = LayerNorm(token_emb(ids) + position_emb(0..T-1) + segment_emb(segments))   # (B, T, C)
    for each block:  x = LayerNorm(x + attention(x, padding mask))                  # post-norm,
                     x = LayerNorm(x + mlp(x))                                      # as the paper
    pooled = tanh(W_pool x[:, 0])                                                   # [CLS], (B, C)
                                        (or the mean of the real tokens: pooling="mean")

Attention is *not* causal: every token sees the whole sentence on both sides, and only padding is
hidden. That is why BERT cannot be trained to predict the next token (each position would see
it); it is trained instead on

- **masked language modelling** (`BertForPreTraining`, MLM): predict the tokens hidden by the
  80/10/10 rule of `lmlab.data.mlm` from both sides of their context. The MLM head is
  dense -> GELU -> LayerNorm, then the output projection *tied* to the token embeddings, plus a
  per-token bias;
- **next-sentence prediction** (NSP): from the pooled [CLS] vector, is segment B the sentence
  that followed segment A, or one drawn from another document?

and then fine-tuned with one linear layer on the pooled vector (`BertForSequenceClassification`).

Batches are padded with -1 (`lmlab.nn.masks.PAD`): the padding mask is computed from the ids, so
no separate attention mask travels with the batch. The blocks are lmlab's one
`TransformerBlock`; BERT's own numerics are two of its config keys: ``norm_eps=1e-12`` and
``activation=gelu_exact``, the erf GELU rather than GPT-2's tanh approximation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.config import AT_LEAST_ONE, Range
from lmlab.errors import UserError
from lmlab.models.base import ModelBase
from lmlab.models.transformer import TransformerConfig, attention_positions, embed, init_weights
from lmlab.nn.masks import PAD, padding_mask
from lmlab.nn.mlp import activation_module
from lmlab.nn.norm import make_norm


@dataclass
class BertConfig(TransformerConfig):
    """Shape of a BERT. `vocab_size` comes from the tokenizer; defaults are a 6-layer MiniLM."""

    n_head: int = 12
    dropout: float = 0.1
    norm_position: Literal["pre", "post"] = "post"  # the paper's; "pre" is the more stable variant
    vocab_size: int = 0
    max_position: Annotated[int, AT_LEAST_ONE] = 512  # learned position table: the longest input
    type_vocab_size: Annotated[int, AT_LEAST_ONE] = 2  # segments A and B
    norm_eps: float | None = 1e-12  # BERT's LayerNorm epsilon
    activation: Literal["gelu", "gelu_exact", "relu", "swiglu"] = "gelu_exact"  # BERT's erf GELU
    n_labels: Annotated[int, Range(2)] = 2  # classes of the sequence-classification head
    pooling: Literal["cls", "mean"] = "cls"  # the sentence vector: tanh(W_pool [CLS]) or the mean of the tokens



class Bert(nn.Module):
    """The encoder: ids (B, T) and segments (B, T) -> hidden states (B, T, C) and pooled (B, C)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        if config.vocab_size <= 0:
            raise UserError("BertConfig.vocab_size must be set (it comes from the tokenizer)")
        config.validate()
        self.config = config
        C = config.n_embd
        self.token_embedding = nn.Embedding(config.vocab_size, C)
        self.position_embedding = config.positions(config.max_position, bidirectional=True)
        self.segment_embedding = nn.Embedding(config.type_vocab_size, C)
        self.ln_embed = make_norm("layernorm", C, config.bias, config.norm_eps)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(config.block(causal=False) for _ in range(config.n_layer))
        self.ln_f = config.final_norm()
        self.pooler = nn.Linear(C, C)  # kept with pooling="mean" too, so every checkpoint loads the same way

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None):
        """ids (B, T) padded with -1, segments (B, T) or None (all A) -> (hidden (B, T, C), pooled (B, C))."""
        B, T = ids.shape
        if T > self.config.max_position and not self.position_embedding.extrapolates:
            raise ValueError(f"sequence of {T} tokens exceeds max_position {self.config.max_position}")
        mask = padding_mask(ids)  # (B, 1, 1, T): no query looks at padding
        tokens = ids.clamp(min=0)  # padding reads row 0 of the table; the mask hides it
        segments = torch.zeros_like(tokens) if segments is None else segments.clamp(min=0)
        x = embed(self.token_embedding, self.position_embedding, tokens, 0, self.config.scale_embeddings)
        x = self.dropout(self.ln_embed(x + self.segment_embedding(segments)))  # (B, T, C)
        positional = attention_positions(self.position_embedding)
        for block in self.blocks:
            x, _ = block(x, mask=mask, positional=positional)
        x = self.ln_f(x)
        if self.config.pooling == "mean":
            pooled = mean_over_tokens(x, ids >= 0)  # (B, C)
        else:
            pooled = torch.tanh(self.pooler(x[:, 0]))  # the [CLS] position, (B, C)
        return x, pooled


def mean_over_tokens(hidden: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """hidden (B, T, C), real (B, T) True on tokens, False on padding -> (B, C): the mean of the
    real tokens' vectors, the sentence vector of sentence-transformers (Reimers and Gurevych, 2019)."""
    weights = real.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class BertModelBase(ModelBase, nn.Module):
    """What the heads share: the encoder under `bert`, initialisation, numerics, vocabulary check."""

    embedding_tables = ("bert.token_embedding",)

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.bert = Bert(config)

    def finish(self) -> None:
        """BERT's initialisation, GPT-2's too: N(0, 0.02), zero biases, unit LayerNorm gains."""
        init_weights(self, self.config.n_layer)


class BertForPreTraining(BertModelBase):
    """Encoder + MLM head (tied to the token embeddings) + NSP head."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        C = config.n_embd
        self.mlm_transform = nn.Sequential(nn.Linear(C, C), activation_module(config.activation),
                                           make_norm("layernorm", C, config.bias, config.norm_eps))
        self.mlm_bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.nsp_head = nn.Linear(C, 2)
        self.finish()

    def forward(self, ids, segments=None, mlm_targets=None, nsp_labels=None):
        """-> ((mlm logits (B, T, V), nsp logits (B, 2)), loss or None).

        mlm_targets (B, T): the original token where one was masked, -1 elsewhere. nsp_labels (B,):
        1 = B follows A, 0 = B is random. The loss is the sum of the two cross-entropies."""
        hidden, pooled = self.bert(ids, segments)
        mlm_logits = self.mlm_transform(hidden) @ self.bert.token_embedding.weight.T + self.mlm_bias  # (B, T, V)
        nsp_logits = self.nsp_head(pooled)  # (B, 2)
        loss = None
        if mlm_targets is not None and nsp_labels is not None:
            loss = (F.cross_entropy(mlm_logits.flatten(0, 1).float(), mlm_targets.flatten(), ignore_index=PAD)
                    + F.cross_entropy(nsp_logits.float(), nsp_labels))
        return (mlm_logits, nsp_logits), loss


class BertForSequenceClassification(BertModelBase):
    """Encoder + dropout + one linear layer on the pooled [CLS] vector."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.classifier_dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.n_embd, config.n_labels)
        self.finish()

    def forward(self, ids, segments=None, labels=None):
        """ids (B, T), segments (B, T), labels (B,) -> (logits (B, n_labels), cross-entropy or None)."""
        _, pooled = self.bert(ids, segments)
        logits = self.classifier(self.classifier_dropout(pooled))
        loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
        return logits, loss
