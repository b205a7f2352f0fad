"""`lmlab corpus list | download | show`: look at the text before training on it.

Each handler takes the parsed arguments from `lmlab.cli`, prints its answer on stdout and lets
a `UserError` through for the command line to report. No torch here: these commands start fast.
"""

from __future__ import annotations

import json

from lmlab.data.corpora import download_corpus, list_corpora, load_corpus, split_corpus
from lmlab.errors import UserError
from lmlab.recipes.text_options import CorpusDownloadOptions, CorpusListOptions, CorpusShowOptions

SHOWN_DOCUMENTS = 5  # how many document names `corpus show` lists


def list_command(options: CorpusListOptions) -> None:
    """The named corpora: JSON Lines with ``--json``, else an aligned table."""
    corpora = list_corpora()
    if options.json:
        for corpus in corpora:
            print(json.dumps(corpus))
        return
    rows = [["NAME", "SIZE", "CACHED", "DESCRIPTION"]]
    rows += [[c["name"], human_size(c["size_bytes"]), "yes" if c["cached"] else "no", c["description"]]
             for c in corpora]
    print(format_table(rows))


def download_command(options: CorpusDownloadOptions) -> None:
    """Fetch a named corpus into the cache (if it is not there yet) and print its path."""
    print(download_corpus(options.name))


def show_command(options: CorpusShowOptions) -> None:
    """Documents, sizes, the default split and the first characters of a corpus or a path."""
    if options.chars < 0:
        raise UserError(f"--chars must be 0 or more, got {options.chars}")
    corpus = load_corpus(options.name)
    documents = corpus.documents
    print(format_table([
        ["corpus", corpus.name],
        ["source", corpus.source],
        ["documents", f"{len(documents):,}"],
        ["characters", f"{sum(len(doc.text) for doc in documents):,}"],
        ["split", describe_split(corpus)],
    ]))
    print("first documents:")
    shown = documents[:SHOWN_DOCUMENTS]
    print(format_table([["  " + doc.name, f"{len(doc.text):,} chars"] for doc in shown]))
    if len(documents) > len(shown):
        print(f"  ... and {len(documents) - len(shown):,} more")
    first = documents[0]
    print(f"\n--- {first.name}: first {min(options.chars, len(first.text)):,} characters ---")
    print(first.text[:options.chars])


def describe_split(corpus) -> str:
    """The default split in one line, or why there is none."""
    try:
        record = split_corpus(corpus).record
    except UserError as error:
        return f"none: {error}"
    return f"train {record['train_chars']:,} chars, val {record['val_chars']:,} chars ({record['rule']})"


def human_size(size_bytes: int) -> str:
    """Bytes in the largest unit that keeps the number at least 1: ``5057198 -> '5.1 MB'``."""
    size = float(size_bytes)
    for unit in ["B", "kB", "MB"]:
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def format_table(rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]])
                     for row in rows)
