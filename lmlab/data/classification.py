"""Sentence classification data: labelled files in the formats people have, and padded batches.

A data folder holds a training file and a dev file, in any of three formats (the first found):

    train.tsv, dev.tsv        GLUE's layout (SST-2, CoLA, ...): a header line, tab-separated, no quoting
    train.csv, dev.csv        CSV (RFC 4180: quoted fields may hold commas, quotes and newlines)
    train.jsonl, dev.jsonl    JSON Lines: one object per line

The text is in the column (or field) ``text`` and the label in ``label``; ``--set text_column=NAME``
and ``--set label_column=NAME`` name others. A GLUE file's ``sentence`` column is read when there is
no ``text`` (and ``sentence2`` makes it a sentence-pair task). Labels are integers, kept as the class
ids, or names (``positive``, ``negative``), numbered in sorted order; the names are saved with the
run so that `lmlab classify predict` prints them. A bad row is refused naming its file and line
(`lmlab.data.text_formats` parses the files).

Batches are padded *dynamically*: to the longest sentence of the batch, not to a fixed length, which
on SST-2 (about 13 tokens on average) makes a batch several times cheaper than padding to 128.
Padding is PAD (-1) in ids and segments, as everywhere in lmlab; the batches of a training step
follow the protocol of `lmlab.data.batching`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from lmlab.data.batching import Batch, EpochSampler, pad_collate
from lmlab.data.text_formats import column, parse_jsonl, parse_table, text_format, texts
from lmlab.errors import UserError
from lmlab.io import read_text

FORMATS = (".tsv", ".csv", ".jsonl")  # a data folder's train.* and dev.*, looked for in this order


@dataclass
class Example:
    text: str
    label: int
    text_b: str | None = None


@dataclass
class LabelledRow:
    """One row of a labelled file, its label as written (a JSON number as its digits)."""

    line: int
    text: str
    label: str
    text_b: str | None = None


NAMED = ("zh-reviews",)  # labelled corpora lmlab fetches itself (`lmlab.data.chinese`)


def labelled_data(spec: str) -> Path:
    """The folder or file `--data` names; a named labelled corpus (``zh-reviews``) that is not a local
    path is fetched into the cache the first time and its GLUE folder returned."""
    if spec in NAMED and not Path(spec).exists():
        from lmlab.data.corpora import download_corpus

        return download_corpus(spec)
    return Path(spec)


def split_file(folder: Path, split: str) -> Path:
    """FOLDER/SPLIT.tsv, .csv or .jsonl: the first that exists."""
    for suffix in FORMATS:
        if (Path(folder) / f"{split}{suffix}").is_file():
            return Path(folder) / f"{split}{suffix}"
    raise UserError(f"{Path(folder) / split}.tsv not found (nor {split}.csv, {split}.jsonl): give a folder with "
                    f"train and dev files: GLUE's train.tsv and dev.tsv (sentence<TAB>label), or train.csv and "
                    f"dev.csv, or train.jsonl and dev.jsonl (text and label)")


def read_labelled(path: str | Path, text_column: str = "text", label_column: str = "label") -> list[LabelledRow]:
    """The rows of a CSV, JSON Lines or TSV file (any other suffix is read as TSV, GLUE's format)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: give a CSV, TSV or JSON Lines file with a text and a label column")
    kind = text_format(path)
    if kind == ".jsonl":
        header, rows = None, parse_jsonl(read_text(path), path)
    else:
        header, rows = parse_table(read_text(path), path, tsv=kind != ".csv")
    if not rows:
        raise UserError(f"{path} has no examples")
    names = header if header is not None else list(rows[0][1])
    second = None
    if text_column == "text" and "text" not in names and "sentence" in names:  # GLUE's columns
        text_column, second = "sentence", "sentence2" if "sentence2" in names else None
    sentences = texts(path, column(path, header, rows, text_column, "text_column"), text_column)
    labels = column(path, header, rows, label_column, "label_column")
    pairs = texts(path, column(path, header, rows, second, "text_column"), second) if second else None
    return [LabelledRow(number, text.strip(), _label(path, number, label), pairs[i][1].strip() if pairs else None)
            for i, ((number, text), (_, label)) in enumerate(zip(sentences, labels))]


def _label(path: Path, line: int, value) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise UserError(f"{path}:{line}: the label is {json.dumps(value)[:40]}: give a name or an integer")
    return str(value).strip()


def label_names(rows: list[LabelledRow]) -> list[str] | None:
    """None when every label is a non-negative integer (kept as the class id); else the distinct
    labels in sorted order, whose positions are the class ids."""
    found = {row.label for row in rows}
    if all(re.fullmatch(r"[0-9]+", label) for label in found):
        return None
    if len(found) < 2:
        raise UserError(f"a classifier needs two labels or more; the data has only {sorted(found)}")
    return sorted(found)


def to_examples(rows: list[LabelledRow], path: Path, labels: list[str] | None) -> list[Example]:
    """Examples with class ids: the integer labels as they are, or each name's position in `labels`."""
    index = {name: i for i, name in enumerate(labels or [])}
    examples = []
    for row in rows:
        if labels is None and not re.fullmatch(r"[0-9]+", row.label):
            raise UserError(f"{path}:{row.line}: label {row.label!r} is not an integer, as the run's labels are")
        if labels is not None and row.label not in index:
            raise UserError(f"{path}:{row.line}: label {row.label!r} is not one of the run's labels "
                            f"({', '.join(labels)})")
        examples.append(Example(row.text, int(row.label) if labels is None else index[row.label], row.text_b))
    return examples


def read_examples(path: Path, labels: list[str] | None, text_column: str = "text",
                  label_column: str = "label") -> list[Example]:
    """A labelled file's examples, numbered by the labels of a run (`labels`; None: integer labels)."""
    return to_examples(read_labelled(path, text_column, label_column), Path(path), labels)


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
    """(ids, segments, label) for the word-level classifiers: the lowercased words (or BPE / Unigram
    pieces), no [CLS]/[SEP], one segment (a sentence pair is read as one text); an empty sentence
    becomes one unknown word (for pieces, which know no unknown: the end-of-text token)."""
    unk_token = getattr(tokenizer, "unk_token", None)
    unknown = tokenizer.token_id(unk_token) if unk_token is not None else tokenizer.eot_id
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

    def __init__(self, rows: list, global_batch: int, seed: int, resample=None) -> None:
        super().__init__(rows, [len(ids) for ids, _, _ in rows], global_batch, seed, collate,
                         what="training examples", resample=resample)
