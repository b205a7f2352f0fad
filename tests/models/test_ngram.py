"""The n-gram model: hand-computed probabilities, normalisation, perplexity, NLTK, saving."""

import itertools
import math

import numpy as np
import pytest
import torch

from lmlab.errors import UserError
from lmlab.models.ngram import NGramConfig, NGramLM, modified_kn_discounts

# Ten words in three sentences; "zebra" is in the vocabulary but never seen. </s> = id 7.
WORDS = ["the", "cat", "sat", "dog", "a", "ran", "fast", "</s>", "zebra"]
ID = {w: i for i, w in enumerate(WORDS)}
SENTENCES = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "cat", "ran", "fast"]]


def stream(sentences) -> np.ndarray:
    return np.array([ID[w] for s in sentences for w in [*s, "</s>"]])


def ten_word_model(**config) -> NGramLM:
    return NGramLM(NGramConfig(vocab_size=9, eos_id=7, **config)).fit(stream(SENTENCES))


def prob(model, context: list[str], word: str) -> float:
    """P(word | context), context given as the n - 1 previous tokens (<s> allowed)."""
    row = np.array([[model.bos if w == "<s>" else ID[w] for w in context]])
    return float(model.distribution(row)[0, ID[word]])


def test_add_one_by_hand():
    model = ten_word_model(order=2, smoothing="add-k", k=1.0)
    # (count(v w) + 1) / (count(v) + V), V = 9
    assert prob(model, ["cat"], "sat") == pytest.approx((1 + 1) / (2 + 9))
    assert prob(model, ["<s>"], "the") == pytest.approx((2 + 1) / (3 + 9))
    assert prob(model, ["cat"], "zebra") == pytest.approx(1 / (2 + 9))
    assert prob(model, ["zebra"], "cat") == pytest.approx(1 / 9)  # an unseen context: uniform
    half = ten_word_model(order=2, smoothing="add-k", k=0.5)
    assert prob(half, ["the"], "dog") == pytest.approx((1 + 0.5) / (2 + 0.5 * 9))


def test_interpolated_kneser_ney_by_hand():
    model = ten_word_model(order=2, discount=0.5)
    # Continuation counts N1+(. w): the 1, cat 2, sat 2, dog 1, a 1, ran 1, fast 1, </s> 2; N1+(..) = 11.
    # P1(w) = max(N1+(. w) - D, 0) / 11 + (D * 8 seen words / 11) / V
    p1 = lambda n: max(n - 0.5, 0) / 11 + 0.5 * 8 / 11 / 9  # noqa: E731
    assert prob(model, ["zebra"], "cat") == pytest.approx(p1(2))  # unseen context: the unigram level
    assert prob(model, ["zebra"], "zebra") == pytest.approx(p1(0))
    # P(sat | cat) = (c(cat sat) - D) / c(cat .) + D * N1+(cat .) / c(cat .) * P1(sat)
    assert prob(model, ["cat"], "sat") == pytest.approx((1 - 0.5) / 2 + 0.5 * 2 / 2 * p1(2))
    assert prob(model, ["<s>"], "the") == pytest.approx((2 - 0.5) / 3 + 0.5 * 2 / 3 * p1(1))
    assert prob(model, ["sat"], "dog") == pytest.approx(0.5 * 1 / 2 * p1(1))  # (sat </s>) twice only


def test_kneser_ney_trigram_uses_continuation_counts_below_the_top():
    model = ten_word_model(order=3, discount=0.5)
    p1 = lambda n: max(n - 0.5, 0) / 11 + 0.5 * 8 / 11 / 9  # noqa: E731
    # middle order: continuation counts of (cat, w): (the cat sat), (a cat ran) -> N1+(. cat sat) = 1,
    # N1+(. cat ran) = 1, N1+(. cat .) = 2, two distinct successors
    p2_sat = (1 - 0.5) / 2 + 0.5 * 2 / 2 * p1(2)
    # top order: c(the cat sat) = 1, c(the cat .) = 1
    assert prob(model, ["the", "cat"], "sat") == pytest.approx((1 - 0.5) / 1 + 0.5 * 1 / 1 * p2_sat)
    p2_ran = (1 - 0.5) / 2 + 0.5 * 2 / 2 * p1(1)
    assert prob(model, ["the", "cat"], "ran") == pytest.approx(0.5 * p2_ran)


def test_modified_kneser_ney_discounts_by_hand():
    counts = np.array([1] * 10 + [2] * 4 + [3] * 2 + [4] * 1 + [9])  # n1..n4 = 10, 4, 2, 1
    y = 10 / (10 + 2 * 4)
    expected = [0, 1 - 2 * y * 4 / 10, 2 - 3 * y * 2 / 4, 3 - 4 * y * 1 / 2]  # 5/9, 7/6, 17/9
    assert np.allclose(modified_kn_discounts(counts), expected)
    assert np.allclose(modified_kn_discounts(np.array([1] * 9 + [2] * 2)), [0, 9 / 13, 9 / 13, 9 / 13])


def _random_text(seed=0, words=3000, vocab=40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = np.minimum(rng.zipf(1.3, size=words), vocab) - 1  # Zipfian, as words are
    ids[rng.random(words) < 0.08] = vocab  # sentence ends
    return ids


@pytest.mark.parametrize("config", [dict(), dict(discount=0.3), dict(smoothing="add-k", k=0.1),
                                    dict(smoothing="backoff"), dict(smoothing="backoff", discount=0.7)])
@pytest.mark.parametrize("order", [1, 3, 4])
def test_every_context_distribution_sums_to_one(config, order):
    model = NGramLM(NGramConfig(vocab_size=41, eos_id=40, order=order, **config)).fit(_random_text())
    contexts = []  # every context seen in training, plus unseen and cut-short ones
    if order > 1:
        tokens, offsets = model._padded(_random_text())
        targets = np.flatnonzero(offsets >= order - 1)
        contexts.append(tokens[targets[:, None] - np.arange(order - 1, 0, -1)[None, :]])
        rng = np.random.default_rng(1)
        contexts.append(rng.integers(0, 41, size=(200, order - 1)))
        contexts.append(np.where(rng.random((200, order - 1)) < 0.3, -1, rng.integers(0, 41, size=(200, order - 1))))
    contexts = np.unique(np.concatenate(contexts), axis=0) if contexts else np.zeros((1, 0), dtype=np.int64)
    probabilities = model.distribution(contexts)
    assert np.all(probabilities >= 0)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("config", [dict(), dict(smoothing="add-k"), dict(smoothing="backoff")])
def test_log_likelihood_agrees_with_the_distribution_and_perplexity_is_exp_mean_nll(config):
    model = NGramLM(NGramConfig(vocab_size=41, eos_id=40, order=3, **config)).fit(_random_text(0))
    held_out = _random_text(1, words=400)
    log_p = model.log_likelihood(held_out)
    tokens, offsets = model._padded(held_out)
    targets = np.flatnonzero(offsets >= 2)
    context = tokens[targets[:, None] - np.array([2, 1])[None, :]]
    expected = np.log(model.distribution(context)[np.arange(len(targets)), tokens[targets]])
    assert len(log_p) == len(held_out) and np.allclose(log_p, expected, atol=1e-10)
    assert model.perplexity(held_out) == pytest.approx(math.exp(-expected.mean()), rel=1e-12)


def test_perplexity_by_hand():
    model = ten_word_model(order=2, smoothing="add-k", k=1.0)
    # "the cat sat </s>": 3/12, 2/11, 2/11, 3/11
    nll = -(math.log(3 / 12) + math.log(2 / 11) + math.log(2 / 11) + math.log(3 / 11)) / 4
    assert model.perplexity(stream([["the", "cat", "sat"]])) == pytest.approx(math.exp(nll), rel=1e-12)


def test_a_fragment_is_scored_from_an_unknown_context_not_a_sentence_start():
    model = ten_word_model(order=3, discount=0.5)
    words = np.array([ID["cat"], ID["sat"], ID["fast"]])
    contexts = np.array([[-1, -1], [-1, ID["cat"]], [ID["cat"], ID["sat"]]])  # -1: not known
    expected = np.log(model.distribution(contexts)[np.arange(3), words])
    assert np.allclose(model.log_likelihood(words, fragment=True), expected, atol=1e-12)
    starts = np.log(model.distribution(np.array([[model.bos, model.bos]]))[0, ID["cat"]])
    assert model.log_likelihood(words)[0] == pytest.approx(starts) and starts != pytest.approx(expected[0])
    unigram = ten_word_model(order=1)
    assert np.array_equal(unigram.log_likelihood(words, fragment=True), unigram.log_likelihood(words))


def _padded_grams(sentence: list[str], order: int) -> list[list[tuple[str, ...]]]:
    """Per predicted token of <s>^(n-1) sentence </s>: its j-grams, j = 1..order (plain tuples)."""
    padded = ["<s>"] * (order - 1) + sentence + ["</s>"]
    return [[tuple(padded[i - j + 1:i + 1]) for j in range(1, order + 1)] for i in range(order - 1, len(padded))]


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
def test_matched_orders_is_the_longest_training_ngram_ending_at_each_token(smoothing):
    order = 4
    model = ten_word_model(order=order, smoothing=smoothing)
    seen = {gram for s in SENTENCES for grams in _padded_grams(s, order) for gram in grams}
    test = [["the", "cat", "ran", "fast"], ["zebra", "sat"], ["a", "dog", "sat"], ["the", "cat", "sat"]]
    expected = [sum(1 for _ in itertools.takewhile(lambda gram: gram in seen, grams))  # j-grams grow from the token
                for s in test for grams in _padded_grams(s, order)]
    assert model.matched_orders(stream(test)).tolist() == expected
    assert expected[:6] == [4, 4, 2, 3, 4, 0]  # by hand: "the cat" opens a sentence; "zebra" was never seen
    lower = ten_word_model(order=2, smoothing=smoothing)  # an order-j model sees the same j-grams
    assert lower.matched_orders(stream(test)).tolist() == [min(m, 2) for m in expected]


def test_cross_check_with_nltk_kneser_ney_interpolated():
    pytest.importorskip("nltk")
    from ngram_reference import nltk_kneser_ney

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(30)]
    sentences = [[words[i] for i in np.minimum(rng.zipf(1.4, size=rng.integers(2, 9)), 30) - 1] for _ in range(150)]
    index = {w: i for i, w in enumerate(words + ["</s>"])}
    ids = np.array([index[w] for s in sentences for w in [*s, "</s>"]])
    for order in (2, 3):
        ours = NGramLM(NGramConfig(vocab_size=31, eos_id=30, order=order, discount=0.1)).fit(ids)
        theirs = nltk_kneser_ney(sentences, order, discount=0.1, vocab_size=31)
        contexts = {tuple(s[max(0, i - order + 1) : i]) for s in sentences for i in range(len(s))}
        for context in sorted(contexts)[:40]:
            padded = ("<s>",) * (order - 1 - len(context)) + context
            row = np.array([[ours.bos if w == "<s>" else index[w] for w in padded]])
            distribution = ours.distribution(row)[0]
            for word in words[:12] + ["</s>"]:
                assert distribution[index[word]] == pytest.approx(theirs.score(word, padded), abs=1e-12)


def test_forward_gives_log_probabilities_and_decodes_with_a_history():
    model = NGramLM(NGramConfig(vocab_size=41, eos_id=40, order=3)).fit(_random_text())
    ids = torch.tensor([[3, 1, 40, 0, 2, 5]])
    logits, loss = model(ids[:, :-1], ids[:, 1:])
    assert logits.shape == (1, 5, 41) and torch.allclose(logits.exp().sum(-1), torch.ones(1, 5), atol=1e-5)
    # after the end-of-sentence token, the context is <s> <s>, as in training
    bos = np.array([[model.bos, model.bos]])
    assert np.allclose(logits[0, 2].exp().numpy(), model.distribution(bos)[0], atol=1e-6)
    assert np.allclose(logits[0, 4].exp().numpy(), model.distribution(np.array([[0, 2]]))[0], atol=1e-6)
    # the first position has no history: it falls back to the unigram level
    assert np.allclose(logits[0, 0].exp().numpy(), model.distribution(np.array([[-1, 3]]))[0], atol=1e-6)
    cache = model.new_cache(1)
    steps = [model(ids[:, t : t + 1], cache=cache)[0] for t in range(5)]
    assert torch.allclose(torch.cat(steps, dim=1), logits, atol=1e-6)
    assert loss.item() == pytest.approx(-logits[0, torch.arange(5), ids[0, 1:]].mean().item(), rel=1e-6)


def test_counts_round_trip_and_config_errors():
    model = NGramLM(NGramConfig(vocab_size=41, eos_id=40, order=3)).fit(_random_text())
    copy = NGramLM(NGramConfig(vocab_size=41, eos_id=40, order=3))
    copy.load_state_dict(model.state_dict())
    text = _random_text(2, words=300)
    assert np.array_equal(copy.log_likelihood(text), model.log_likelihood(text))
    with pytest.raises(UserError, match="keys_4"):
        NGramLM(NGramConfig(vocab_size=41, order=4)).load_state_dict(model.state_dict())
    with pytest.raises(UserError, match="discount"):
        NGramConfig(vocab_size=5, discount=1.5).validate()
