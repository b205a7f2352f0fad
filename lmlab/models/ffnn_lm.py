"""The feed-forward neural language model of Bengio, Ducharme, Vincent and Jauvin (2003).

The first neural language model: predict the next word from the previous n - 1 words, like an
n-gram model, but through learned word vectors instead of counts, so that similar words share
statistical strength:

    x = [C(w_{t-n+2}); ...; C(w_{t-1}); C(w_t)]     # concatenated embeddings, (context * n_embd,)
    h = tanh(d + H x)                                # the hidden layer, (n_hidden,)
    y = b + W x + U h                                # logits over the vocabulary; W x are the
                                                     # optional "direct connections"
    P(w_{t+1} | context) = softmax(y)

One forward pass scores every position of a window at once: the windows of `context` tokens
ending at each position are gathered with `unfold`. Positions near the start of a text have fewer
real predecessors; the missing ones are a padding token (id = vocab_size) with its own embedding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.config import AT_LEAST_ONE, Config, FRACTION
from lmlab.models.base import NeuralLM, require_vocab_size
from lmlab.nn.history import TokenHistory


@dataclass
class FFNNLMConfig(Config):
    """Shape of a Bengio feed-forward language model."""

    vocab_size: int = 0
    context: Annotated[int, AT_LEAST_ONE] = 8  # tokens each prediction sees: the current one and context - 1
    # before it (n - 1)
    block_size: Annotated[int, AT_LEAST_ONE] = 128  # positions per training window (each is one prediction)
    n_embd: Annotated[int, AT_LEAST_ONE] = 64  # word-vector size m
    n_hidden: Annotated[int, AT_LEAST_ONE] = 512  # hidden units h
    direct: bool = True  # direct connections from the embeddings to the output (W x)
    dropout: Annotated[float, FRACTION] = 0.0


class FFNNLM(NeuralLM):
    def __init__(self, config: FFNNLMConfig) -> None:
        super().__init__()
        require_vocab_size(config)
        self.config = config
        self.pad_id = config.vocab_size  # "before the text": one extra row of the table
        self.embedding = nn.Embedding(config.vocab_size + 1, config.n_embd)
        features = config.context * config.n_embd
        self.hidden = nn.Linear(features, config.n_hidden)  # H, d
        self.output = nn.Linear(config.n_hidden, config.vocab_size)  # U, b
        self.direct = nn.Linear(features, config.vocab_size, bias=False) if config.direct else None  # W
        self.dropout = nn.Dropout(config.dropout)

    def new_cache(self, batch_size: int, max_length: int | None = None) -> TokenHistory:
        return TokenHistory(batch_size, self.config.context - 1, self.embedding.weight.device)

    def forward(self, ids: torch.Tensor, targets: torch.Tensor | None = None, cache: TokenHistory | None = None):
        """ids (B, T) -> (logits (B, T, V), loss or None); `cache` holds the tokens before `ids`."""
        B, T = ids.shape
        past = cache.push(ids) if cache is not None else ids[:, :0]
        padding = ids.new_full((B, self.config.context - 1 - past.size(1)), self.pad_id)
        sequence = torch.cat([padding, past, ids], dim=1)  # (B, context - 1 + T)
        windows = sequence.unfold(1, self.config.context, 1)  # (B, T, context): the tokens up to t
        x = self.embedding(windows).flatten(2)  # (B, T, context * n_embd)
        h = self.dropout(torch.tanh(self.hidden(x)))  # (B, T, n_hidden)
        logits = self.output(h)  # (B, T, V)
        if self.direct is not None:
            logits = logits + self.direct(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-1)
        return logits, loss
