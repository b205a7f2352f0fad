"""The tokenizer contract every lmlab tokenizer follows.

A tokenizer turns text into a list of integer ids and back. Subclasses implement the algorithm
(`train`, `encode_ordinary`, `decode`) and say how their state is written in a Hugging Face
``tokenizer.json`` (`model_to_dict` / `model_from_dict` for the ``model`` section,
`pipeline_to_dict` / `pipeline_from_dict` for normalizer, pre-tokenizer, post-processor and
decoder). This base class owns everything shared: special tokens, batch encoding and the file.

An lmlab ``tokenizer.json`` *is* a Hugging Face file: ``tokenizers.Tokenizer.from_file`` reads it
and gives the same ids. lmlab's header (format version, algorithm) sits inside the ``model``
section: Hugging Face's reader refuses unknown top-level keys but not a component's extra keys::

    {"version": "1.0", "truncation": null, "padding": null,
     "added_tokens": [{"id": 256, "content": "<|endoftext|>", "special": true, ...}],
     "normalizer": null, "pre_tokenizer": {...}, "post_processor": null, "decoder": {...},
     "model": {"lmlab": {"format_version": 1, "type": "bpe"}, "type": "BPE", ...}}

A file without the header is a Hugging Face tokenizer.json; `load` reads it too, when its
pipeline is one that an lmlab algorithm reproduces exactly (see `hf_json.infer_type`).

Special tokens (``<|endoftext|>``) are never split and are produced from text only when the
caller allows it: ``encode(text)`` reads ``"<|endoftext|>"`` as ordinary characters, and
``encode(text, allowed_special="all")`` turns it into its single id (tiktoken's rule).

This module imports neither torch nor numpy, so `lmlab tokenizer ...` commands start fast.
"""

from __future__ import annotations

import gc
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, ClassVar, Iterable

from lmlab.errors import UserError
from lmlab.io import atomic_write_json, read_json
from lmlab.tokenizers import hf_json

TOKENIZER_FORMAT_VERSION = 1
END_OF_TEXT = "<|endoftext|>"


def progress_bar(total: int, description: str, enabled: bool):
    """A progress bar on stderr for training loops (tqdm, imported only when training)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="", disable=not enabled, leave=False)


@contextmanager
def garbage_collector_paused():
    """Training builds millions of small lists and tuples that live until it ends and hold no
    reference cycles; Python's cycle collector would walk them all again and again (15-25% of
    the training time) to find nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class EncodeCache(dict):
    """The ids of the pieces (words, pre-tokens) already encoded: ``cache[piece]`` looks them up
    and computes them on first request. Words repeat (Zipf's law), so most lookups hit and
    encoding a large text costs little more than splitting it. Emptied when `limit` is reached.

    >>> cache = EncodeCache(lambda piece: [len(piece)])
    >>> cache["hello"], len(cache)
    ([5], 1)
    """

    def __init__(self, encode_piece: Callable[[str], list[int]], limit: int = 100_000) -> None:
        super().__init__()
        self.encode_piece = encode_piece
        self.limit = limit

    def __missing__(self, piece: str) -> list[int]:
        if len(self) >= self.limit:
            self.clear()
        ids = self[piece] = self.encode_piece(piece)
        return ids


# type name -> Tokenizer subclass; filled by `register` so `load` can dispatch on the file's type.
_REGISTRY: dict[str, type["Tokenizer"]] = {}


def register(cls: type["Tokenizer"]) -> type["Tokenizer"]:
    """Class decorator: make `Tokenizer.load` know a subclass by its `type_name`."""
    _REGISTRY[cls.type_name] = cls
    return cls


class Tokenizer:
    """Base class: special tokens, batching and (de)serialisation; subclasses add the algorithm."""

    type_name: ClassVar[str] = ""
    default_vocab_size: ClassVar[int | None] = None  # what `train(texts)` aims for; None: all

    def __init__(self) -> None:
        self.special_tokens: dict[str, int] = {}  # content -> id

    # --- the algorithm (subclasses) -------------------------------------------------------
    def train(self, texts: Iterable[str], vocab_size: int | None = None, **options) -> "Tokenizer":
        raise NotImplementedError

    def encode_ordinary(self, text: str) -> list[int]:
        """Text -> ids, reading any special-token text as ordinary characters."""
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def id_to_token(self, token_id: int) -> str:
        """The text of one token, for people to read (``"##ing"``, ``"▁the"``, ``" world"``)."""
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def model_to_dict(self) -> dict:
        """The Hugging Face ``model`` section."""
        raise NotImplementedError

    def model_from_dict(self, model: dict) -> None:
        raise NotImplementedError

    def pipeline_to_dict(self) -> dict:
        """The Hugging Face sections around the model; by default, none."""
        return {"normalizer": None, "pre_tokenizer": None, "post_processor": None, "decoder": None}

    def pipeline_from_dict(self, data: dict) -> None:
        """Read options from those sections; refuse (ValueError) a pipeline this class cannot follow."""

    # --- shared behaviour -----------------------------------------------------------------
    def encode(self, text: str, allowed_special: str | Iterable[str] = "none") -> list[int]:
        """Text -> ids. `allowed_special`: ``"none"`` (special-token text is ordinary text),
        ``"all"``, or the contents of the special tokens to recognise in `text`."""
        allowed = self._allowed_special(allowed_special)
        if not allowed:
            return self.encode_ordinary(text)
        pattern = "(" + "|".join(re.escape(s) for s in sorted(allowed, key=len, reverse=True)) + ")"
        ids: list[int] = []
        for i, part in enumerate(re.split(pattern, text)):
            if i % 2:  # re.split puts the separators it captured at the odd positions
                ids.append(self.special_tokens[part])
            elif part:
                ids.extend(self.encode_ordinary(part))
        return ids

    def encode_batch(self, texts: Iterable[str], allowed_special: str | Iterable[str] = "none") -> list[list[int]]:
        return [self.encode(text, allowed_special) for text in texts]

    def _allowed_special(self, allowed_special: str | Iterable[str]) -> set[str]:
        if allowed_special == "none":
            return set()
        if allowed_special == "all":
            return set(self.special_tokens)
        allowed = {allowed_special} if isinstance(allowed_special, str) else set(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise UserError(f"not special tokens of this tokenizer: {sorted(unknown)} "
                            f"(it has {sorted(self.special_tokens)})")
        return allowed

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
        header = {"lmlab": {"format_version": TOKENIZER_FORMAT_VERSION, "type": self.type_name}}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": hf_json.added_tokens(self.special_tokens),
            **self.pipeline_to_dict(),
            "model": {**header, **self.model_to_dict()},
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write ``tokenizer.json`` atomically (`lmlab.io`: temporary file, fsync, rename)."""
        atomic_write_json(path, self.to_dict(), ensure_ascii=False, indent=1)

    @staticmethod
    def from_dict(data: dict, source: str = "tokenizer") -> "Tokenizer":
        """Build a tokenizer from lmlab's file, or from a Hugging Face one (no lmlab header)."""
        model = data.get("model") if isinstance(data, dict) else None
        if not isinstance(model, dict):
            raise UserError(f"{source}: not a tokenizer.json (no 'model' section)")
        header = model.get("lmlab")
        if header is None:
            type_name = hf_json.infer_type(data, source)
        else:
            version = header.get("format_version") if isinstance(header, dict) else None
            if version != TOKENIZER_FORMAT_VERSION:
                raise UserError(f"{source}: tokenizer format version {version!r} is not supported "
                                f"(this lmlab reads version {TOKENIZER_FORMAT_VERSION})")
            type_name = header.get("type")
        if type_name not in _REGISTRY:
            raise UserError(
                f"{source}: unknown tokenizer type {type_name!r} (known: {', '.join(sorted(_REGISTRY))})"
            )
        tokenizer = _REGISTRY[type_name]()
        try:
            tokenizer.special_tokens = hf_json.special_tokens(data.get("added_tokens") or [])
            tokenizer.pipeline_from_dict(data)
            tokenizer.model_from_dict(model)
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"{source}: cannot read this tokenizer ({type(error).__name__}: {error})") from None
        return tokenizer

    @staticmethod
    def load(path: str | os.PathLike) -> "Tokenizer":
        """Read a ``tokenizer.json``; a missing, corrupt or foreign file is a `UserError` naming it."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"tokenizer file not found: {path}")
        data = read_json(path, "tokenizer.json")
        try:
            return Tokenizer.from_dict(data, source=str(path))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise UserError(f"{path}: not a tokenizer.json lmlab can read ({type(error).__name__}: "
                            f"{str(error)[:120]})") from None
