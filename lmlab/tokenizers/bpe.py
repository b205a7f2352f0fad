"""Byte-level BPE, as GPT-2 does it.

Text is first cut into pre-tokens by a regex; GPT-2's keeps a word's leading space with it
(``"Hello world" -> ["Hello", " world"]``), so no token spans two words. Each pre-token becomes
its UTF-8 bytes, one token per byte, and the learned merges glue adjacent tokens together, the
lowest-ranked (earliest learned) applicable merge first, until none applies. Every byte is a
token, so any string can be encoded and decoding is lossless.

Ids: 0-255 are the 256 bytes in GPT-2's order (printable ones first: ``!`` is 0, ``a`` is 64, as
in GPT-2's encoder.json), then one id per learned token, then the special tokens.

**Training** counts each distinct pre-token once, with its frequency, then merges the most
frequent adjacent pair, again and again (`PairCounts` updates only the words that contain it; a
heap of ``(-count, pair)`` finds the next one). **Tie-breaking**: among pairs of equal count, the
smaller pair of ids merges first (compare the first ids, then the second). That is Hugging Face
tokenizers' rule, and with ids in GPT-2's byte order lmlab learns exactly the merges of its
``BpeTrainer`` (tests/tokenizers/test_bpe.py checks it on Tiny Shakespeare).

The textbook example (Wikipedia's "aaabdaaabac"): "aa" (4 times) becomes Z; then "Za" and "ab"
tie at 2 and the smaller pair ``(a, b)`` = ``(64, 65)`` wins, giving Y = "ab"; then "ZY" (2
times) gives X = "aaab", and the text reads X d X a c:

>>> tok = BPETokenizer().train(["aaabdaaabac"], vocab_size=256 + 3 + 1)
>>> [tok.id_to_token(i) for i in tok.encode("aaabdaaabac")]
['aaab', 'd', 'aaab', 'a', 'c']

**BPE-dropout** (Provilkov et al., 2020; subword regularisation): with ``dropout=p``, every
applicable merge is skipped with probability p at each step, so the same word is segmented in
different ways from one call to the next. Training a model on such segmentations makes it robust
to them; ``dropout=0`` (the default) is plain BPE.
"""

from __future__ import annotations

import heapq
import json
import random
from collections import Counter
from pathlib import Path
from typing import Iterable

import regex

from lmlab.errors import UserError
from lmlab.tokenizers import hf_json
from lmlab.tokenizers.base import (END_OF_TEXT, EncodeCache, Tokenizer, garbage_collector_paused, progress_bar,
                                   register)
from lmlab.tokenizers.pair_counts import PairCounts, merge_pair

# GPT-2's pre-tokenizer (Hugging Face's ByteLevel uses exactly this one) and GPT-4's (cl100k):
# GPT-4 also splits numbers into groups of at most 3 digits and lower-cases contractions.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT4_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
                r"""|\s*[\r\n]|\s+(?!\S)|\s+""")
# GPT-2's pattern with each CJK character (Han, Hiragana, Katakana) a pre-token of its own.
# Chinese and Japanese put no spaces between words, so GPT-2's `\p{L}+` makes a whole clause
# ("中共中央总书记") one pre-token: merges may cross word boundaries ("的新"), every clause is new
# to the encode cache, and a pre-token costs time quadratic in its length. Cut per character,
# as BERT's Chinese tokenizer does, BPE learns each frequent character as one token (bytes for
# the rare ones), trains in seconds and never joins two words; Latin, Hangul and the rest are
# cut as GPT-2 cuts them. The price, measured on People's Daily (docs/tokenizers.md): no token
# longer than one CJK character, so a third more tokens than `gpt2` and a word-boundary F1 of
# characters (0.76 against 0.83). Choose `gpt2` for shorter sequences, this for speed and cuts
# that are always character boundaries.
CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
GPT2_CJK_PATTERN = (rf"""'s|'t|'re|'ve|'m|'ll|'d| ?[{CJK}]| ?[^\P{{L}}{CJK}]+| ?\p{{N}}+| ?[^\s\p{{L}}\p{{N}}]+"""
                    r"""|\s+(?!\S)|\s+""")
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN, "gpt2-cjk": GPT2_CJK_PATTERN}


def bytes_to_symbols() -> dict[int, str]:
    """GPT-2's byte -> printable character map, used to write byte tokens in JSON files.

    Printable bytes stand for themselves; the others (controls, space, ...) are shifted to
    U+0100 and up, in byte order. So a space is ``"Ġ"`` and ``" world"`` is written ``"Ġworld"``.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols = {b: chr(b) for b in printable}
    for shift, b in enumerate(b for b in range(256) if b not in symbols):
        symbols[b] = chr(256 + shift)
    return symbols


BYTE_TO_SYMBOL = bytes_to_symbols()
SYMBOL_TO_BYTE = {symbol: b for b, symbol in BYTE_TO_SYMBOL.items()}
BYTE_ORDER = sorted(range(256), key=BYTE_TO_SYMBOL.__getitem__)  # GPT-2's ids 0-255


def to_symbols(token: bytes) -> str:
    return "".join(BYTE_TO_SYMBOL[b] for b in token)


def from_symbols(symbols: str) -> bytes:
    try:
        return bytes(SYMBOL_TO_BYTE[c] for c in symbols)
    except KeyError:
        raise ValueError(f"vocabulary entry {symbols!r} is not written in byte-level symbols") from None


@register
class BPETokenizer(Tokenizer):
    type_name = "bpe"
    default_vocab_size = 4096

    def __init__(self, pattern: str = "gpt2", dropout: float = 0.0, seed: int | None = None) -> None:
        super().__init__()
        self.pattern = PATTERNS.get(pattern, pattern)  # a name in PATTERNS or a regex
        self.dropout = dropout
        self.rng = random.Random(seed)  # for dropout
        self.vocab: dict[int, bytes] = {i: bytes([b]) for i, b in enumerate(BYTE_ORDER)}
        self.merges: list[tuple[int, int]] = []  # in rank order
        self._index()

    def _index(self) -> None:
        """Derive the lookup tables from `vocab`, `merges`, `special_tokens` and `pattern`."""
        self._ids = {token: i for i, token in self.vocab.items()}
        missing = [b for b in range(256) if bytes([b]) not in self._ids]
        if missing:
            raise ValueError(f"byte-level vocabulary lacks {len(missing)} of the 256 bytes (e.g. {missing[0]})")
        self._byte_ids = [self._ids[bytes([b])] for b in range(256)]
        self._merges = {  # pair -> (rank, id of the merged token)
            (a, b): (rank, self._ids[self.vocab[a] + self.vocab[b]]) for rank, (a, b) in enumerate(self.merges)
        }
        self._bytes = dict(self.vocab)
        self._bytes.update({i: content.encode("utf-8") for content, i in self.special_tokens.items()})
        self._split = regex.compile(self.pattern).findall
        self._cache = EncodeCache(self._bpe)
        self._vocab_size = max(self._bytes) + 1

    # --- training --------------------------------------------------------------------------
    @garbage_collector_paused()
    def train(self, texts: Iterable[str], vocab_size: int | None = None, *, pattern: str = "gpt2",
              min_frequency: int = 1, progress: bool = False) -> "BPETokenizer":
        """Learn merges until the vocabulary (bytes, learned tokens, ``<|endoftext|>``) has
        `vocab_size` entries, or no pair occurs `min_frequency` times."""
        vocab_size = vocab_size or self.default_vocab_size
        if vocab_size < 257:
            raise UserError(f"BPE needs a vocab size of at least 257 (256 bytes + <|endoftext|>), got {vocab_size}")
        self.pattern = PATTERNS.get(pattern, pattern)
        self.vocab = {i: bytes([b]) for i, b in enumerate(BYTE_ORDER)}
        self.merges, self.special_tokens = [], {}
        self._index()
        word_counts: Counter[str] = Counter()
        for text in texts:
            word_counts.update(self._split(text))
        pairs = PairCounts([[self._byte_ids[b] for b in w.encode("utf-8")] for w in word_counts],
                           list(word_counts.values()))
        heap = [(-count, pair) for pair, count in pairs.counts.items()]
        heapq.heapify(heap)
        ids = dict(self._ids)
        with progress_bar(vocab_size - 1 - len(self.vocab), "BPE merges", progress) as bar:
            while len(self.vocab) < vocab_size - 1 and heap:
                negative_count, pair = heapq.heappop(heap)
                count = pairs.counts.get(pair, 0)
                if count != -negative_count:  # stale entry: the count dropped since it was pushed
                    if count:
                        heapq.heappush(heap, (-count, pair))
                    continue
                if count < min_frequency:
                    break
                token = self.vocab[pair[0]] + self.vocab[pair[1]]
                if token not in ids:  # two merges can spell the same bytes; the token is reused
                    ids[token] = len(self.vocab)
                    self.vocab[ids[token]] = token
                    bar.update()
                self.merges.append(pair)
                changes, _ = pairs.merge(pair, ids[token])
                for changed, change in changes.items():
                    if change > 0:
                        heapq.heappush(heap, (-pairs.counts[changed], changed))
        self.special_tokens = {END_OF_TEXT: len(self.vocab)}
        self._index()
        return self

    # --- encoding and decoding --------------------------------------------------------------
    def encode_ordinary(self, text: str) -> list[int]:
        encode_piece = self._bpe if self.dropout else self._cache.__getitem__  # dropout: fresh every time
        return [i for piece in self._split(text) for i in encode_piece(piece)]

    def _bpe(self, piece: str) -> list[int]:
        """One pre-token's bytes -> ids, applying the lowest-ranked applicable merge until none is left."""
        ids = [self._byte_ids[b] for b in piece.encode("utf-8")]
        merges = self._merges
        while len(ids) > 1:
            candidates = {pair for pair in zip(ids, ids[1:]) if pair in merges}
            if self.dropout:
                candidates = {pair for pair in candidates if self.rng.random() >= self.dropout}
            if not candidates:
                break
            pair = min(candidates, key=merges.__getitem__)
            ids = merge_pair(ids, pair, merges[pair][1])
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Bytes of all tokens, joined, then UTF-8; a character cut in half decodes as U+FFFD."""
        return b"".join(self._bytes[int(i)] for i in ids).decode("utf-8", errors="replace")

    def id_to_token(self, token_id: int) -> str:
        return self._bytes[token_id].decode("utf-8", errors="replace")

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    # --- files ------------------------------------------------------------------------------
    @classmethod
    def from_gpt2_files(cls, encoder_json: str | Path, vocab_bpe: str | Path) -> "BPETokenizer":
        """GPT-2's own ``encoder.json`` and ``vocab.bpe`` (Hugging Face: vocab.json, merges.txt)."""
        encoder = json.loads(Path(encoder_json).read_text(encoding="utf-8"))
        lines = Path(vocab_bpe).read_text(encoding="utf-8").splitlines()
        if lines and lines[0].startswith("#version"):
            lines = lines[1:]  # a header; later lines starting with "#" are merges of "#"
        tokenizer = cls()
        tokenizer.special_tokens = {END_OF_TEXT: encoder[END_OF_TEXT]} if END_OF_TEXT in encoder else {}
        tokenizer.model_from_dict({"vocab": encoder, "merges": [line for line in lines if line]})
        return tokenizer

    def model_to_dict(self) -> dict:
        vocab = {to_symbols(token): i for i, token in self.vocab.items()}
        vocab.update(self.special_tokens)  # written as themselves, as GPT-2's "<|endoftext|>" is
        merges = [[to_symbols(self.vocab[a]), to_symbols(self.vocab[b])] for a, b in self.merges]
        return {"type": "BPE", "dropout": self.dropout or None, "unk_token": None,
                "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
                "byte_fallback": False, "ignore_merges": False, "vocab": vocab, "merges": merges}

    def model_from_dict(self, model: dict) -> None:
        for option in ("unk_token", "continuing_subword_prefix", "end_of_word_suffix"):
            hf_json.require(not model.get(option), f"BPE {option}", model.get(option))
        for option in ("byte_fallback", "ignore_merges"):
            hf_json.require(not model.get(option), f"BPE {option}", True)
        special_ids = set(self.special_tokens.values())
        self.vocab = {i: from_symbols(s) for s, i in model["vocab"].items() if i not in special_ids}
        ids = {token: i for i, token in self.vocab.items()}
        self.merges = [(ids[from_symbols(a)], ids[from_symbols(b)]) for a, b in hf_json.merges(model)]
        self.dropout = model.get("dropout") or 0.0
        self._index()

    def pipeline_to_dict(self) -> dict:
        if self.pattern == GPT2_PATTERN:
            pre_tokenizer = hf_json.byte_level(use_regex=True)
        else:
            pre_tokenizer = hf_json.sequence("pretokenizers", [hf_json.split(self.pattern),
                                                               hf_json.byte_level(use_regex=False)])
        return {"normalizer": None, "pre_tokenizer": pre_tokenizer, "post_processor": None,
                "decoder": hf_json.byte_level(use_regex=True)}

    def pipeline_from_dict(self, data: dict) -> None:
        hf_json.require(data.get("normalizer") is None, "normalizer for byte-level BPE", data.get("normalizer"))
        steps = hf_json.steps(data.get("pre_tokenizer"))
        if len(steps) == 1 and hf_json.is_type(steps[0], "ByteLevel", add_prefix_space=False, use_regex=True):
            self.pattern = GPT2_PATTERN
        elif (len(steps) == 2 and hf_json.is_type(steps[0], "Split", behavior="Isolated", invert=False)
              and hf_json.is_type(steps[1], "ByteLevel", add_prefix_space=False, use_regex=False)):
            self.pattern = hf_json.regex_of(steps[0])
        else:
            raise ValueError(f"unsupported pre_tokenizer for byte-level BPE (ByteLevel, or Split + "
                             f"ByteLevel): {data.get('pre_tokenizer')!r}")
