"""Sentence classification data: GLUE-style TSV files and dynamically padded batches.

A GLUE folder (SST-2, CoLA, ...) holds ``train.tsv`` and ``dev.tsv``, each with a header line
``sentence<TAB>label`` (a ``sentence2`` column makes it a sentence-pair task). Batches are padded
*dynamically*: to the longest sentence of the batch, not to a fixed length, which on SST-2
(about 13 tokens on average) makes a batch several times cheaper than padding to 128. Padding
is -1 in ids and segments, as everywhere in lmlab.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lmlab.data.batching import bucketed_batches
from lmlab.errors import UserError
from lmlab.nn.masks import PAD


@dataclass
class Example:
    text: str
    label: int
    text_b: str | None = None


def read_tsv(path: str | Path) -> list[Example]:
    """A GLUE TSV with a header naming ``sentence`` (and ``sentence2``) and ``label``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: give a GLUE folder with train.tsv and dev.tsv (sentence<TAB>label)")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = rows[0] if rows else []
    if "sentence" not in header or "label" not in header:
        raise UserError(f"{path}: the header must name the columns 'sentence' and 'label' (got {header[:4]})")
    text, label, second = header.index("sentence"), header.index("label"), (
        header.index("sentence2") if "sentence2" in header else None)
    examples = []
    for number, row in enumerate(rows[1:], start=2):
        try:
            examples.append(Example(row[text].strip(), int(row[label]),
                                    row[second].strip() if second is not None else None))
        except (IndexError, ValueError):
            raise UserError(f"{path}:{number}: expected sentence<TAB>label with an integer label") from None
    if not examples:
        raise UserError(f"{path} has no examples")
    return examples


def encode_examples(tokenizer, examples: list[Example], max_length: int) -> list[tuple[list[int], list[int], int]]:
    """(ids, segments, label) per example: ``[CLS] a [SEP] (b [SEP])``, cut to max_length (keeping the last [SEP])."""
    encoded = []
    for example in examples:
        ids, segments = tokenizer.encode_pair(example.text, example.text_b)
        if len(ids) > max_length:
            ids, segments = ids[:max_length - 1] + ids[-1:], segments[:max_length]
        encoded.append((ids, segments, example.label))
    return encoded


def encode_words(tokenizer, examples: list[Example], max_length: int) -> list[tuple[list[int], list[int], int]]:
    """(ids, segments, label) for the word-level classifiers: the lowercased words, no [CLS]/[SEP],
    one segment (a sentence pair is read as one text); an empty sentence becomes one unknown word."""
    unknown = tokenizer.token_id(tokenizer.unk_token)
    encoded = []
    for example in examples:
        text = example.text if example.text_b is None else f"{example.text} {example.text_b}"
        ids = tokenizer.encode(text.lower())[:max_length] or [unknown]
        encoded.append((ids, [0] * len(ids), example.label))
    return encoded


def collate(rows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad to the longest row: ids (B, T), segments (B, T), labels (B,)."""
    length = max(len(ids) for ids, _, _ in rows)
    ids = torch.full((len(rows), length), PAD)
    segments = torch.full((len(rows), length), PAD)
    for i, (row_ids, row_segments, _) in enumerate(rows):
        ids[i, :len(row_ids)] = torch.tensor(row_ids)
        segments[i, :len(row_segments)] = torch.tensor(row_segments)
    return ids, segments, torch.tensor([label for _, _, label in rows])


class EpochBatches:
    """Shuffled, length-bucketed batches (`lmlab.data.batching`), a pure function of the step, so
    a resumed run sees exactly the batches it would have seen."""

    def __init__(self, rows: list, batch_size: int, seed: int) -> None:
        self.rows, self.batch_size, self.seed = rows, batch_size, seed
        self.steps_per_epoch = max(len(rows) // batch_size, 1)  # the last partial batch is dropped
        self.lengths = np.array([len(ids) for ids, _, _ in rows])
        self._epoch, self._batches = -1, []

    def batch(self, step: int):
        epoch, index = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._batches = bucketed_batches(self.lengths, min(self.batch_size, len(self.rows)), self.seed, epoch)
            self._epoch = epoch
        return collate([self.rows[i] for i in self._batches[index]])


def in_order(rows: list, batch_size: int):
    """Every row once, in order (evaluation)."""
    return [collate(rows[start:start + batch_size]) for start in range(0, len(rows), batch_size)]
