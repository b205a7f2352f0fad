"""The fast paths of Unigram training (lmlab/tokenizers/unigram_trie.py, unigram_train.py) against
the plain per-word ones: the prefix tree's E-step, Viterbi uses and best alternatives equal
`lattice`'s forward-backward and Viterbi run word by word; the substring walk equals counting
every occurrence; counting words by stretches equals `training_words` on every text."""

import math
import random
from collections import Counter

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from lmlab.tokenizers import lattice
from lmlab.tokenizers.unigram_train import (MAX_WORD_LENGTH, best_alternatives, count_training_words,
                                            substring_counts, training_words)
from lmlab.tokenizers.unigram_trie import PrefixLattice

words_strategy = st.dictionaries(st.text(alphabet="abc▁", min_size=1, max_size=9), st.integers(1, 5),
                                 min_size=1, max_size=12)


def random_pieces(words, seed):
    """Every character of `words` and a random half of their other substrings (up to 5 long),
    with random scores."""
    rng = random.Random(seed)
    substrings = sorted({w[i:j] for w in words for i in range(len(w)) for j in range(i + 2, min(len(w), i + 5) + 1)})
    texts = sorted({c for w in words for c in w}) + [s for s in substrings if rng.random() < 0.5]
    return {text: i for i, text in enumerate(texts)}, [rng.uniform(-6.0, -0.5) for _ in texts]


def word_lattice(word, pieces):
    return lattice.build_lattice(word, lattice.prefix_table((i, p) for p, i in pieces.items()), -1)


@settings(max_examples=150, deadline=None)
@given(words=words_strategy, seed=st.integers(0, 10**6))
def test_the_tree_e_step_equals_forward_backward_word_by_word(words, seed):
    pieces, scores = random_pieces(words, seed)
    probabilities = [math.exp(s) for s in scores]
    tree = PrefixLattice(words, pieces)
    counts = [0.0] * len(scores)
    alpha = tree.expected_counts([(tree.node[w], f) for w, f in words.items()], probabilities, counts)
    plain = [0.0] * len(scores)
    for word, frequency in words.items():
        assert alpha[tree.node[word]] == pytest.approx(
            lattice.expected_counts(word_lattice(word, pieces), probabilities, frequency, plain), rel=1e-12)
    assert counts == pytest.approx(plain, rel=1e-9, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(words=words_strategy, seed=st.integers(0, 10**6))
def test_the_tree_viterbi_uses_equal_viterbi_word_by_word(words, seed):
    pieces, scores = random_pieces(words, seed)
    tree = PrefixLattice(words, pieces)
    best, back = tree.best_edges(scores)
    uses = tree.frequency_uses([(tree.node[w], f) for w, f in words.items()], back, len(scores))
    plain = [0.0] * len(scores)
    for word, frequency in words.items():
        path = lattice.viterbi(word_lattice(word, pieces), scores)
        assert best[tree.node[word]] == sum(scores[p] for _, _, p in path)
        assert tree.path(back, tree.node[word]) == [p for _, _, p in path]  # the same ties, too
        for _, _, piece in path:
            plain[piece] += frequency
    assert uses == plain


@settings(max_examples=150, deadline=None)
@given(words=words_strategy, seed=st.integers(0, 10**6))
def test_best_alternatives_equal_viterbi_on_each_piece_without_itself(words, seed):
    pieces, scores = random_pieces(words, seed)
    tree = PrefixLattice(words, pieces)
    texts = [p for p in pieces if len(p) > 1]
    found = best_alternatives(texts, pieces, scores, (tree, *tree.best_edges(scores)))
    for text, (score, alternative) in zip(texts, found):
        ends = word_lattice(text, pieces)
        ends[-1].remove((0, pieces[text]))
        expected = [p for _, _, p in lattice.viterbi(ends, scores)]
        assert alternative == expected and score == sum(scores[p] for p in expected)


def test_keep_drops_the_edges_of_dead_pieces_once_a_quarter_died():
    words = {"▁abab": 3, "▁abc": 2, "cab": 1}
    pieces, _ = random_pieces(words, 0)
    tree = PrefixLattice(words, pieces)
    edges = [list(e) for e in tree.edges]
    tree.keep([i != len(pieces) - 1 for i in range(len(pieces))])  # one dead piece of many: not worth a pass
    assert tree.edges == edges and tree.living == len(pieces)
    characters = [len(p) == 1 for p in pieces]
    tree.keep(characters)
    assert tree.living == sum(characters)
    assert tree.edges == [[(u, p) for u, p in e if characters[p]] for e in edges]
    assert sum(map(len, tree.edges)) == len(tree.node) - 1  # one character ends each prefix


@settings(max_examples=200, deadline=None)
@given(words=st.dictionaries(st.text(alphabet="ab▁c", min_size=1, max_size=20), st.integers(1, 4), max_size=10),
       max_length=st.integers(2, 6))
def test_the_substring_walk_equals_counting_every_occurrence(words, max_length):
    counts, extended = substring_counts(words, max_length)
    plain = Counter()
    for word, frequency in words.items():
        for start in range(len(word)):
            for end in range(start + 2, min(len(word), start + max_length) + 1):
                plain[word[start:end]] += frequency
    assert counts == dict(plain)
    for substring in plain:
        extensions = [count for s, count in plain.items() if len(s) == len(substring) + 1 and s.startswith(substring)]
        assert extended.get(substring, 0) == (max(extensions) if len(substring) >= 2 and extensions else 0)


# The rule as first written: maximal runs of one kind, then cut into MAX_WORD_LENGTH characters.
UNBOUNDED_WORD = regex.compile(r"\u2581?(?:[\p{L}\p{M}]+|\p{N}+|[^\s\p{L}\p{M}\p{N}\u2581]+)|\u2581|\s")


def cut_words(escaped):
    return [word[i:i + MAX_WORD_LENGTH] for word in UNBOUNDED_WORD.findall(escaped)
            for i in range(0, len(word), MAX_WORD_LENGTH)]


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("a1,.▁ \n\u0301é中٣") | st.characters(), max_size=120),
       run=st.sampled_from(["a", "1", ",", "中", "▁"]), length=st.integers(0, 70))
def test_training_words_cut_long_runs_as_the_plain_rule(text, run, length):
    for escaped in (text, text + run * length, "▁" + run * length + text):
        assert training_words(escaped) == cut_words(escaped)


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.sampled_from("ab▁ ,\n1é") | st.characters(), max_size=40),
                      max_size=8))
def test_counting_by_stretches_equals_counting_the_training_words_of_each_text(texts):
    texts = texts + ["▁" + "a" * 40, "no prefix▁here", "▁" + "ab" * 16]
    assert count_training_words(texts) == Counter(w for text in texts for w in training_words(text))
