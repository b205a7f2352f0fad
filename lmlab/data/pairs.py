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
in lmlab the batches are a pure function of the step (seeded by seed and epoch) and follow the
protocol of `lmlab.data.batching`, so a resumed run sees exactly the batches it would have seen;
padding is PAD (-1).
"""

from __future__ import annotations

from pathlib import Path

from lmlab.constants import PAD
from lmlab.data.batching import Batch, EpochSampler, pad_collate
from lmlab.errors import UserError
from lmlab.io import read_text

Pair = tuple[list[int], list[int]]  # (source ids, target ids with <s> and </s>)


def read_parallel(folder: str | Path, split: str, source: str, target: str) -> list[tuple[str, str]]:
    """The aligned (source, target) sentences of ``folder/split.source`` and ``folder/split.target``;
    pairs with an empty side are dropped."""
    paths = [Path(folder) / f"{split}.{language}" for language in (source, target)]
    for path in paths:
        if not path.is_file():
            raise UserError(f"{path} not found: --data DIR must hold {split}.{source} and {split}.{target}, "
                            f"aligned, one sentence per line")
    sources, targets = (read_text(path).splitlines() for path in paths)
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


def collate(pairs: list[Pair]) -> Batch:
    """Pad to the longest of the batch: (source (B, S), decoder input (B, T), targets (B, T))."""
    source, target = pad_collate(pairs, padded=(0, 1))  # (B, S), (B, T + 1)
    targets = target[:, 1:].clone()
    decoder_input = target[:, :-1].masked_fill(targets == PAD, PAD)  # the last </s> is never an input
    return source, decoder_input, targets


class PairBatches(EpochSampler):
    """Translation's `BatchSampler`: epochs of length-bucketed global batches of `global_batch` =
    batch_size * grad_accum * world_size pairs (`lmlab.data.batching`)."""

    def __init__(self, pairs: list[Pair], global_batch: int, seed: int, pool: int = 50) -> None:
        super().__init__(pairs, [len(s) + len(t) for s, t in pairs], global_batch, seed, collate, pool,
                         what="sentence pairs")
