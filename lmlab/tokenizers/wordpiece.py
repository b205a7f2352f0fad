"""WordPiece, as BERT does it.

After BERT's basic tokenizer (`BertNormalizer`: clean-up, lower-casing, accent stripping, one
word per punctuation mark), each word is cut greedily, **longest match first**: take the
longest prefix that is in the vocabulary, then the longest vocabulary entry for the rest with
the continuation prefix ``##``, and so on. A word that cannot be covered, or is longer than
100 characters, becomes ``[UNK]`` as a whole.

>>> tok = WordPieceTokenizer()
>>> tok.vocab = {t: i for i, t in enumerate(["[UNK]", "un", "##aff", "##able", "aff", "##a"])}
>>> tok.special_tokens = {"[UNK]": 0}; tok._index()
>>> [tok.id_to_token(i) for i in tok.encode("Unaffable zzz")]
['un', '##aff', '##able', '[UNK]']

**Training** starts from the characters (``h ##e ##l ##l ##o``) and merges, again and again,
the most frequent adjacent pair (BPE's rule, which Hugging Face's WordPieceTrainer uses too).
Merging ``a`` with ``##b`` gives ``ab``. Ties go to the smaller pair of ids (specials, then the
characters in sorted order, then merges in the order they were made). ``merge_rule="score"``
merges the pair with the highest score ``count(ab) / (count(a) * count(b))`` instead: a pair that
occurs more often than its parts' frequencies predict. That rule favours rare parts; with fewer
entries than distinct words, frequent words such as "the" then stay in pieces (docs/tokenizers.md).

**Pairs**: ``encode_pair(a, b)`` gives ``[CLS] a [SEP] b [SEP]`` and segment ids 0 for the first
part, 1 for the second, as BERT's next-sentence and sentence-pair tasks expect.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Optional  # Optional: `--set strip_accents=...` parses it (lmlab.config)

from lmlab.errors import UserError
from lmlab.tokenizers import hf_json
from lmlab.tokenizers.base import (END_OF_TEXT, EncodeCache, Tokenizer, garbage_collector_paused, progress_bar,
                                   register)
from lmlab.tokenizers.bert_normalizer import BertNormalizer
from lmlab.tokenizers.pair_counts import PairCounts

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PREFIX = "##"
MERGE_RULES = ("frequency", "score")
MAX_INPUT_CHARS_PER_WORD = 100


@register
class WordPieceTokenizer(Tokenizer):
    type_name = "wordpiece"
    default_vocab_size = 4096

    def __init__(self, lowercase: bool = True, strip_accents: bool | None = None) -> None:
        super().__init__()
        self.normalizer = BertNormalizer(lowercase=lowercase, strip_accents=strip_accents)
        self.unk_token = "[UNK]"
        self.vocab: dict[str, int] = {}  # every entry, special tokens included (as in vocab.txt)
        self._index()

    def _index(self) -> None:
        self._tokens = {i: token for token, i in self.vocab.items()}
        self._cache = EncodeCache(self._longest_match_first)
        self._vocab_size = max(self._tokens, default=-1) + 1

    # --- training --------------------------------------------------------------------------
    @garbage_collector_paused()
    def train(self, texts: Iterable[str], vocab_size: int | None = None, *, lowercase: bool = True,
              strip_accents: Optional[bool] = None, merge_rule: str = "frequency",
              progress: bool = False) -> "WordPieceTokenizer":
        """Learn a vocabulary of `vocab_size` entries: specials, characters, then merges.

        ``merge_rule`` picks the pair to merge: ``"frequency"``, the most frequent (what Hugging
        Face's WordPieceTrainer does), or ``"score"``, the highest ``count(ab) / (count(a) * count(b))``.
        """
        if merge_rule not in MERGE_RULES:
            raise UserError(f"merge_rule must be one of {', '.join(MERGE_RULES)}, got {merge_rule!r}")
        vocab_size = vocab_size or self.default_vocab_size
        self.normalizer = BertNormalizer(lowercase=lowercase, strip_accents=strip_accents)
        word_counts: Counter[str] = Counter()
        for text in texts:
            word_counts.update(self.normalizer.split(text))
        alphabet = {w[0] for w in word_counts} | {PREFIX + c for w in word_counts for c in w[1:]}
        tokens = [*SPECIALS, END_OF_TEXT, *sorted(alphabet)]
        if vocab_size < len(tokens):
            raise UserError(f"WordPiece needs a vocab size of at least {len(tokens)} here (special tokens "
                            f"and the {len(alphabet)} characters of the training text), got {vocab_size}")
        ids = {token: i for i, token in enumerate(tokens)}
        words = [[ids[w[0]], *(ids[PREFIX + c] for c in w[1:])] for w in word_counts]
        merge_pairs(tokens, ids, words, list(word_counts.values()), vocab_size, merge_rule, progress)
        self.vocab = ids
        self.special_tokens = {token: ids[token] for token in (*SPECIALS, END_OF_TEXT)}
        self._index()
        return self

    # --- encoding and decoding --------------------------------------------------------------
    def encode_ordinary(self, text: str) -> list[int]:
        return [i for word in self.normalizer.split(text) for i in self._cache[word]]

    def _longest_match_first(self, word: str) -> list[int]:
        unknown = [self.vocab[self.unk_token]]
        if len(word) > MAX_INPUT_CHARS_PER_WORD:
            return unknown
        ids, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else PREFIX + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
            else:  # not even one character matches: the whole word is unknown
                return unknown
            start = end
        return ids

    def encode_pair(self, first: str, second: str | None = None) -> tuple[list[int], list[int]]:
        """``[CLS] first [SEP] (second [SEP])`` and its segment ids: (ids, type_ids)."""
        cls, sep = self.token_id("[CLS]"), self.token_id("[SEP]")
        ids = [cls, *self.encode(first), sep]
        type_ids = [0] * len(ids)
        if second is not None:
            tail = [*self.encode(second), sep]
            ids += tail
            type_ids += [1] * len(tail)
        return ids, type_ids

    def decode(self, ids: Iterable[int]) -> str:
        """Pieces joined by spaces, continuations (``##ing``) glued to what precedes them."""
        text = " ".join(self._tokens[int(i)] for i in ids)
        return text.replace(" " + PREFIX, "")

    def id_to_token(self, token_id: int) -> str:
        return self._tokens[token_id]

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    # --- files ------------------------------------------------------------------------------
    @classmethod
    def from_vocab_file(cls, path: str | Path, lowercase: bool = True) -> "WordPieceTokenizer":
        """BERT's ``vocab.txt``: one entry per line, the line number is the id."""
        tokenizer = cls(lowercase=lowercase)
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        tokenizer.vocab = {token: i for i, token in enumerate(lines)}
        tokenizer.special_tokens = {token: tokenizer.vocab[token] for token in SPECIALS if token in tokenizer.vocab}
        tokenizer._index()
        return tokenizer

    def model_to_dict(self) -> dict:
        return {"type": "WordPiece", "unk_token": self.unk_token, "continuing_subword_prefix": PREFIX,
                "max_input_chars_per_word": MAX_INPUT_CHARS_PER_WORD, "vocab": self.vocab}

    def model_from_dict(self, model: dict) -> None:
        for option, value in (("continuing_subword_prefix", PREFIX), ("max_input_chars_per_word", MAX_INPUT_CHARS_PER_WORD)):
            hf_json.require(model.get(option, value) == value, f"WordPiece {option}", model.get(option))
        self.unk_token = model["unk_token"]
        self.vocab = {str(token): int(i) for token, i in model["vocab"].items()}
        hf_json.require(self.unk_token in self.vocab, "WordPiece unk_token (not in the vocabulary)", self.unk_token)
        self._index()

    def pipeline_to_dict(self) -> dict:
        post_processor = None
        if "[CLS]" in self.special_tokens and "[SEP]" in self.special_tokens:
            post_processor = {"type": "BertProcessing", "sep": ["[SEP]", self.special_tokens["[SEP]"]],
                              "cls": ["[CLS]", self.special_tokens["[CLS]"]]}
        return {"normalizer": self.normalizer.to_dict(), "pre_tokenizer": {"type": "BertPreTokenizer"},
                "post_processor": post_processor, "decoder": {"type": "WordPiece", "prefix": PREFIX, "cleanup": False}}

    def pipeline_from_dict(self, data: dict) -> None:
        normalizer, pre_tokenizer = data.get("normalizer"), data.get("pre_tokenizer")
        hf_json.require(hf_json.is_type(normalizer, "BertNormalizer"), "normalizer for WordPiece", normalizer)
        hf_json.require(hf_json.is_type(pre_tokenizer, "BertPreTokenizer"), "pre_tokenizer for WordPiece", pre_tokenizer)
        self.normalizer = BertNormalizer.from_dict(normalizer)


def merge_pairs(tokens: list[str], ids: dict[str, int], words: list[list[int]], counts: list[int], vocab_size: int,
                merge_rule: str, progress: bool) -> None:
    """Merge pairs of adjacent symbols until `tokens` (and `ids`) hold `vocab_size` entries.

    `words` are the training words as symbol ids, `counts` how often each occurs.
    """
    pairs = PairCounts(words, counts)
    symbol_counts: Counter[int] = Counter()
    for word, count in zip(words, counts):
        for symbol in word:
            symbol_counts[symbol] += count

    def frequency(pair):
        return pairs.counts[pair]

    def relative_frequency(pair):
        return pairs.counts[pair] / (symbol_counts[pair[0]] * symbol_counts[pair[1]])

    score = frequency if merge_rule == "frequency" else relative_frequency
    # Lazy heap: an entry is valid if its score is still the pair's score. A merge changes the
    # counts of the pairs next to it; under the score rule it also changes the score of every
    # pair holding a merged part. Those pairs are pushed again with their new scores.
    heap = [(-score(pair), pair) for pair in pairs.counts]
    heapq.heapify(heap)
    pairs_with: dict[int, set] = defaultdict(set)  # symbol -> the pairs it is part of
    for pair in pairs.counts:
        pairs_with[pair[0]].add(pair)
        pairs_with[pair[1]].add(pair)
    with progress_bar(vocab_size - len(tokens), "WordPiece merges", progress) as bar:
        while len(tokens) < vocab_size and heap:
            negative_score, pair = heapq.heappop(heap)
            if pair not in pairs.counts or score(pair) != -negative_score:
                continue  # gone, or pushed again with its current score
            first, second = pair
            token = tokens[first] + tokens[second][len(PREFIX):]  # the right part is always "##..."
            if token not in ids:
                ids[token] = len(tokens)
                tokens.append(token)
                bar.update()
            changes, made = pairs.merge(pair, ids[token])
            symbol_counts[first] -= made
            symbol_counts[second] -= made
            symbol_counts[ids[token]] += made
            for changed, change in changes.items():
                if change > 0:
                    pairs_with[changed[0]].add(changed)
                    pairs_with[changed[1]].add(changed)
            if merge_rule == "frequency":
                touched = changes.keys()
            else:
                touched = pairs_with[first] | pairs_with[second] | pairs_with[ids[token]]
            for other in touched:
                if other in pairs.counts:
                    heapq.heappush(heap, (-score(other), other))
