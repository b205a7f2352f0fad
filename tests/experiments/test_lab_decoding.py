"""`decoding --preset tiny`: greedy is beam 1, beam finds sequences at least as probable as
greedy's, the notes' toy gives 0.30 and 0.36; and the metrics against hand-computed values."""

import json

import pytest

from lmlab.cli import main
from lmlab.experiments.decoding import distinct_n, repetition_rate, self_bleu, toy


def test_distinct_n_counts_unique_word_ngrams_over_all_texts():
    assert distinct_n(["a b a", "a c"], 1) == 3 / 5  # a b a a c: {a, b, c}
    assert distinct_n(["a b a b", "a b"], 2) == 2 / 4  # ab ba ab | ab: {ab, ba}
    assert distinct_n(["a"], 2) == 0.0


def test_repetition_rate_is_the_share_of_bigrams_seen_before():
    assert repetition_rate("a b a b a b") == 3 / 5  # ab ba (ab) (ba) (ab)
    assert repetition_rate("a b c d") == 0.0


def test_self_bleu_is_100_for_copies_and_low_for_unrelated_texts():
    pytest.importorskip("sacrebleu", reason="self-BLEU is sacrebleu's")
    assert self_bleu(["the cat sat on the mat"] * 3) == pytest.approx(100.0)
    assert self_bleu(["the cat sat on the mat", "dogs run in fields today"]) < 5


def test_notes_toy_greedy_finds_030_beam_finds_036():
    result = toy()
    assert result["greedy"]["sequence"] == "C-D" and result["greedy"]["probability"] == pytest.approx(0.30)
    assert result["beam 2"]["sequence"] == "A-B" and result["beam 2"]["probability"] == pytest.approx(0.36)


def test_tiny_run_compares_the_strategies(tmp_path, capsys):
    pytest.importorskip("sacrebleu", reason="self-BLEU is sacrebleu's")
    out = tmp_path / "decoding"
    assert main(["experiment", "run", "decoding", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    strategies = json.loads(capsys.readouterr().out)["numbers"]["strategies"]
    assert strategies["greedy"]["texts"] == strategies["beam 1"]["texts"]
    for k in (2, 4, 8):  # per prompt: beam's continuation is at least as probable as greedy's
        assert all(b >= g - 1e-4 for b, g in zip(strategies[f"beam {k}"]["log_prob"], strategies["greedy"]["log_prob"]))
    hot, cold = (sum(strategies[f"temperature {t}"]["self_perplexity"]) for t in (1.3, 0.7))
    assert hot > cold > sum(strategies["greedy"]["self_perplexity"])  # hotter sampling: less probable text
    assert (out / "decoding.png").read_bytes()[:4] == b"\x89PNG"
