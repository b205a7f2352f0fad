"""Kim's CNN for sentence classification (Kim, 2014): convolutions over word vectors, max over time.

    words (B, T) -> embeddings (B, T, D)
      -> for each width w in `widths`: n_filters filters of shape (w, D) slid along the sentence,
         ReLU, then the maximum over all positions (one number per filter: "is this w-gram
         pattern anywhere in the sentence?")          (B, n_filters) per width
      -> concatenated (B, n_filters * len(widths)) -> dropout -> linear -> logits (B, n_labels)

Each filter is an n-gram detector over word vectors; max-over-time pooling keeps its strongest
match wherever it occurs, so sentences of any length give one fixed-size vector. Kim used
widths 3, 4, 5 with 100 maps each, dropout 0.5, and word2vec vectors fine-tuned in training
("CNN-non-static"); `--init RUN` starts the table from an lmlab word2vec run.

The convolution is *wide* (Kalchbrenner et al., 2014): w - 1 zero vectors on both sides, so a
sentence shorter than the filter still has windows, and the positions made only of batch
padding are masked out of the max, so a sentence's logits do not depend on its batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.config import AT_LEAST_ONE, Config, FRACTION, Range
from lmlab.errors import UserError
from lmlab.models.text_classifier import TextClassifier


@dataclass
class TextCNNConfig(Config):
    """Kim (2014)'s sentence CNN."""

    vocab_size: int = 0  # word tokenizer entries (set from the tokenizer)
    n_labels: Annotated[int, Range(2)] = 2
    n_embd: Annotated[int, AT_LEAST_ONE] = 128  # word vector size (from the vectors when --init gives word2vec vectors)
    widths: str = "3,4,5"  # filter widths in words, comma-separated
    n_filters: Annotated[int, AT_LEAST_ONE] = 100  # feature maps per width
    dropout: Annotated[float, FRACTION] = 0.5  # on the pooled features (Kim: 0.5)

    def check_relations(self) -> None:
        parse_widths(self.widths)


def parse_widths(text: str) -> list[int]:
    try:
        widths = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise UserError(f"TextCNNConfig.widths {text!r}: give filter widths like 3,4,5")
    return widths


class TextCNN(TextClassifier):
    embedding_tables = ("embedding",)

    def __init__(self, config: TextCNNConfig) -> None:
        super().__init__()
        self.config = config
        self.widths = parse_widths(config.widths)
        self.embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.convs = nn.ModuleList(nn.Conv1d(config.n_embd, config.n_filters, w, padding=w - 1) for w in self.widths)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.n_filters * len(self.widths), config.n_labels)

    def forward(self, ids, segments=None, labels=None):
        ids, mask = self.split_padding(ids)  # (B, T)
        lengths = mask.sum(1)  # (B,)
        x = (self.embedding(ids) * mask.unsqueeze(-1)).transpose(1, 2)  # (B, D, T) padding is zero vectors
        pooled = []
        for width, conv in zip(self.widths, self.convs):
            maps = F.relu(conv(x))  # (B, n_filters, T + w - 1)
            position = torch.arange(maps.size(-1), device=ids.device)
            valid = position[None, :] < (lengths + width - 1)[:, None]  # (B, T + w - 1) touches a word
            maps = maps.masked_fill(~valid.unsqueeze(1), float("-inf"))
            pooled.append(maps.max(dim=-1).values)  # (B, n_filters) max over time
        features = self.dropout(torch.cat(pooled, dim=-1))  # (B, n_filters * len(widths))
        logits = self.classifier(features)  # (B, n_labels)
        return logits, self.loss(logits, labels)
