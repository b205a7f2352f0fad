"""The word2vec vocabulary: counted words, frequent-word subsampling, the negative-sampling noise.

Mikolov et al. 2013, "Distributed Representations of Words and Phrases and their
Compositionality" (NeurIPS), add two tricks on top of the skip-gram/CBOW models of "Efficient
Estimation of Word Representations in Vector Space" (ICLR workshop), and both live here because
both are functions of the word counts alone:

**Subsampling of frequent words.** "the" appears in almost every window and teaches little, so
each occurrence of word w is *kept* with a probability that falls with its frequency. The paper
writes the discard probability as ``1 - sqrt(t / f(w))``; the released word2vec.c (and gensim)
use a smoother variant, which is the one implemented here. With ``c`` the word's count, ``T``
the total count of the vocabulary and ``s`` the ``sample`` threshold (1e-3 by default)::

    keep(w) = min(1, (sqrt(c / (s*T)) + 1) * (s*T) / c)

With x = c / (s*T), keep = (sqrt(x) + 1) / x, which is >= 1 while x <= ((1 + sqrt 5) / 2)^2 = 2.618:
every word with a relative frequency up to 2.618*s is always kept, while a word making up 1% of
the tokens (x = 10 at s = 1e-3) is kept with probability (sqrt(10) + 1) / 10 = 0.416.

**Negative sampling.** Instead of a softmax over V words, each (input, target) example is
contrasted with K "noise" words drawn from the unigram distribution raised to the 3/4 power::

    P_noise(w) = c(w)^0.75 / sum_v c(v)^0.75

The power flattens the distribution: rare words are drawn more often than their frequency. Like
word2vec.c we draw from a precomputed *table* in which word w fills a share P_noise(w) of the
slots, so that one draw is one uniform random integer.

>>> vocab = Vocabulary.build([["a", "b", "a"], ["a", "c"]], min_count=1)
>>> vocab.words, vocab.counts.tolist()
(['a', 'b', 'c'], [3, 1, 1])
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

# Words are runs of letters, with inner apostrophes kept ("o'er", "don't"); digits, underscores
# and punctuation separate them. Text is lower-cased first (see `tokenize`).
WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def tokenize(line: str, lowercase: bool = True) -> list[str]:
    """One line of text -> its words: ``tokenize("O'er the hills, 2 cats!") == ["o'er", "the", "hills", "cats"]``."""
    return WORD_RE.findall(line.lower() if lowercase else line)


def text_sentences(texts: Iterable[str], lowercase: bool = True) -> Iterator[list[str]]:
    """Stream the non-empty lines of each text as token lists (one "sentence" per line)."""
    for text in texts:
        for line in text.splitlines():
            words = tokenize(line, lowercase)
            if words:
                yield words


@dataclass
class Vocabulary:
    """Words sorted by descending count (ties: first seen first), their counts and ids.

    ``words[i]`` has id ``i``; the most frequent word has id 0, which is what lets evaluation
    restrict itself to "the top N words" by slicing.
    """

    words: list[str]
    counts: np.ndarray  # (V,) int64

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)
        self.index = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def build(cls, sentences: Iterable[list[str]], min_count: int = 5, max_size: int | None = None) -> "Vocabulary":
        """Count every word of the stream once and keep those seen at least ``min_count`` times."""
        counter: Counter = Counter()
        for sentence in sentences:
            counter.update(sentence)
        kept = [(word, count) for word, count in counter.items() if count >= min_count]
        kept.sort(key=lambda item: -item[1])  # stable: ties keep first-seen order
        if max_size is not None:
            kept = kept[:max_size]
        return cls([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    @property
    def total(self) -> int:
        """Tokens of the corpus that are in the vocabulary (the T of the formulas above)."""
        return int(self.counts.sum())

    def encode(self, sentence: list[str]) -> np.ndarray:
        """Word ids of a sentence, out-of-vocabulary words dropped (as word2vec does)."""
        index = self.index
        return np.fromiter((index[w] for w in sentence if w in index), dtype=np.int64)

    # --- subsampling ------------------------------------------------------------------------
    def keep_probabilities(self, sample: float) -> np.ndarray:
        """(V,) probability of keeping one occurrence of each word; ``sample <= 0`` keeps all.

        keep(w) = min(1, (sqrt(c / (s*T)) + 1) * (s*T) / c)   [word2vec.c, gensim]
        """
        if sample <= 0:
            return np.ones(len(self), dtype=np.float64)
        threshold = sample * self.total  # s*T, in counts
        counts = self.counts.astype(np.float64)
        return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)

    # --- negative sampling ------------------------------------------------------------------
    def noise_distribution(self, power: float = 0.75) -> np.ndarray:
        """(V,) P_noise(w) = c(w)^power / sum_v c(v)^power."""
        weights = self.counts.astype(np.float64) ** power
        return weights / weights.sum()

    def noise_table(self, power: float = 0.75, size: int = 1_000_000) -> np.ndarray:
        """(~size,) int32 table of word ids in which word w fills round(P_noise(w) * size) slots.

        Drawing a uniform slot from it is drawing from P_noise, up to rounding to 1/size.
        Every word gets at least one slot, so even the rarest word can be a negative. The table
        is small on purpose (word2vec.c's has 1e8 slots): 4 MB stays in the CPU cache, and
        random reads from it are then several times faster.
        """
        slots = np.maximum(1, np.round(self.noise_distribution(power) * size)).astype(np.int64)
        return np.repeat(np.arange(len(self), dtype=np.int32), slots)

    # --- saving -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"words": list(self.words), "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "Vocabulary":
        return cls(list(data["words"]), np.array(data["counts"], dtype=np.int64))
