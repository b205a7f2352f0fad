"""Word-level tokenizer: one id per word or run of punctuation, ``<unk>`` for the rest.

The classic vocabulary of n-gram and early neural language models. Text is cut by one regex
into words (letters, digits, ``_``) and runs of punctuation; whitespace only separates them:

>>> WORD_PATTERN.findall("Don't stop... 42 times!")
['Don', "'", 't', 'stop', '...', '42', 'times', '!']

The vocabulary keeps the words seen at least `min_freq` times, most frequent first (ties in
alphabetical order), up to `vocab_size` entries including the special tokens. Decoding joins
words with single spaces, so it is lossy: the spacing and anything unknown are gone.

>>> tok = WordTokenizer().train(["the cat saw the dog"], vocab_size=4)
>>> tok.decode(tok.encode("the dog saw the cat"))
'the <unk> <unk> the cat'

In Hugging Face's schema this is a WordLevel model behind the ``Whitespace`` pre-tokenizer,
whose pattern is exactly `WORD_PATTERN`.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import regex

from lmlab.tokenizers import hf_json
from lmlab.tokenizers.base import END_OF_TEXT, Tokenizer, register

UNKNOWN = "<unk>"
WORD_PATTERN = regex.compile(r"\w+|[^\w\s]+")


@register
class WordTokenizer(Tokenizer):
    type_name = "word"
    default_vocab_size = 10_000

    def __init__(self) -> None:
        super().__init__()
        self.unk_token = UNKNOWN
        self.word_to_id: dict[str, int] = {}
        self.id_to_word: dict[int, str] = {}

    def train(self, texts: Iterable[str], vocab_size: int | None = None, *, min_freq: int = 1) -> "WordTokenizer":
        """Keep the `vocab_size` - 2 most frequent words seen at least `min_freq` times."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(WORD_PATTERN.findall(text))
        self.unk_token = UNKNOWN
        self.special_tokens = {END_OF_TEXT: 0, UNKNOWN: 1}
        ranked = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        budget = max((vocab_size or self.default_vocab_size) - len(self.special_tokens), 0)
        self.word_to_id = {w: i + len(self.special_tokens) for i, w in enumerate(ranked[:budget])}
        self._index()
        return self

    def _index(self) -> None:
        self.id_to_word = {i: w for w, i in self.word_to_id.items()}
        self.id_to_word.update({i: s for s, i in self.special_tokens.items()})

    def encode_ordinary(self, text: str) -> list[int]:
        unknown = self.special_tokens[self.unk_token]
        lookup = self.word_to_id.get
        return [lookup(word, unknown) for word in WORD_PATTERN.findall(text)]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.id_to_word[int(i)] for i in ids)

    def id_to_token(self, token_id: int) -> str:
        return self.id_to_word[token_id]

    @property
    def vocab_size(self) -> int:
        return len(self.word_to_id) + len(self.special_tokens)

    def model_to_dict(self) -> dict:
        return {"type": "WordLevel", "vocab": {**self.word_to_id, **self.special_tokens},
                "unk_token": self.unk_token}

    def model_from_dict(self, model: dict) -> None:
        self.unk_token = model["unk_token"]
        hf_json.require(self.unk_token in self.special_tokens, "WordLevel unk_token (not an added token)",
                        self.unk_token)
        self.word_to_id = {str(w): int(i) for w, i in model["vocab"].items() if w not in self.special_tokens}
        self._index()

    def pipeline_to_dict(self) -> dict:
        return {"normalizer": None, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None}

    def pipeline_from_dict(self, data: dict) -> None:
        hf_json.require(data.get("normalizer") is None, "normalizer for words", data.get("normalizer"))
        pre_tokenizer = data.get("pre_tokenizer")
        hf_json.require(hf_json.is_type(pre_tokenizer, "Whitespace"), "pre_tokenizer for words", pre_tokenizer)
