"""Word-level tokenizer: one id per word or run of punctuation, ``<unk>`` for the rest.

The classic vocabulary of n-gram and early neural language models. Text is cut by one regex
into words (letters, digits, ``_``) and runs of punctuation; whitespace only separates them:

>>> WORD_PATTERN.findall("Don't stop... 42 times!")
['Don', "'", 't', 'stop', '...', '42', 'times', '!']

Chinese and Japanese write no spaces between words, so a run of letters there is a whole
clause, almost never seen twice. Each CJK character (Han, Hiragana, Katakana) is therefore a
word of its own, as in BERT's Chinese tokenizer:

>>> WORD_PATTERN.findall("江泽民发表1998年新年讲话")
['江', '泽', '民', '发', '表', '1998', '年', '新', '年', '讲', '话']

The vocabulary keeps the words seen at least `min_freq` times, most frequent first (ties in
alphabetical order), up to `vocab_size` entries including the special tokens. Decoding joins
words with single spaces, so it is lossy: the spacing and anything unknown are gone.

>>> tok = WordTokenizer().train(["the cat saw the dog"], vocab_size=4)
>>> tok.decode(tok.encode("the dog saw the cat"))
'the <unk> <unk> the cat'

In Hugging Face's schema this is a WordLevel model behind a ``Split`` pre-tokenizer that keeps
the matches of `WORD_PATTERN` and removes the rest. Files with Hugging Face's ``Whitespace``
pre-tokenizer (``WHITESPACE_PATTERN``, lmlab's word files before CJK were cut) keep that pattern.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import regex

from lmlab.tokenizers import hf_json
from lmlab.tokenizers.base import END_OF_TEXT, Tokenizer, register

UNKNOWN = "<unk>"
CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
# The joiners (U+200C, U+200D) are written out: Python's \w holds them (Unicode's definition),
# Oniguruma's (Hugging Face's Split) does not.
WORD_PATTERN = regex.compile(rf"[{CJK}]|(?:[^\W{CJK}]|[\u200c\u200d])+|[^\w\s\u200c\u200d]+")
WHITESPACE_PATTERN = regex.compile(r"\w+|[^\w\s]+")  # Hugging Face's Whitespace pre-tokenizer


@register
class WordTokenizer(Tokenizer):
    type_name = "word"
    default_vocab_size = 10_000

    def __init__(self) -> None:
        super().__init__()
        self.unk_token = UNKNOWN
        self.word_to_id: dict[str, int] = {}
        self.id_to_word: dict[int, str] = {}
        self.pattern = WORD_PATTERN

    def train(self, texts: Iterable[str], vocab_size: int | None = None, *, min_freq: int = 1) -> "WordTokenizer":
        """Keep the `vocab_size` - 2 most frequent words seen at least `min_freq` times."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(self.pattern.findall(text))
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
        return [lookup(word, unknown) for word in self.pattern.findall(text)]

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
        if self.pattern == WHITESPACE_PATTERN:
            pre_tokenizer = {"type": "Whitespace"}
        else:
            pre_tokenizer = hf_json.split(self.pattern.pattern, behavior="Removed", invert=True)
        return {"normalizer": None, "pre_tokenizer": pre_tokenizer, "post_processor": None, "decoder": None}

    def pipeline_from_dict(self, data: dict) -> None:
        hf_json.require(data.get("normalizer") is None, "normalizer for words", data.get("normalizer"))
        pre_tokenizer = data.get("pre_tokenizer")
        if hf_json.is_type(pre_tokenizer, "Whitespace"):
            self.pattern = WHITESPACE_PATTERN
        else:
            hf_json.require(hf_json.is_type(pre_tokenizer, "Split", behavior="Removed", invert=True),
                            "pre_tokenizer for words (Whitespace, or Split keeping the matches)", pre_tokenizer)
            self.pattern = regex.compile(hf_json.regex_of(pre_tokenizer))
