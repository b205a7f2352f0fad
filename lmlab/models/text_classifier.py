"""What the word-level sentence classifiers share (lexicon, bag of words, TextCNN, BiLSTM).

They all read one sentence as word ids ``(B, T)`` from lmlab's word tokenizer, padded with -1
(`lmlab.nn.masks.PAD`), and follow the classifier contract of `lmlab.recipes.classifier_families`:
``model(ids, segments, labels) -> (logits (B, n_labels), cross-entropy or None)``. Segments are
accepted and ignored: a single sentence has one segment.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.models.base import ModelBase


class TextClassifier(ModelBase, nn.Module):
    """Base: the loss and the padding mask (the vocabulary check and the parameter count: `ModelBase`)."""

    trained_by_gradients = True  # False: fitted by its own rule (lexicon threshold, perceptron updates)

    @staticmethod
    def split_padding(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T) with -1 padding -> (ids with padding at 0, mask (B, T): True on real words)."""
        mask = ids >= 0
        return ids.clamp(min=0), mask

    @staticmethod
    def loss(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
        return F.cross_entropy(logits.float(), labels) if labels is not None else None
