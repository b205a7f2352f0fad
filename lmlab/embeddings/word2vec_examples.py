"""word2vec's training examples: a chunk of text -> arrays of (input, target), vectorised with numpy.

The steps of Mikolov et al. 2013 (see `lmlab.embeddings.word2vec`), each over a whole chunk of
sentences at once, without a Python loop per word: look the words up (`chunk_to_ids`), drop
frequent ones (`subsample`), draw each centre word's window b ~ Uniform{1..W} and collect its
context words within the sentence (`context_matrix`), then read off skip-gram pairs
(`skipgram_examples`) or CBOW bags (`cbow_examples`).

>>> ids, sentence_ids = np.array([7, 8, 9]), np.array([0, 0, 1])
>>> context_matrix(ids, sentence_ids, 1, np.random.default_rng(0))  # offsets -1, +1; 9 is alone
array([[-1,  8],
       [ 7, -1],
       [-1, -1]])
"""

from __future__ import annotations

import numpy as np

from lmlab.embeddings.vocab import Vocabulary


def chunk_to_ids(sentences: list[list[str]], vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray, int]:
    """(ids, sentence_of_each_id, words_read): in-vocabulary ids of a chunk, flattened."""
    index = vocab.index
    ids = np.array([index.get(w, -1) for sentence in sentences for w in sentence], dtype=np.int64)
    sentence_ids = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])
    known = ids >= 0
    return ids[known], sentence_ids[known], int(known.sum())


def subsample(ids: np.ndarray, sentence_ids: np.ndarray, keep: np.ndarray, rng: np.random.Generator):
    """Drop each occurrence of word w with probability 1 - keep[w]."""
    kept = rng.random(len(ids)) < keep[ids]
    return ids[kept], sentence_ids[kept]


def window_offsets(window: int) -> list[int]:
    return [d for d in range(-window, window + 1) if d != 0]


def context_matrix(ids: np.ndarray, sentence_ids: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2W) ids of each position's context words, -1 where there is none.

    Column k holds the word at offset ``window_offsets(W)[k]``; it counts only when the offset
    is within this centre word's sampled window b ~ Uniform{1..W} and inside the same sentence.
    """
    n = len(ids)
    reduced = rng.integers(1, window + 1, size=n)  # b for every centre word
    contexts = np.full((n, 2 * window), -1, dtype=np.int64)
    for k, d in enumerate(window_offsets(window)):
        if abs(d) >= n:
            continue
        centre = np.arange(max(0, -d), min(n, n - d))  # positions whose neighbour at d exists
        other = centre + d
        ok = (reduced[centre] >= abs(d)) & (sentence_ids[centre] == sentence_ids[other])
        contexts[centre[ok], k] = ids[other[ok]]
    return contexts


def skipgram_examples(ids, contexts) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets): one (centre, context word) pair per filled cell of the context matrix."""
    rows, cols = np.nonzero(contexts >= 0)
    return ids[rows], contexts[rows, cols]


def cbow_examples(ids, contexts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(context_ids, bag_lengths, targets): each centre word with at least one context word."""
    filled = contexts >= 0
    lengths = filled.sum(1)
    has = lengths > 0
    return contexts[has][filled[has]], lengths[has], ids[has]


__all__ = ["chunk_to_ids", "subsample", "window_offsets", "context_matrix", "skipgram_examples", "cbow_examples"]
