"""Writing files atomically: a reader, or a crash, never sees half a file.

The recipe of every careful program (editors, databases, git): write the new content to a
temporary name in the same folder, flush it to the disk (`os.fsync`), then rename it over the
old file. On POSIX the rename (`os.replace`) is atomic, so the path holds either the old file or
the new one, whatever moment the process dies at. The temporary file sits in the same folder
because a rename is only atomic within one file system.

This module imports neither torch nor numpy, so that every layer, tokenizers included, can use it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from lmlab.errors import UserError


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Call `write(temporary_path)`, fsync the temporary file, then rename it onto `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` as UTF-8, atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike, document, **dumps_options) -> None:
    """Write `document` as JSON (`json.dumps` options, e.g. ``indent=2``) and a final newline, atomically."""
    atomic_write_text(path, json.dumps(document, **dumps_options) + "\n")


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file a user gave (a byte-order mark is dropped); a missing, unreadable or
    non-UTF-8 file is one `UserError` that names it, and for bad bytes the line they are on."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise UserError(f"{path}: line {line} is not UTF-8 (convert the file first, e.g. "
                        f"iconv -f GBK -t UTF-8 {path.name} > {path.stem}.utf8{path.suffix})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as open() reads text


def read_json(path: str | os.PathLike, what: str = "JSON"):
    """A JSON document from a file; invalid, or nested deeper than Python can follow, is a UserError."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid {what} ({error})") from None
    except RecursionError:
        raise UserError(f"{path}: not a {what} (nesting too deep)") from None
