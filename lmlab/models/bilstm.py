"""A bidirectional LSTM sentence classifier, built from lmlab's own LSTM (`lmlab.nn.rnn`).

    words (B, T) -> embeddings (B, T, D)
      -> LSTM left to right            h_fwd (B, T, H)   (word t sees words 1..t)
      -> LSTM right to left            h_bwd (B, T, H)   (word t sees words t..end)
      -> [h_fwd ; h_bwd] (B, T, 2H)    every word in the context of the whole sentence
      -> pooling over the words        (B, 2H)   max (default), mean, or the two final states
      -> dropout -> linear -> logits (B, n_labels)

Bidirectional recurrent networks are Schuster & Paliwal (1997); with LSTMs, Graves & Schmidhuber
(2005). Padding is handled exactly: each sentence is reversed *within its own length* before
the backward LSTM reads it, so neither direction ever reads a padding position before a word,
and pooling skips the padding. A sentence's logits therefore do not depend on its batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import torch
import torch.nn as nn

from lmlab.config import AT_LEAST_ONE, Config, FRACTION, Range
from lmlab.models.text_classifier import TextClassifier
from lmlab.nn.rnn import Recurrent


@dataclass
class BiLSTMConfig(Config):
    """A one-layer bidirectional LSTM over word vectors, pooled."""

    vocab_size: int = 0  # word tokenizer entries (set from the tokenizer)
    n_labels: Annotated[int, Range(2)] = 2
    n_embd: Annotated[int, AT_LEAST_ONE] = 128  # word vector size (from the vectors when --init gives word2vec vectors)
    n_hidden: Annotated[int, AT_LEAST_ONE] = 128  # LSTM units per direction
    pooling: Literal["max", "mean", "last"] = "max"
    dropout: Annotated[float, FRACTION] = 0.5  # on the word vectors and on the pooled vector


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """x (B, T, ...) -> each row's first `length` positions reversed, the padding left in place."""
    T = x.size(1)
    position = torch.arange(T, device=x.device)[None, :]  # (1, T)
    source = torch.where(position < lengths[:, None], lengths[:, None] - 1 - position, position)  # (B, T)
    return x.gather(1, source.view(*source.shape, *([1] * (x.dim() - 2))).expand_as(x))


class BiLSTM(TextClassifier):
    embedding_tables = ("embedding",)

    def __init__(self, config: BiLSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.forward_lstm = Recurrent("lstm", config.n_embd, config.n_hidden)
        self.backward_lstm = Recurrent("lstm", config.n_embd, config.n_hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(2 * config.n_hidden, config.n_labels)

    def forward(self, ids, segments=None, labels=None):
        ids, mask = self.split_padding(ids)  # (B, T)
        lengths = mask.sum(1).clamp(min=1)  # (B,)
        x = self.dropout(self.embedding(ids))  # (B, T, D)
        h_fwd, _ = self.forward_lstm(x)  # (B, T, H)
        h_bwd, _ = self.backward_lstm(reverse_within_length(x, lengths))
        h_bwd = reverse_within_length(h_bwd, lengths)  # (B, T, H) back in reading order
        h = torch.cat([h_fwd, h_bwd], dim=-1)  # (B, T, 2H)
        keep = mask.unsqueeze(-1)  # (B, T, 1)
        if self.config.pooling == "max":
            pooled = h.masked_fill(~keep, float("-inf")).max(dim=1).values
            pooled = torch.where(torch.isfinite(pooled), pooled, torch.zeros_like(pooled))  # empty sentences
        elif self.config.pooling == "mean":
            pooled = (h * keep).sum(1) / lengths[:, None]
        else:  # the forward LSTM after the last word, the backward one after the first
            last = h_fwd.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, h_fwd.size(-1))).squeeze(1)
            pooled = torch.cat([last, h_bwd[:, 0]], dim=-1)
        logits = self.classifier(self.dropout(pooled))  # (B, n_labels)
        return logits, self.loss(logits, labels)
