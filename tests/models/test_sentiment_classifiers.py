"""The word-level sentence classifiers: lexicon rules, perceptron updates, TextCNN and BiLSTM."""

import pytest
import torch

from lmlab.models.bilstm import BiLSTM, BiLSTMConfig, reverse_within_length
from lmlab.models.bow import BowClassifier, BowConfig, count_bigrams, perceptron_fit, perceptron_step
from lmlab.models.lexicon import (BOOSTERS, CONTRASTS, NEGATIONS, LexiconClassifier, LexiconConfig, induce_lexicon,
                                  tune_threshold)
from lmlab.models.textcnn import TextCNN, TextCNNConfig
from lmlab.tokenizers.word import WordTokenizer


def lexicon_scorer(lexicon):
    words = ["the", "film", "is", "movie", *lexicon, *NEGATIONS, *BOOSTERS, *CONTRASTS]
    tokenizer = WordTokenizer().train(words, vocab_size=1000)
    model = LexiconClassifier(LexiconConfig(vocab_size=tokenizer.vocab_size))
    model.set_lexicon(lexicon, tokenizer.word_to_id)
    return lambda text: model.score(torch.tensor([tokenizer.encode(text)])).item()


def test_negation_flips_the_score_of_not_good():
    score = lexicon_scorer({"good": 1.9, "bad": -2.5})
    assert score("good") > 0 and score("not good") < 0
    assert score("isn't good") < 0 and score("the film is n't good") < 0  # "n't", as SST-2 writes it
    assert score("bad") < 0 < score("not bad")
    # the window: a negation three words back still counts, four words back does not
    assert score("not the film good") < 0 < score("not the film is good")
    # negating damps as it flips (VADER's -0.74)
    raw = lambda x: x / (x * x + 15) ** 0.5  # noqa: E731
    assert score("good") == pytest.approx(raw(1.9)) and score("not good") == pytest.approx(raw(-0.74 * 1.9))


def test_intensifiers_and_but():
    score = lexicon_scorer({"good": 1.9, "bad": -2.5})
    assert score("very good") > score("good") > score("slightly good") > 0
    assert score("very bad") < score("bad")
    # after "but" counts 1.5x, before it 0.5x: 0.5 * 1.9 - 1.5 * 2.5 < 0 and 0.5 * -2.5 + 1.5 * 1.9 > 0
    assert score("good but bad") < 0 < score("bad but good")
    assert score("film") == 0.0


def test_threshold_is_tuned_to_the_best_training_accuracy():
    scores = torch.tensor([-0.5, -0.2, 0.1, 0.3, 0.6])
    labels = torch.tensor([0, 0, 0, 1, 1])
    assert tune_threshold(scores, labels) == pytest.approx(0.2)  # between 0.1 and 0.3: all five right
    assert tune_threshold(scores, torch.ones(5, dtype=torch.long)) < -0.5  # everything positive


def test_induced_lexicon_is_the_log_odds():
    lexicon = induce_lexicon([["good", "film"], ["bad", "film"], ["good"]], [1, 0, 1], min_count=1, smoothing=1.0)
    assert lexicon["good"] > 0 > lexicon["bad"]
    # "film": once in each class; N+ = 3, N- = 2, V = 3: log(2/6) - log(2/5)
    assert lexicon["film"] == pytest.approx(torch.log(torch.tensor(2 / 6)).item() - torch.log(torch.tensor(2 / 5)).item())


def test_perceptron_updates_follow_the_rule_by_hand():
    tokenizer = WordTokenizer().train(["good movie", "bad movie"], vocab_size=10)
    good, bad, movie = (tokenizer.word_to_id[w] for w in ("good", "bad", "movie"))
    W, b = torch.zeros(2, tokenizer.vocab_size), torch.zeros(2)
    x1, x2 = torch.tensor(tokenizer.encode("good movie")), torch.tensor(tokenizer.encode("bad movie"))
    # 1. "good movie" (1): all scores 0, the tie predicts 0: a mistake; w_1 += x1, w_0 -= x1
    assert perceptron_step(W, b, x1, 1)
    assert W[1, good] == W[1, movie] == 1 and W[0, good] == W[0, movie] == -1 and b.tolist() == [-1, 1]
    # 2. "bad movie" (0): s_0 = -1 (movie) - 1 (bias) = -2 < s_1 = 2: a mistake; w_0 += x2, w_1 -= x2
    assert perceptron_step(W, b, x2, 0)
    assert (W[0, good], W[0, bad], W[0, movie]) == (-1, 1, 0) and (W[1, good], W[1, bad], W[1, movie]) == (1, -1, 0)
    assert b.tolist() == [0, 0]
    # 3. both are now right: no more updates
    before = W.clone()
    assert not perceptron_step(W, b, x1, 1) and not perceptron_step(W, b, x2, 0)
    assert torch.equal(W, before)


def test_averaged_perceptron_separates_its_training_set():
    tokenizer = WordTokenizer().train(["good movie", "bad movie", "great film", "awful film"], vocab_size=20)
    rows = [(tokenizer.encode(t), [], y) for t, y in
            [("good movie", 1), ("bad movie", 0), ("great film", 1), ("awful film", 0)]]
    keys = count_bigrams([ids for ids, _, _ in rows], tokenizer.vocab_size, 1)
    model = BowClassifier(BowConfig(vocab_size=tokenizer.vocab_size, n_bigrams=len(keys), algorithm="perceptron"))
    model.bigram_keys.copy_(keys)
    fitted = perceptron_fit(model, rows, epochs=5, seed=0)
    assert fitted["mistakes_per_epoch"][-1] == 0 and fitted["examples_seen"] == 20
    logits, _ = model(torch.tensor([ids for ids, _, _ in rows]))
    assert logits.argmax(-1).tolist() == [1, 0, 1, 0]
    top = model.top_features(tokenizer.id_to_token, k=2)
    assert {name for name, _ in top["negative"]} & {"bad", "awful", "bad movie", "awful film"}


def test_bigram_features_are_looked_up_exactly():
    keys = count_bigrams([[2, 3, 4], [2, 3]], vocab_size=10, min_count=2)
    assert keys.tolist() == [23]  # only "2 3" was seen twice
    model = BowClassifier(BowConfig(vocab_size=10, n_bigrams=1))
    model.bigram_keys.copy_(keys)
    features, mask = model.features(torch.tensor([[2, 3, 4, -1]]))
    assert features[mask].tolist() == [2, 3, 4, 10]  # the words, then bigram #0 at index V + 0


def overfit(model, steps=80):
    torch.manual_seed(0)
    ids = torch.randint(2, 50, (8, 7))
    ids[4:, 5:] = -1  # padding
    labels = torch.tensor([0, 1, 0, 1, 1, 0, 1, 0])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        _, loss = model(ids, None, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    logits, loss = model(ids, None, labels)
    return loss.item(), (logits.argmax(-1) == labels).float().mean().item()


@pytest.mark.parametrize("family", ["textcnn", "bilstm"])
def test_neural_classifiers_overfit_a_small_batch(family):
    torch.manual_seed(0)
    model = (TextCNN(TextCNNConfig(vocab_size=50, n_embd=16, n_filters=8, dropout=0.0)) if family == "textcnn"
             else BiLSTM(BiLSTMConfig(vocab_size=50, n_embd=16, n_hidden=16, dropout=0.0)))
    loss, accuracy = overfit(model)
    assert accuracy == 1.0 and loss < 0.05


@pytest.mark.parametrize("family", ["textcnn", "bilstm"])
def test_logits_do_not_depend_on_the_batch_padding(family):
    torch.manual_seed(0)
    model = (TextCNN(TextCNNConfig(vocab_size=50, n_embd=8, n_filters=4, widths="2,5")) if family == "textcnn"
             else BiLSTM(BiLSTMConfig(vocab_size=50, n_embd=8, n_hidden=8))).eval()
    short = torch.tensor([[5, 6, 7]])
    alone, _ = model(short)
    padded, _ = model(torch.tensor([[5, 6, 7, -1, -1, -1, -1], [1, 2, 3, 4, 5, 6, 7]]))
    torch.testing.assert_close(padded[0], alone[0])


def test_reverse_within_length_keeps_the_padding_in_place():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 6, 7]])
    assert reverse_within_length(x, torch.tensor([3, 4])).tolist() == [[3, 2, 1, 0], [7, 6, 5, 4]]
