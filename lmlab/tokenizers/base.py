"""The tokenizer contract every lmlab tokenizer follows.

A tokenizer turns text into a list of integer ids and back. Subclasses implement the algorithm
(`train`, `encode`, `decode`) and say how their learned state becomes JSON (`model_to_dict`,
`model_from_dict`); this base class owns everything shared: special tokens, batch encoding and
the `tokenizer.json` file with its format version.

File layout (Hugging Face's top-level keys where they apply, plus an ``lmlab`` header)::

    {"lmlab": {"format_version": 1, "type": "char"},
     "added_tokens": [{"id": 0, "content": "<|endoftext|>", "special": true}, ...],
     "model": {...algorithm state...}}

This module imports neither torch nor numpy, so `lmlab tokenizer ...` commands start fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar, Iterable

from lmlab.errors import UserError

TOKENIZER_FORMAT_VERSION = 1
END_OF_TEXT = "<|endoftext|>"

# type name -> Tokenizer subclass; filled by `register` so `load` can dispatch on the file's type.
_REGISTRY: dict[str, type["Tokenizer"]] = {}


def register(cls: type["Tokenizer"]) -> type["Tokenizer"]:
    """Class decorator: make `Tokenizer.load` know a subclass by its `type_name`."""
    _REGISTRY[cls.type_name] = cls
    return cls


class Tokenizer:
    """Base class: special tokens, batching and (de)serialisation; subclasses add the algorithm."""

    type_name: ClassVar[str] = ""

    def __init__(self) -> None:
        self.special_tokens: dict[str, int] = {}  # content -> id

    # --- the algorithm (subclasses) -------------------------------------------------------
    def train(self, texts: Iterable[str], vocab_size: int | None = None, **options) -> "Tokenizer":
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def model_to_dict(self) -> dict:
        raise NotImplementedError

    def model_from_dict(self, model: dict) -> None:
        raise NotImplementedError

    # --- shared behaviour -----------------------------------------------------------------
    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def token_id(self, content: str) -> int:
        """Id of a special token, e.g. ``token_id("<|endoftext|>")``."""
        try:
            return self.special_tokens[content]
        except KeyError:
            raise UserError(f"tokenizer has no special token {content!r}") from None

    @property
    def eot_id(self) -> int | None:
        """Id of the end-of-text token that separates documents, or None."""
        return self.special_tokens.get(END_OF_TEXT)

    def to_dict(self) -> dict:
        return {
            "lmlab": {"format_version": TOKENIZER_FORMAT_VERSION, "type": self.type_name},
            "added_tokens": [
                {"id": i, "content": content, "special": True}
                for content, i in sorted(self.special_tokens.items(), key=lambda item: item[1])
            ],
            "model": self.model_to_dict(),
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write ``tokenizer.json`` atomically (temp file + rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    @staticmethod
    def from_dict(data: dict, source: str = "tokenizer") -> "Tokenizer":
        header = data.get("lmlab") if isinstance(data, dict) else None
        if not isinstance(header, dict):
            raise UserError(f"{source}: not an lmlab tokenizer file (no 'lmlab' header)")
        version = header.get("format_version")
        if version != TOKENIZER_FORMAT_VERSION:
            raise UserError(
                f"{source}: tokenizer format version {version!r} is not supported "
                f"(this lmlab reads version {TOKENIZER_FORMAT_VERSION})"
            )
        type_name = header.get("type")
        if type_name not in _REGISTRY:
            raise UserError(
                f"{source}: unknown tokenizer type {type_name!r} (known: {', '.join(sorted(_REGISTRY))})"
            )
        tokenizer = _REGISTRY[type_name]()
        try:
            tokenizer.special_tokens = {t["content"]: int(t["id"]) for t in data.get("added_tokens", [])}
            tokenizer.model_from_dict(data["model"])
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"{source}: corrupt tokenizer file ({type(error).__name__}: {error})") from None
        return tokenizer

    @staticmethod
    def load(path: str | os.PathLike) -> "Tokenizer":
        """Read a ``tokenizer.json``; a missing, corrupt or foreign file is a `UserError` naming it."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"tokenizer file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UserError(f"{path}: not valid JSON ({error})") from None
        return Tokenizer.from_dict(data, source=str(path))
