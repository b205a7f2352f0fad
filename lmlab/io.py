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
