"""The formats text comes in: a `--data` file or folder read into documents.

    poems.txt               one document: the whole file (any suffix not below reads as plain text)
    posts.jsonl             JSON Lines: one document per line, its "text" field (--set text_field=NAME)
    posts.csv               one document per row, its "text" column (--set text_column=NAME)
    posts.tsv               the same, tab-separated
    posts.jsonl.gz, ...     any of them gzip-compressed (told by the suffix)
    a datasets folder       one document per row of its text column: a folder written by the `datasets`
                            library's ``save_to_disk`` (a DatasetDict: its train split); needs
                            ``pip install lmlab[datasets]``

The first line of a CSV or TSV file is its header. CSV is RFC 4180, read by Python's `csv` module
(strictly: a quote left open is an error, not a field that swallows the rest of the file): a quoted
field may hold commas, quotes and newlines. TSV is the IANA format that GLUE uses: fields
cut at tabs, no quoting, so a field holds neither a tab nor a newline. A file of records (JSON
Lines, CSV, TSV, a dataset) gives one document per record, and records whose text is blank are
left out. Every problem is refused in one line naming the file and, for a record, its line:

    posts.jsonl:7: not valid JSON (Expecting ',' delimiter at column 12)
    posts.jsonl:3: no field 'text' (the record has: body, id); choose one with --set text_field=NAME
    posts.csv:1: no column 'text' (its columns: body, id); choose one with --set text_column=NAME

The parsers (`parse_jsonl`, `parse_table`) are shared with the labelled files of
`lmlab.data.classification`. This module imports neither torch nor numpy.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

from lmlab.errors import UserError

RECORD_FORMATS = (".jsonl", ".csv", ".tsv")  # one document per record; any other suffix is plain text
DATASET_FILES = ("dataset_info.json", "state.json", "dataset_dict.json")  # what save_to_disk writes


@dataclass
class Document:
    """One text of a corpus, e.g. ``hamlet``, a file path relative to the folder given, or ``posts.jsonl:7``."""

    name: str
    text: str


def clean(text: str) -> str:
    """One convention for every document: ``\\n`` line endings and no trailing whitespace."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def text_format(path: Path) -> str:
    """The suffix that says how to read the file, a gzip suffix looked through: ``a.csv.gz -> .csv``."""
    path = Path(path)
    if path.suffix.lower() == ".gz":
        path = path.with_suffix("")
    return path.suffix.lower()


def is_records(path: Path) -> bool:
    """Whether the file holds one document per record (JSON Lines, CSV, TSV) rather than one in all."""
    return text_format(path) in RECORD_FORMATS


def is_dataset_folder(path: Path) -> bool:
    """Whether `path` is a folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    return Path(path).is_dir() and any((Path(path) / name).is_file() for name in DATASET_FILES)


# --- bytes -> text ----------------------------------------------------------------------------------
def decode(data: bytes, path: Path) -> str:
    """A user's file as text: binary and non-UTF-8 files are refused (a guessed encoding would train a
    model on garbled text without anyone noticing); a byte-order mark is dropped."""
    if b"\0" in data:
        raise UserError(f"{path} is binary (it contains NUL bytes): give plain text files")
    try:
        text = data.decode("utf-8-sig")  # -sig: drop a byte-order mark if there is one
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise UserError(f"{path} is not valid UTF-8 text (bad byte at offset {error.start}) on line {line}: "
                        f"convert it to UTF-8 first, e.g. with iconv -f latin1 -t utf-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def file_text(path: Path) -> str:
    """The text of a file, gunzipped when it ends in .gz; an empty file is refused."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise UserError(f"{path}: not a valid gzip file ({error})") from None
    text = decode(data, path)
    if not text.strip():
        raise UserError(f"{path} is empty (or only whitespace): give a file with text in it")
    return text


# --- text -> records ----------------------------------------------------------------------------------
def parse_jsonl(text: str, path: Path) -> list[tuple[int, dict]]:
    """(line number, object) per non-blank line of JSON Lines text."""
    records = []
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: JSON strings may hold U+2028
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{path}:{number}: not valid JSON ({error.msg} at column {error.colno})") from None
        except RecursionError:
            raise UserError(f"{path}:{number}: not valid JSON (nesting too deep)") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}:{number}: expected a JSON object per line, got {type(record).__name__}")
        records.append((number, record))
    return records


def parse_table(text: str, path: Path, tsv: bool) -> tuple[list[str], list[tuple[int, dict]]]:
    """(header, [(line number, {column: value})]) of CSV (RFC 4180) or TSV (no quoting) text; a row
    whose field count differs from the header's is refused by its line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if tsv else ",",
                        quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL, strict=not tsv)
    rows, start = [], 1
    try:
        for row in reader:
            if row:  # csv gives [] for a blank line
                rows.append((start, row))
            start = reader.line_num + 1  # the next row starts after the lines this one took
    except csv.Error as error:
        raise UserError(f"{path}:{start}: not valid {'TSV' if tsv else 'CSV'} ({error})") from None
    if not rows:
        raise UserError(f"{path} is empty: the first line must be a header naming the columns")
    (_, header), body = rows[0], rows[1:]
    for number, row in body:
        if len(row) != len(header):
            raise UserError(f"{path}:{number}: {len(row)} fields, but the header has {len(header)} "
                            f"({', '.join(header)}){'' if tsv else ': quote fields that hold commas'}")
    return header, [(number, dict(zip(header, row))) for number, row in body]


def records(path: Path, text: str) -> tuple[list[str] | None, list[tuple[int, dict]]]:
    """(the header of a CSV/TSV file, or None for JSON Lines, and the numbered records) of a file's text."""
    if text_format(path) == ".jsonl":
        return None, parse_jsonl(text, path)
    return parse_table(text, path, tsv=text_format(path) == ".tsv")


def column(path: Path, header: list[str] | None, rows: list[tuple[int, dict]], name: str,
           option: str) -> list[tuple[int, object]]:
    """(line number, value) of the field or column `name` in every record; `option` is the --set key
    that chooses another, named when `name` is missing."""
    if header is not None:
        if name not in header:
            raise UserError(f"{path}:1: no column {name!r} (its columns: {', '.join(header)}); choose one with "
                            f"--set {option}=NAME")
        return [(number, row[name]) for number, row in rows]
    values = []
    for number, record in rows:
        if name not in record:
            raise UserError(f"{path}:{number}: no field {name!r} (the record has: {', '.join(record) or 'nothing'}); "
                            f"choose one with --set {option}=NAME")
        values.append((number, record[name]))
    return values


def texts(path: Path, values: list[tuple[int, object]], name: str) -> list[tuple[int, str]]:
    """The values, each checked to be a string: a number or a null where text belongs is refused."""
    for number, value in values:
        if not isinstance(value, str):
            raise UserError(f"{path}:{number}: {name!r} is {json.dumps(value)[:40]}, not a string of text")
    return values


# --- files and folders -> documents ---------------------------------------------------------------------
def read_documents(path: Path, name: str, text_field: str = "text", text_column: str = "text") -> list[Document]:
    """The documents of one file: the whole text, or one per record (blank ones left out)."""
    path = Path(path)
    text = file_text(path)
    if not is_records(path):
        return [Document(name, clean(text))]
    header, rows = records(path, text)
    key, option = (text_field, "text_field") if header is None else (text_column, "text_column")
    documents = [Document(f"{name}:{number}", clean(value))
                 for number, value in texts(path, column(path, header, rows, key, option), key) if value.strip()]
    if not documents:
        raise UserError(f"{path}: no record has text in {'field' if header is None else 'column'} {key!r}")
    return documents


def read_dataset(folder: Path, text_column: str = "text") -> list[Document]:
    """The rows of a `datasets` folder (``save_to_disk``) as documents: its text column, blank rows left out."""
    try:
        import datasets
    except ImportError:
        raise UserError(f"{folder} is a folder saved by the `datasets` library; reading it needs that package: "
                        f"pip install lmlab[datasets]") from None
    try:
        data = datasets.load_from_disk(str(folder))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{folder}: not a readable datasets folder ({type(error).__name__}: "
                        f"{(str(error).splitlines() or [''])[0][:160]})") from None
    if isinstance(data, datasets.DatasetDict):
        if "train" not in data:
            raise UserError(f"{folder}: a DatasetDict without a train split (its splits: {', '.join(data)})")
        data = data["train"]
    if text_column not in data.column_names:
        raise UserError(f"{folder}: no column {text_column!r} (its columns: {', '.join(data.column_names)}); "
                        f"choose one with --set text_column=NAME")
    rows = texts(folder, [(f"row {index}", value) for index, value in enumerate(data[text_column])], text_column)
    documents = [Document(f"{folder.name}[{index}]", clean(value)) for index, (_, value) in enumerate(rows)
                 if value.strip()]
    if not documents:
        raise UserError(f"{folder}: no row has text in column {text_column!r}")
    return documents
