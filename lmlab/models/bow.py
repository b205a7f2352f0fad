"""Bag of words and bigrams: a linear classifier, trained by the perceptron or as logistic regression.

A sentence becomes the counts of its words and of its bigrams (pairs of neighbouring words seen
at least `min_count` times in training); word order is otherwise forgotten. A class c scores

    s_c(x) = w_c . x + b_c        x: feature counts (F,), W: (n_labels, F)

and the prediction is the best-scoring class. Two ways to learn W:

- **The perceptron** (Rosenblatt, 1958), mistake-driven, no gradients: visit the examples one
  at a time; when the prediction y^ differs from the true label y,

        w_y  <- w_y  + x        (pull the true class towards the sentence)
        w_y^ <- w_y^ - x        (push the wrong one away)

  and leave W alone when it is right. With two classes this is the textbook rule
  w <- w + y x for y in {-1, +1}. The *averaged* perceptron (Freund & Schapire, 1999; Collins,
  2002) predicts with the mean of W over all steps, which generalises much better (`perceptron_fit`).
- **Logistic regression**: softmax(s(x)) trained on cross-entropy by gradient descent, through
  lmlab's Trainer like the neural classifiers - the stronger variant, as it also learns from
  examples it already gets right but with low confidence.

Features are gathered, not multiplied: w_c . x is the sum of W[c, f] over the sentence's
feature ids f, so a batch costs (B, T) lookups however large the vocabulary. The bigram table
is a sorted tensor of keys ``first * V + second``, saved with the weights.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Literal

import torch
import torch.nn as nn

from lmlab.config import AT_LEAST_ONE, Config, Range
from lmlab.models.text_classifier import TextClassifier


@dataclass
class BowConfig(Config):
    """Bag of n-grams and how it is trained."""

    vocab_size: int = 0  # word tokenizer entries (set from the tokenizer)
    n_labels: Annotated[int, Range(2)] = 2
    n_bigrams: int = 0  # bigram features (set from the training data)
    bigrams: bool = True  # add bigram features to the words
    min_count: Annotated[int, AT_LEAST_ONE] = 2  # keep bigrams seen at least this often in training
    algorithm: Literal["logistic", "perceptron"] = "logistic"
    averaged: bool = True  # perceptron: predict with the average of the weights over all steps


def count_bigrams(rows: list[list[int]], vocab_size: int, min_count: int) -> torch.Tensor:
    """Sorted keys ``a * V + b`` of the bigrams seen at least `min_count` times: (K,) int64."""
    counts = Counter()
    for ids in rows:
        counts.update(a * vocab_size + b for a, b in zip(ids, ids[1:]))
    return torch.tensor(sorted(k for k, c in counts.items() if c >= min_count), dtype=torch.long)


class BowClassifier(TextClassifier):
    """A linear model over word and bigram counts: weight (n_labels, V + K), bias (n_labels,)."""

    def __init__(self, config: BowConfig) -> None:
        super().__init__()
        self.config = config
        self.trained_by_gradients = config.algorithm == "logistic"
        self.n_features = config.vocab_size + config.n_bigrams
        self.weight = nn.Parameter(torch.zeros(config.n_labels, self.n_features))  # W: (C, F)
        self.bias = nn.Parameter(torch.zeros(config.n_labels))  # b: (C,)
        self.register_buffer("bigram_keys", torch.zeros(config.n_bigrams, dtype=torch.long))  # (K,) sorted

    def features(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T) -> feature ids (B, L) and their mask (B, L): words, then bigrams in the table."""
        V, K = self.config.vocab_size, self.config.n_bigrams
        ids, mask = self.split_padding(ids)
        if K == 0 or ids.size(1) < 2:
            return ids, mask
        keys = ids[:, :-1] * V + ids[:, 1:]  # (B, T-1) each neighbouring pair as one number
        slot = torch.searchsorted(self.bigram_keys, keys).clamp(max=K - 1)  # where it would be in the table
        known = (self.bigram_keys[slot] == keys) & mask[:, :-1] & mask[:, 1:]
        return torch.cat([ids, V + slot], 1), torch.cat([mask, known], 1)  # (B, 2T-1)

    def forward(self, ids, segments=None, labels=None):
        features, mask = self.features(ids)  # (B, L)
        logits = (self.weight[:, features] * mask).sum(-1).T + self.bias  # (C, B, L) -> (B, C)
        return logits, self.loss(logits, labels)

    def feature_name(self, index: int, id_to_token) -> str:
        V = self.config.vocab_size
        if index < V:
            return id_to_token(index)
        first, second = divmod(int(self.bigram_keys[index - V]), V)
        return f"{id_to_token(first)} {id_to_token(second)}"

    def top_features(self, id_to_token, k: int = 10) -> dict[str, list[tuple[str, float]]]:
        """The k features pulling hardest towards class 1 and towards class 0 (w_1 - w_0)."""
        direction = (self.weight[1] - self.weight[0]).detach()  # (F,)
        order = direction.argsort()
        pick = lambda indices: [(self.feature_name(int(i), id_to_token), round(direction[i].item(), 4))  # noqa: E731
                                for i in indices]
        return {"positive": pick(order.flip(0)[:k]), "negative": pick(order[:k])}


@torch.no_grad()
def perceptron_step(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: int,
                    U: torch.Tensor | None = None, u: torch.Tensor | None = None, c: int = 1) -> bool:
    """One example: predict; on a mistake, w_y += x, w_y^ -= x (and the same on the bias). True on a mistake.

    W (C, F) and b (C,) change in place; x holds the sentence's feature ids (a repeated word
    counts twice). U and u, when given, accumulate c times each update for averaging.
    """
    predicted = int((W[:, x].sum(1) + b).argmax())  # ties go to the lower label
    if predicted == y:
        return False
    ones = torch.ones(len(x))
    for target, sign in ((y, 1.0), (predicted, -1.0)):
        W[target].index_add_(0, x, sign * ones)  # w_y += x ; w_y^ -= x
        b[target] += sign
        if U is not None:
            U[target].index_add_(0, x, sign * c * ones)
            u[target] += sign * c
    return True


@torch.no_grad()
def perceptron_fit(model: BowClassifier, rows: list[tuple[list[int], list[int], int]], epochs: int,
                   seed: int = 0, max_examples: int | None = None) -> dict:
    """Rosenblatt's mistake-driven updates over shuffled (ids, segments, label) rows, written out.

    Averaging uses the running-sum trick: with c counting examples seen and U accumulating
    c * update, the average of W over all steps is W - U / c, so nothing is summed per step.
    """
    W, b = model.weight.data, model.bias.data  # (C, F), (C,)
    U, u = torch.zeros_like(W), torch.zeros_like(b)  # c-weighted sums of the updates
    features = []  # per example: its feature ids (L,)
    for ids, _, _ in rows:
        index, mask = model.features(torch.tensor([ids]))
        features.append(index[mask])
    generator = torch.Generator().manual_seed(seed)
    c, mistakes, seen = 1, [], 0
    for _ in range(epochs):
        wrong = 0
        for i in torch.randperm(len(rows), generator=generator).tolist():
            if max_examples is not None and seen >= max_examples:
                break
            x, y = features[i], rows[i][2]  # x: the sentence's feature ids (repeats count twice)
            wrong += perceptron_step(W, b, x, y, U, u, c)
            c, seen = c + 1, seen + 1
        mistakes.append(wrong)
    if model.config.averaged:
        W -= U / c
        b -= u / c
    return {"mistakes_per_epoch": mistakes, "examples_seen": seen}
