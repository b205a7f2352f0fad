"""Parallel text for translation: aligned files, encoded pairs, batches of similar lengths.

A translation corpus is two files per split with one sentence per line, line n of one the
translation of line n of the other: ``train.en`` / ``train.de``, ``val.en`` / ``val.de`` (the
layout of Multi30k). A pair is encoded as

    source:  x_1 ... x_m </s>            (the encoder reads it all at once)
    target:  <s> y_1 ... y_n </s>        (decoder input = all but the last, targets = all but the first)

with the tokenizer's end-of-text token as both <s> and </s>, and each side cut to `max_length`.

Batches hold sentences of similar lengths, so that little of a batch is padding: each epoch
shuffles the pairs, sorts them by length within pools of `pool` batches, cuts the pools into
batches and shuffles the batches (the "bucketing" of most translation toolkits). As everywhere
in lmlab the batches are a pure function of the step (seeded by seed and epoch), so a resumed
run sees exactly the batches it would have seen; padding is -1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lmlab.data.batching import bucketed_batches
from lmlab.errors import UserError
from lmlab.nn.masks import PAD

Pair = tuple[list[int], list[int]]  # (source ids, target ids with <s> and </s>)


def read_parallel(folder: str | Path, split: str, source: str, target: str) -> list[tuple[str, str]]:
    """The aligned (source, target) sentences of ``folder/split.source`` and ``folder/split.target``;
    pairs with an empty side are dropped."""
    paths = [Path(folder) / f"{split}.{language}" for language in (source, target)]
    for path in paths:
        if not path.is_file():
            raise UserError(f"{path} not found: --data DIR must hold {split}.{source} and {split}.{target}, "
                            f"aligned, one sentence per line")
    sources, targets = (path.read_text(encoding="utf-8").splitlines() for path in paths)
    if len(sources) != len(targets):
        raise UserError(f"{paths[0]} has {len(sources)} lines but {paths[1]} has {len(targets)}: "
                        f"the two sides must be aligned line by line")
    pairs = [(s.strip(), t.strip()) for s, t in zip(sources, targets) if s.strip() and t.strip()]
    if not pairs:
        raise UserError(f"{paths[0]} and {paths[1]} hold no sentence pairs")
    return pairs


def encode_pairs(source_tokenizer, target_tokenizer, pairs: list[tuple[str, str]], max_length: int) -> list[Pair]:
    """Token ids of each pair: ``x </s>`` and ``<s> y </s>``, each side at most max_length (+1) long."""
    source_eos, target_eos = source_tokenizer.eot_id, target_tokenizer.eot_id
    encoded = []
    for source, target in pairs:
        source_ids = source_tokenizer.encode(source)[:max_length - 1] + [source_eos]
        target_ids = [target_eos] + target_tokenizer.encode(target)[:max_length - 1] + [target_eos]
        encoded.append((source_ids, target_ids))
    return encoded


def collate(pairs: list[Pair]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad to the longest of the batch: (source (B, S), decoder input (B, T), targets (B, T))."""
    source = torch.full((len(pairs), max(len(s) for s, _ in pairs)), PAD)
    target = torch.full((len(pairs), max(len(t) for _, t in pairs)), PAD)
    for i, (source_ids, target_ids) in enumerate(pairs):
        source[i, :len(source_ids)] = torch.tensor(source_ids)
        target[i, :len(target_ids)] = torch.tensor(target_ids)
    targets = target[:, 1:].clone()
    decoder_input = target[:, :-1].masked_fill(targets == PAD, PAD)  # the last </s> is never an input
    return source, decoder_input, targets


class PairBatches:
    """Training batches of `batch_size` pairs (the global batch of one optimizer step)."""

    def __init__(self, pairs: list[Pair], batch_size: int, seed: int, pool: int = 50) -> None:
        if len(pairs) < batch_size:
            raise UserError(f"{len(pairs)} sentence pairs are fewer than one batch of {batch_size}: "
                            f"use more data or a smaller --set batch_size")
        self.pairs, self.batch_size, self.seed, self.pool = pairs, batch_size, seed, pool
        self.steps_per_epoch = len(pairs) // batch_size  # the last partial batch is dropped
        self.lengths = np.array([len(s) + len(t) for s, t in pairs])
        self._epoch, self._batches = -1, []

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The batches (arrays of pair indices) of one epoch, in the order they are used."""
        if epoch != self._epoch:
            self._batches = bucketed_batches(self.lengths, self.batch_size, self.seed, epoch, self.pool)
            self._epoch = epoch
        return self._batches

    def step_batches(self, step: int, grad_accum: int = 1, rank: int = 0, world_size: int = 1) -> list:
        """Optimizer step `step`: this rank's share of the global batch, in `grad_accum` micro-batches."""
        epoch, index = divmod(step, self.steps_per_epoch)
        share = self.epoch_batches(epoch)[index][rank::world_size]
        return [collate([self.pairs[i] for i in micro]) for micro in np.array_split(share, grad_accum)]


def in_order(pairs: list[Pair], batch_size: int) -> list:
    """Every pair once, in order, in batches (evaluation)."""
    return [collate(pairs[start:start + batch_size]) for start in range(0, len(pairs), batch_size)]
