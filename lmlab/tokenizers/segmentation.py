"""How well a tokenizer's cuts fall on word boundaries: precision, recall and F1 of boundaries.

Chinese is written without spaces, so a corpus segmented by linguists (``renmin1998``) is the
reference. A boundary is a character offset between two words (the start and end of the text
do not count). The tokenizer's boundaries are where its tokens end; precision is the share of
them that are word boundaries, recall the share of word boundaries it cuts at, F1 their
harmonic mean (the standard word-segmentation score, e.g. the SIGHAN bakeoffs score words,
this scores the cuts):

>>> gold = word_boundaries(["迈向", "充满", "希望"])          # 迈向|充满|希望
>>> predicted = word_boundaries(["迈", "向充满", "希望"])     # 迈|向充满|希望
>>> sorted(gold), sorted(predicted)
([2, 4], [1, 4])
>>> BoundaryCounts().add(predicted, gold).scores()
(0.5, 0.5, 0.5)

Counts are summed over lines before dividing (micro-average), so long lines weigh more.
`token_pieces` gives the text each token writes, for any lmlab tokenizer, and `cut` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate


def word_boundaries(words: list[str]) -> set[int]:
    """The offsets between consecutive words (empty words add nothing)."""
    return set(list(accumulate(len(word) for word in words))[:-1]) - {0}


@dataclass
class BoundaryCounts:
    correct: int = 0  # predicted boundaries that are gold boundaries
    predicted: int = 0
    gold: int = 0

    def add(self, predicted: set[int], gold: set[int]) -> "BoundaryCounts":
        self.correct += len(predicted & gold)
        self.predicted += len(predicted)
        self.gold += len(gold)
        return self

    def scores(self) -> tuple[float, float, float]:
        """(precision, recall, F1); a ratio with nothing to divide by is 0."""
        precision = self.correct / self.predicted if self.predicted else 0.0
        recall = self.correct / self.gold if self.gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1


def token_pieces(tokenizer, ids: list[int]) -> list[str | None]:
    """The text each token adds to the decoded text, from decoding longer and longer prefixes.
    A byte-level token that ends inside a character gives None; the token that completes the
    character adds all of it. ``"".join(p or "" for p in pieces)`` is ``tokenizer.decode(ids)``."""
    pieces, done, whole = [], "", tokenizer.decode(ids)
    for end in range(1, len(ids) + 1):
        text = tokenizer.decode(ids[:end])
        if end < len(ids) and not whole.startswith(text):
            pieces.append(None)  # a character cut in half: wait for the rest of its bytes
            continue
        pieces.append(text[len(done):])
        done = text
    return pieces


def cut(tokenizer, text: str) -> str:
    """`text` as the tokenizer cuts it, tokens between ``|`` (a token that ends inside a
    character shows as nothing)."""
    return " | ".join(piece or "" for piece in token_pieces(tokenizer, tokenizer.encode(text)))
