"""The vocabulary: counts, subsampling probabilities, the unigram^0.75 noise table (statistical checks)."""

import math

import numpy as np
import pytest

from lmlab.embeddings.onehot import one_hot, one_hot_memory
from lmlab.embeddings.vocab import Vocabulary, text_sentences, tokenize
from lmlab.embeddings.word2vec import subsample


def test_tokenize_keeps_inner_apostrophes_and_drops_digits_and_punctuation():
    assert tokenize("O'er the hills, 2 cats!") == ["o'er", "the", "hills", "cats"]
    assert list(text_sentences(["A b\n\n 3 \nc"])) == [["a", "b"], ["c"]]


def test_vocabulary_sorts_by_count_and_applies_min_count():
    vocab = Vocabulary.build([["b", "a", "a", "c"], ["a", "b", "d"]], min_count=2)
    assert vocab.words == ["a", "b"] and vocab.counts.tolist() == [3, 2]
    assert vocab.total == 5 and "c" not in vocab
    assert vocab.encode(["c", "b", "a"]).tolist() == [1, 0]
    assert Vocabulary.from_dict(vocab.to_dict()).words == vocab.words


def test_keep_probability_is_the_word2vec_formula():
    # counts 1000 and 10 of T = 1010 tokens; s = 1e-2 -> s*T = 10.1
    vocab = Vocabulary(["the", "cat"], np.array([1000, 10]))
    keep = vocab.keep_probabilities(1e-2)
    threshold = 1e-2 * 1010
    assert keep[0] == pytest.approx((math.sqrt(1000 / threshold) + 1) * threshold / 1000)  # 0.1107...
    assert keep[0] == pytest.approx(0.110599, abs=1e-6)  # by hand: (sqrt(99.0099) + 1) * 0.0101
    assert keep[1] == 1.0  # (sqrt(10/10.1) + 1) * 10.1 / 10 > 1, clipped
    assert vocab.keep_probabilities(0).tolist() == [1.0, 1.0]


def test_subsampling_keeps_each_word_with_its_probability():
    vocab = Vocabulary(["a", "b", "c"], np.array([60_000, 30_000, 10_000]))
    keep = vocab.keep_probabilities(0.05)  # s*T = 5000: a (sqrt 12 + 1)/12, b (sqrt 6 + 1)/6, c 1
    assert keep[0] == pytest.approx(0.3720, abs=1e-4) and keep[1] == pytest.approx(0.5749, abs=1e-4)
    assert keep[2] == 1.0
    ids = np.repeat(np.arange(3), vocab.counts)
    kept, _ = subsample(ids, np.zeros_like(ids), keep, np.random.default_rng(0))
    for word in range(3):
        n, p = vocab.counts[word], keep[word]
        observed = (kept == word).sum() / n
        assert abs(observed - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-12, (word, observed, p)


def test_noise_table_follows_unigram_to_the_three_quarters():
    counts = np.array([5000, 1000, 200, 40, 8, 5])
    vocab = Vocabulary([f"w{i}" for i in range(len(counts))], counts)
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    assert np.allclose(vocab.noise_distribution(), expected)
    table = vocab.noise_table()
    draws = table[np.random.default_rng(0).integers(len(table), size=400_000)]
    observed = np.bincount(draws, minlength=len(counts)) / len(draws)
    sigma = np.sqrt(expected * (1 - expected) / len(draws))
    assert np.all(np.abs(observed - expected) < 5 * sigma + 1e-5), (observed, expected)
    # the power flattens: the rarest word is drawn far more often than its unigram share
    assert observed[-1] > 2 * counts[-1] / counts.sum()


def test_one_hot_rows_and_their_memory_cost():
    rows = one_hot([2, 0], 4)
    assert rows.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    cost = one_hot_memory(50_000, 100)
    assert cost["one_hot_bytes"] == 50_000 * 50_000 * 4 and cost["dense_bytes"] == 50_000 * 100 * 4
    assert cost["ratio"] == 500
