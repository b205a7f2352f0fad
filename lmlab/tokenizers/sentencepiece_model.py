"""SentencePiece's ``.model`` file, read without the protobuf package.

A ``.model`` file is one protobuf message, ``ModelProto`` (sentencepiece_model.proto). Protobuf's
wire format is a flat list of fields, each a key ``field_number << 3 | wire_type`` written as a
varint, then the value: a varint (wire type 0), 8 bytes (1), a length and that many bytes (2:
strings and nested messages), or 4 bytes (5: ``float``). Varints hold 7 bits per byte, low
bits first, the top bit set on every byte but the last:

>>> read_varint(bytes([0x96, 0x01]), 0)  # 0x16 + (0x01 << 7)
(150, 2)
>>> [(number, value) for number, _, value in fields(b"\\x0a\\x02hi\\x10\\x01")]
[(1, b'hi'), (2, 1)]

The parts of ``ModelProto`` lmlab uses (proto2: a field that is absent has its default)::

    message ModelProto {
      repeated SentencePiece pieces = 1;     // piece = 1 (string), score = 2 (float), type = 3
      optional TrainerSpec trainer_spec = 2;  // model_type = 3, treat_whitespace_as_suffix = 24,
                                              // byte_fallback = 35, unk_id = 40
      optional NormalizerSpec normalizer_spec = 3;  // name = 1, precompiled_charsmap = 2,
                                              // add_dummy_prefix = 3, remove_extra_whitespaces = 4,
                                              // escape_whitespaces = 5 (the three default to true)
    }

`read_model` returns them as a `SentencePieceModel`; `lmlab.tokenizers.load_tokenizer` turns a
Unigram one into a `UnigramTokenizer` that gives SentencePiece's ids for raw text.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from lmlab.errors import UserError
from lmlab.tokenizers.sentencepiece_normalizer import NAMES, Normalizer

PIECE_TYPES = {1: "normal", 2: "unknown", 3: "control", 4: "user_defined", 5: "unused", 6: "byte"}
MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


@dataclass
class SentencePieceModel:
    pieces: list[tuple[str, float, str]] = field(default_factory=list)  # id -> (piece, score, type)
    model_type: str = "unigram"
    byte_fallback: bool = False
    unk_id: int = 0
    treat_whitespace_as_suffix: bool = False
    # NormalizerSpec: name, add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces
    normalizer_spec: dict = field(default_factory=lambda: {"name": ""})


def read_varint(data: bytes, position: int) -> tuple[int, int]:
    """The varint at `position`, and the position after it."""
    value, shift = 0, 0
    while True:
        if position >= len(data):
            raise ValueError("truncated varint")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if byte < 0x80:
            return value, position
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` for each field of one message: ints for varints,
    bytes for the rest (a float's 4 bytes, a string's or a nested message's contents)."""
    position = 0
    while position < len(data):
        key, position = read_varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = read_varint(data, position)
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, position = data[position:position + size], position + size
        elif wire_type == 2:
            size, position = read_varint(data, position)
            value, position = data[position:position + size], position + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type} (field {number})")
        if position > len(data):
            raise ValueError(f"field {number} runs past the end of its message")
        yield number, wire_type, value


def read_piece(data: bytes) -> tuple[str, float, str]:
    piece, score, kind = "", 0.0, 1
    for number, wire_type, value in fields(data):
        if number == 1:
            piece = value.decode("utf-8")
        elif number == 2 and wire_type == 5:
            score = struct.unpack("<f", value)[0]
        elif number == 3:
            kind = value
    return piece, score, PIECE_TYPES.get(kind, f"type {kind}")


def read_trainer_spec(data: bytes, model: SentencePieceModel) -> None:
    for number, _, value in fields(data):
        if number == 3:
            model.model_type = MODEL_TYPES.get(value, f"type {value}")
        elif number == 24:
            model.treat_whitespace_as_suffix = bool(value)
        elif number == 35:
            model.byte_fallback = bool(value)
        elif number == 40:
            model.unk_id = value


def read_normalizer_spec(data: bytes, model: SentencePieceModel) -> None:
    """Field 2, the compiled character map, is not read: lmlab rebuilds it from the name."""
    flags = ("add_dummy_prefix", "remove_extra_whitespaces", "escape_whitespaces")
    for number, _, value in fields(data):
        if number == 1:
            model.normalizer_spec["name"] = value.decode("utf-8")
        elif number in (3, 4, 5):
            model.normalizer_spec[flags[number - 3]] = bool(value)


def parse_model(data: bytes) -> SentencePieceModel:
    """A ``ModelProto``'s bytes -> `SentencePieceModel` (ValueError if they are not one)."""
    model = SentencePieceModel()
    for number, wire_type, value in fields(data):
        if wire_type != 2:
            continue
        if number == 1:
            model.pieces.append(read_piece(value))
        elif number == 2:
            read_trainer_spec(value, model)
        elif number == 3:
            read_normalizer_spec(value, model)
    if not model.pieces:
        raise ValueError("no pieces")
    return model


def read_model(path: str | Path) -> SentencePieceModel:
    """Read a ``.model`` file; a missing or unreadable one is a `UserError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"SentencePiece model not found: {path}")
    try:
        return parse_model(path.read_bytes())
    except (ValueError, UnicodeDecodeError, struct.error) as error:
        raise UserError(f"{path}: not a SentencePiece .model file ({error})") from None


def unigram_tokenizer(model: SentencePieceModel, source: str):
    """A `UnigramTokenizer` that segments as SentencePiece does with `model`: the same pieces,
    scores, ids, special pieces (unknown, control), byte fallback and normalizer. What lmlab
    cannot reproduce is refused by name (a `UserError`)."""
    from lmlab.tokenizers.unigram import UnigramTokenizer

    types, name = {kind for _, _, kind in model.pieces}, model.normalizer_spec["name"]
    problems = [
        model.model_type != "unigram" and f"model_type {model.model_type} (lmlab reads Unigram models)",
        model.treat_whitespace_as_suffix and "treat_whitespace_as_suffix",
        name not in NAMES and f"normalizer {name!r} (lmlab has {', '.join(NAMES)})",
        types - {"normal", "unknown", "control", "byte"} and f"pieces of type {sorted(types)}",
        model.pieces[model.unk_id][2] != "unknown" and f"unk_id {model.unk_id} that is not an unknown piece",
    ]
    problems = [problem for problem in problems if problem]
    if problems:
        raise UserError(f"{source}: unsupported SentencePiece model: {'; '.join(problems)}")
    tokenizer = UnigramTokenizer()
    tokenizer.pieces = [(piece, score) for piece, score, _ in model.pieces]
    tokenizer.special_tokens = {piece: i for i, (piece, _, kind) in enumerate(model.pieces)
                                if kind in ("unknown", "control")}
    tokenizer.unk_id, tokenizer.byte_fallback = model.unk_id, model.byte_fallback
    tokenizer.normalizer = Normalizer(**model.normalizer_spec)
    tokenizer._index()
    return tokenizer


def load_sentencepiece(path: str | Path):
    """A SentencePiece Unigram ``.model`` file as a `UnigramTokenizer` (`unigram_tokenizer`)."""
    return unigram_tokenizer(read_model(path), str(path))
