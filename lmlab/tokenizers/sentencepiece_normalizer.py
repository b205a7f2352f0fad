"""SentencePiece's normalizer, written from its rules: what a Unigram tokenizer sees of a text.

SentencePiece (Kudo and Richardson, 2018) normalizes before it segments. Its default,
``nmt_nfkc``, is Unicode NFKC (full-width ``１９９８`` becomes ``1998``, ``…`` becomes ``...``)
plus a few rules for machine-translation data (`NMT_RULES`): ASCII control characters are
removed; tabs, newlines, zero-width and other invisible spaces become a space. Then whitespace is
tidied (`Normalizer` fields, one per ``NormalizerSpec`` field of a ``.model`` file):

- ``remove_extra_whitespaces``: runs of spaces become one, leading and trailing spaces go;
- ``add_dummy_prefix``: a space goes in front, so the first word looks like every other one;
- ``escape_whitespaces``: spaces are written ``▁`` (U+2581), so pieces can hold them.

>>> NMT_NFKC("  Hello\\tworld  １９９８年 ")
'▁Hello▁world▁1998年'
>>> LOSSLESS("  Hello")  # lmlab's own default: no normalization, every space kept
'▁▁▁Hello'

A ``.model`` file stores the character map as a compiled trie (``precompiled_charsmap``); lmlab
rebuilds the map from the rules by name instead (``nfkc``, ``nmt_nfkc``, ``identity``). The rules
are proven equal to SentencePiece's map on every line of Botchan and of People's Daily
(tests/tokenizers/test_sentencepiece_model.py). Python's ``unicodedata`` may follow a newer
Unicode version than the ICU a model was built with; characters added since could differ.

In a Hugging Face ``tokenizer.json`` the same normalizer is a ``Sequence`` of ``Replace``,
``NFKC``, ``Replace`` and ``Prepend`` steps (`Normalizer.hf_steps`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

SPACE = "\u2581"  # ▁
NAMES = ("identity", "nfkc", "nmt_nfkc")
# nmt_nfkc's rules on top of NFKC, found by comparing SentencePiece's map with NFKC on every code
# point (the other differences are Unicode versions): ASCII controls removed, invisible spaces
# and marks to a space, the full-width tilde kept (NFKC would make it "~").
REMOVED_CONTROLS = "".join(map(chr, [*range(0x01, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F, 0x8F, 0x9F]))
AS_SPACE = "\t\n\f\r\u061c\u1680\u200b\u200c\u200e\u200f\u2028\u2029\u2581\ufeff\ufffd"
NMT_RULES = {**{ord(c): None for c in REMOVED_CONTROLS}, **{ord(c): " " for c in AS_SPACE}}
KEPT_BY_NMT = "\uff5e"  # ～


@dataclass(frozen=True)
class Normalizer:
    """One ``NormalizerSpec``; calling it gives the text SentencePiece segments."""

    name: str = "nmt_nfkc"  # identity, nfkc or nmt_nfkc (NFKC and the NMT rules)
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True
    escape_whitespaces: bool = True

    def __post_init__(self) -> None:
        if self.name not in NAMES:
            raise ValueError(f"unknown SentencePiece normalization {self.name!r} (lmlab has {', '.join(NAMES)})")

    def __call__(self, text: str) -> str:
        text = map_characters(text, self.name)
        if self.remove_extra_whitespaces:
            text = " ".join(word for word in text.split(" ") if word)
        if not text:
            return ""
        if self.add_dummy_prefix:
            text = " " + text
        return text.replace(" ", SPACE) if self.escape_whitespaces else text

    def hf_steps(self) -> list[dict]:
        """The same normalizer as Hugging Face ``normalizers`` steps."""
        steps = []
        if self.name == "nmt_nfkc":
            steps += [replace(f"[{escape_class(REMOVED_CONTROLS)}]", ""), replace(f"[{escape_class(AS_SPACE)}]", " ")]
        if self.name in ("nfkc", "nmt_nfkc"):
            steps.append({"type": "NFKC"})
        if self.remove_extra_whitespaces:
            steps += [replace(" {2,}", " "), replace("^ | $", "")]
        if self.add_dummy_prefix:
            steps.append({"type": "Prepend", "prepend": SPACE if self.escape_whitespaces else " "})
        if self.escape_whitespaces:
            steps.append({"type": "Replace", "pattern": {"String": " "}, "content": SPACE})
        return steps

    @staticmethod
    def from_hf_steps(steps: list[dict]) -> "Normalizer":
        """The `Normalizer` whose `hf_steps` are `steps` (ValueError if there is none)."""
        for name in NAMES:
            for flags in range(8):
                candidate = Normalizer(name, bool(flags & 1), bool(flags & 2), bool(flags & 4))
                if candidate.hf_steps() == steps:
                    return candidate
        raise ValueError(f"unsupported normalizer for Unigram (not one of SentencePiece's): {steps!r}")


def map_characters(text: str, name: str) -> str:
    """The character map of normalization `name`, before whitespace is tidied."""
    if name == "identity":
        return text
    if name == "nfkc":
        return unicodedata.normalize("NFKC", text)
    text = text.translate(NMT_RULES)
    return KEPT_BY_NMT.join(unicodedata.normalize("NFKC", part) for part in text.split(KEPT_BY_NMT))


def replace(pattern: str, content: str) -> dict:
    return {"type": "Replace", "pattern": {"Regex": pattern}, "content": content}


def escape_class(characters: str) -> str:
    """Characters written as ``\\uXXXX`` for a regex character class."""
    return "".join(f"\\u{ord(c):04x}" for c in characters)


NMT_NFKC = Normalizer()  # SentencePiece's default
LOSSLESS = Normalizer("identity", add_dummy_prefix=True, remove_extra_whitespaces=False)  # lmlab's default
