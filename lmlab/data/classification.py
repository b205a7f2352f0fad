"""Sentence classification data: GLUE-style TSV files and dynamically padded batches.

A GLUE folder (SST-2, CoLA, ...) holds ``train.tsv`` and ``dev.tsv``, each with a header line
``sentence<TAB>label`` (a ``sentence2`` column makes it a sentence-pair task). Batches are padded
*dynamically*: to the longest sentence of the batch, not to a fixed length, which on SST-2
(about 13 tokens on average) makes a batch several times cheaper than padding to 128. Padding
is PAD (-1) in ids and segments, as everywhere in lmlab; the batches of a training step follow
the protocol of `lmlab.data.batching`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from lmlab.data.batching import Batch, EpochSampler, pad_collate
from lmlab.errors import UserError
from lmlab.io import read_text


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
    rows = list(csv.reader(io.StringIO(read_text(path), newline=""), delimiter="\t", quoting=csv.QUOTE_NONE))
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


def collate(rows: list) -> Batch:
    """Pad to the longest row: ids (B, T), segments (B, T), labels (B,)."""
    return pad_collate(rows, padded=(0, 1))


class EpochBatches(EpochSampler):
    """Classification's `BatchSampler`: epochs of length-bucketed global batches of
    `global_batch` = batch_size * grad_accum * world_size rows (`lmlab.data.batching`), a pure
    function of the step, so a resumed run sees exactly the batches it would have seen."""

    def __init__(self, rows: list, global_batch: int, seed: int) -> None:
        super().__init__(rows, [len(ids) for ids, _, _ in rows], global_batch, seed, collate,
                         what="training examples")
