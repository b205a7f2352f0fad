"""Unigram language-model tokenizer, as SentencePiece does it.

Spaces become ``▁`` (U+2581), and one more ``▁`` goes in front, so every word starts with
``▁`` and decoding gives back exactly the text: ``"Hello world"`` is read as
``"▁Hello▁world"``. That is lmlab's default normalizer (`sentencepiece_normalizer.LOSSLESS`);
``train(..., normalization="nmt_nfkc")`` gives SentencePiece's default instead (NFKC, spaces
squeezed, lossy), and a SentencePiece ``.model`` brings its own (`sentencepiece_model`). Each piece has a score, its log-probability; a text is segmented into the
pieces whose scores add up to the most (`lattice.viterbi`):

>>> tok = UnigramTokenizer()
>>> tok.pieces = [("<unk>", 0.0), ("▁", -2.0), ("▁h", -3.0), ("e", -2.0), ("▁he", -4.0),
...               ("l", -2.0), ("lo", -2.5), ("o", -2.0), ("llo", -2.0), ("h", -2.0)]
>>> tok.special_tokens = {"<unk>": 0}; tok._index()
>>> [tok.id_to_token(i) for i in tok.encode("hello")]  # -4 - 2 = -6 beats -3 -2 -2 -2.5
['▁he', 'llo']
>>> tok.decode(tok.encode("hello"))
'hello'

**Subword regularisation** (Kudo, 2018): instead of the best segmentation, `sample_encode`
draws one at random, with probability proportional to exp(alpha * score), from all of them
(``nbest_size=-1``) or from the n best (``nbest_size=n``): small alpha is nearly uniform, large
alpha nearly always the best. `nbest_encode` lists the n best. Setting ``sample_alpha`` (0, the
default, is off) makes `encode` itself sample, word by word, so a training loop that reads text
through `encode` sees a fresh segmentation every time, as BPE's ``dropout`` does for BPE.

With ``byte_fallback`` (lmlab's trained tokenizers have it) a character no piece covers is
written as its UTF-8 bytes, pieces ``<0x00>`` ... ``<0xFF>``, so any text round-trips; without it
(SentencePiece's default), it becomes ``<unk>`` and a run of unknown characters one ``<unk>``.
The one text that cannot round-trip is ``▁`` itself, read back as a space (as in SentencePiece).

Training (`unigram_train`): seed with frequent substrings, then EM and pruning.
"""

from __future__ import annotations

import math
import random
from typing import Iterable

from lmlab.errors import UserError
from lmlab.tokenizers import hf_json, lattice
from lmlab.tokenizers.base import END_OF_TEXT, EncodeCache, Tokenizer, register
from lmlab.tokenizers.sentencepiece_normalizer import LOSSLESS, NAMES, SPACE, Normalizer

SPECIALS = ("<unk>", "<s>", "</s>", END_OF_TEXT)  # SentencePiece's unk, bos, eos, then lmlab's document separator
BYTE_PIECES = [f"<0x{b:02X}>" for b in range(256)]
UNKNOWN_PENALTY = 10.0  # an unknown character scores the lowest piece score minus this


@register
class UnigramTokenizer(Tokenizer):
    type_name = "unigram"
    default_vocab_size = 4096

    def __init__(self, seed: int | None = None) -> None:
        super().__init__()
        self.pieces: list[tuple[str, float]] = [("<unk>", 0.0)]  # id -> (piece, score)
        self.special_tokens = {"<unk>": 0}
        self.unk_id = 0
        self.byte_fallback = False
        self.normalizer = LOSSLESS  # text -> what the pieces are matched against
        self.rng = random.Random(seed)  # for sample_encode and sample_alpha
        self.sample_alpha = 0.0  # > 0: `encode` samples a segmentation with this alpha (never saved)
        self._index()

    def _index(self) -> None:
        """Derive the lookup tables from `pieces`, `special_tokens`, `unk_id` and `byte_fallback`."""
        piece_ids = {piece: i for i, (piece, _) in enumerate(self.pieces)}
        self._byte_ids = [piece_ids[piece] for piece in BYTE_PIECES] if self.byte_fallback else []
        hidden = set(self.special_tokens.values()) | set(self._byte_ids)  # never matched in text
        normal = [i for i in range(len(self.pieces)) if i not in hidden]
        self._lookup = lattice.prefix_table((i, self.pieces[i][0]) for i in normal)
        self._scores = [score for _, score in self.pieces]
        self._scores[self.unk_id] = min((self._scores[i] for i in normal), default=0.0) - UNKNOWN_PENALTY
        # Pieces never hold "▁" after their first character (training makes sure), so no piece
        # crosses a word start and each word can be segmented, and cached, on its own.
        self._by_word = all(SPACE not in self.pieces[i][0][1:] for i in normal)
        self._bytes = [piece.encode("utf-8") for piece, _ in self.pieces]
        for b, i in enumerate(self._byte_ids):
            self._bytes[i] = bytes([b])
        self._boundaries = set(self.special_tokens.values()) - {self.unk_id}
        self._cache = EncodeCache(self._best_ids)

    # --- training --------------------------------------------------------------------------
    def train(self, texts: Iterable[str], vocab_size: int | None = None, *, max_piece_length: int = 16,
              seed_size: int = 1_000_000, normalization: str = "identity",
              progress: bool = False) -> "UnigramTokenizer":
        """Learn `vocab_size` pieces (special tokens and the 256 byte pieces included).
        `normalization`: ``identity`` (lmlab's lossless ``▁`` escaping), or SentencePiece's
        ``nfkc`` or ``nmt_nfkc`` with its whitespace rules (squeezed, stripped)."""
        from lmlab.tokenizers.unigram_train import count_training_words, train_pieces

        vocab_size = vocab_size or self.default_vocab_size
        budget = vocab_size - len(SPECIALS) - len(BYTE_PIECES)
        if budget < 1:
            raise UserError(f"Unigram needs a vocab size above {len(SPECIALS) + len(BYTE_PIECES)} "
                            f"(special tokens and 256 byte pieces), got {vocab_size}")
        if normalization not in NAMES:
            raise UserError(f"unknown normalization {normalization!r} (choose from {', '.join(NAMES)})")
        self.normalizer = LOSSLESS if normalization == "identity" else Normalizer(normalization)
        words = count_training_words(map(self.normalizer, texts))
        learned = train_pieces(words, budget, max_piece_length, seed_size, progress)
        self.pieces = [(s, 0.0) for s in SPECIALS] + [(b, 0.0) for b in BYTE_PIECES] + learned
        self.special_tokens = {s: i for i, s in enumerate(SPECIALS)}
        self.unk_id, self.byte_fallback = 0, True
        self._index()
        return self

    # --- encoding ---------------------------------------------------------------------------
    def encode_ordinary(self, text: str) -> list[int]:
        escaped = self.normalizer(text)
        segment = self._sampled_ids if self.sample_alpha else self._best_ids
        if not self._by_word:
            return segment(escaped)
        first, *words = escaped.split(SPACE)  # first: the text before the first "▁", often ""
        if self.sample_alpha:  # no piece crosses a word start, so the words' lattices are independent
            pieces = ([first] if first else []) + [SPACE + word for word in words]
            return [i for piece in pieces for i in segment(piece)]
        return [*(self._cache[first] if first else []), *(i for word in words for i in self._cache[SPACE + word])]

    def _sampled_ids(self, text: str) -> list[int]:
        return self._ids(text, lattice.sample(self._lattice(text), self._scores, self.sample_alpha, self.rng))

    def _best_ids(self, text: str) -> list[int]:
        return self._ids(text, lattice.viterbi(self._lattice(text), self._scores))

    def nbest_encode(self, text: str, n: int) -> list[list[int]]:
        """The `n` best segmentations of `text`, best first."""
        escaped = self.normalizer(text)
        return [self._ids(escaped, path) for _, path in lattice.nbest(self._lattice(escaped), self._scores, n)]

    def sample_encode(self, text: str, alpha: float = 0.1, nbest_size: int = -1) -> list[int]:
        """One segmentation drawn with probability proportional to exp(alpha * score), among all
        (``nbest_size < 0``) or the `nbest_size` best; ``nbest_size`` 0 or 1 is `encode`."""
        if nbest_size in (0, 1):
            return self.encode_ordinary(text)
        escaped = self.normalizer(text)
        ends = self._lattice(escaped)
        if nbest_size < 0:
            return self._ids(escaped, lattice.sample(ends, self._scores, alpha, self.rng))
        scored = lattice.nbest(ends, self._scores, nbest_size)
        weights = [math.exp(alpha * (score - scored[0][0])) for score, _ in scored]
        return self._ids(escaped, self.rng.choices([path for _, path in scored], weights)[0])

    def _lattice(self, text: str) -> list[list[lattice.Node]]:
        return lattice.build_lattice(text, self._lookup, self.unk_id)

    def _ids(self, text: str, path: lattice.Path) -> list[int]:
        """A path's piece ids, unknown characters as bytes (byte fallback) or one ``<unk>`` per run."""
        ids: list[int] = []
        for start, end, piece in path:
            if piece != self.unk_id:
                ids.append(piece)
            elif self.byte_fallback:
                ids.extend(self._byte_ids[b] for b in text[start:end].encode("utf-8"))
            elif not ids or ids[-1] != self.unk_id:
                ids.append(piece)
        return ids

    # --- decoding ---------------------------------------------------------------------------
    def decode(self, ids: Iterable[int]) -> str:
        """Each stretch between special tokens was encoded as one text: join its pieces' bytes,
        turn ``▁`` back into spaces and drop the one added in front."""
        parts, stretch = [], []
        for i in map(int, ids):
            if i in self._boundaries:
                parts += [self._decode_stretch(stretch), self.pieces[i][0]]
                stretch = []
            else:
                stretch.append(i)
        parts.append(self._decode_stretch(stretch))
        return "".join(parts)

    def _decode_stretch(self, ids: list[int]) -> str:
        text = b"".join(self._bytes[i] for i in ids).decode("utf-8", errors="replace").replace(SPACE, " ")
        return text[1:] if text.startswith(" ") and self.normalizer.add_dummy_prefix else text

    def id_to_token(self, token_id: int) -> str:
        return self.pieces[token_id][0]

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    # --- files ------------------------------------------------------------------------------
    def model_to_dict(self) -> dict:
        return {"type": "Unigram", "unk_id": self.unk_id, "vocab": [list(p) for p in self.pieces],
                "byte_fallback": self.byte_fallback}

    def model_from_dict(self, model: dict) -> None:
        self.pieces = [(str(piece), float(score)) for piece, score in model["vocab"]]
        self.unk_id = model.get("unk_id")
        hf_json.require(self.unk_id is not None, "Unigram model without unk_id", model)
        self.special_tokens.setdefault(self.pieces[self.unk_id][0], self.unk_id)
        self.byte_fallback = bool(model.get("byte_fallback"))
        self._index()

    def pipeline_to_dict(self) -> dict:
        decoders = [{"type": "Replace", "pattern": {"String": SPACE}, "content": " "}]
        if self.byte_fallback:
            decoders.append({"type": "ByteFallback"})
        decoders += [{"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]
        return {"normalizer": hf_json.sequence("normalizers", self.normalizer.hf_steps()), "pre_tokenizer": None,
                "post_processor": None, "decoder": hf_json.sequence("decoders", decoders)}

    def pipeline_from_dict(self, data: dict) -> None:
        normalizer, pre_tokenizer = data.get("normalizer"), data.get("pre_tokenizer")
        self.normalizer = Normalizer.from_hf_steps(hf_json.steps(normalizer))
        hf_json.require(pre_tokenizer is None, "pre_tokenizer for Unigram", pre_tokenizer)

