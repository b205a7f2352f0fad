"""Character-level tokenizer: one id per Unicode character seen in training.

The simplest tokenizer and the classic one for small language models (char-rnn, nanoGPT's
shakespeare_char). Every character of the training text gets an id, in sorted order after the
special tokens; a character never seen in training becomes ``<unk>`` (so the round trip is
lossless exactly for text made of known characters).

>>> tok = CharTokenizer().train(["hello"])
>>> tok.encode("hell"), tok.decode(tok.encode("hell"))
([3, 2, 4, 4], 'hell')

In Hugging Face's schema it is a WordLevel model over single characters: a Split pre-tokenizer
that isolates each character, and a Fuse decoder that joins them back without spaces.
"""

from __future__ import annotations

from typing import Iterable

from lmlab.tokenizers import hf_json
from lmlab.tokenizers.base import END_OF_TEXT, Tokenizer, register

UNKNOWN = "<unk>"
ONE_CHARACTER = r"[\s\S]"  # the Split pattern: any single character


@register
class CharTokenizer(Tokenizer):
    type_name = "char"

    def __init__(self) -> None:
        super().__init__()
        self.char_to_id: dict[str, int] = {}
        self.id_to_text: dict[int, str] = {}

    def train(self, texts: Iterable[str], vocab_size: int | None = None) -> "CharTokenizer":
        """Learn the alphabet; `vocab_size`, if given, keeps only the most frequent characters."""
        counts: dict[str, int] = {}
        for text in texts:
            for char in set(text):
                counts[char] = counts.get(char, 0) + text.count(char)
        self.special_tokens = {END_OF_TEXT: 0, UNKNOWN: 1}
        chars = sorted(counts)
        if vocab_size is not None:
            budget = max(vocab_size - len(self.special_tokens), 0)
            chars = sorted(sorted(counts, key=lambda c: (-counts[c], c))[:budget])
        self.char_to_id = {c: i + len(self.special_tokens) for i, c in enumerate(chars)}
        self._index()
        return self

    def _index(self) -> None:
        self.id_to_text = {i: c for c, i in self.char_to_id.items()}
        self.id_to_text.update({i: s for s, i in self.special_tokens.items()})

    def encode_ordinary(self, text: str) -> list[int]:
        unknown = self.special_tokens[UNKNOWN]
        lookup = self.char_to_id.get
        return [lookup(char, unknown) for char in text]

    def decode(self, ids: Iterable[int]) -> str:
        """Special tokens decode to their own text (e.g. ``<|endoftext|>``)."""
        return "".join(self.id_to_text[int(i)] for i in ids)

    def id_to_token(self, token_id: int) -> str:
        return self.id_to_text[token_id]

    @property
    def vocab_size(self) -> int:
        return len(self.char_to_id) + len(self.special_tokens)

    def model_to_dict(self) -> dict:
        return {"type": "WordLevel", "vocab": {**self.char_to_id, **self.special_tokens}, "unk_token": UNKNOWN}

    def model_from_dict(self, model: dict) -> None:
        hf_json.require(model.get("unk_token") == UNKNOWN, "WordLevel unk_token for characters", model.get("unk_token"))
        vocab = {str(c): int(i) for c, i in model["vocab"].items()}
        self.char_to_id = {c: i for c, i in vocab.items() if c not in self.special_tokens}
        if any(len(c) != 1 for c in self.char_to_id):
            raise ValueError("char vocabulary entries must be single characters")
        self._index()

    def pipeline_to_dict(self) -> dict:
        return {"normalizer": None, "pre_tokenizer": hf_json.split(ONE_CHARACTER), "post_processor": None,
                "decoder": {"type": "Fuse"}}

    def pipeline_from_dict(self, data: dict) -> None:
        hf_json.require(data.get("normalizer") is None, "normalizer for characters", data.get("normalizer"))
        pre_tokenizer = data.get("pre_tokenizer")
        hf_json.require(pre_tokenizer == hf_json.split(ONE_CHARACTER), "pre_tokenizer for characters", pre_tokenizer)
