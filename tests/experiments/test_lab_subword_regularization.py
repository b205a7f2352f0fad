"""`subword-regularization --preset tiny` (a synthetic sentiment set and pydoc: no download): the
robust part is the mechanism. Typos cut words into more pieces, and so does sampling a
segmentation, for BPE and for Unigram; every arm is scored on clean and noisy dev. Plus the noise
function (seeded, pure, rate 0 = identity) and bits per character."""

import json
import math

import pytest
import torch

from lmlab.cli import main
from lmlab.experiments.subword_regularization import add_typos, bits_per_char, typo
from lmlab.tokenizers import CharTokenizer


def test_tiny_run_scores_every_arm_clean_and_noisy_and_sampling_fragments_words(tmp_path, capsys):
    out = tmp_path / "sr"
    assert main(["experiment", "run", "subword-regularization", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)["numbers"]
    arms = numbers["classifier"]
    assert set(arms) == {"BPE", "BPE-dropout", "Unigram", "Unigram sampling"}
    for name, runs in arms.items():
        assert 0.0 <= runs[0]["noisy"] <= 1.0 and runs[0]["gap"] == pytest.approx(runs[0]["clean"] - runs[0]["noisy"])
    for plain in ("BPE", "Unigram"):
        ppw = arms[plain][0]["pieces_per_word"]
        assert ppw["noisy"] > ppw["clean"] + 0.1  # typos fragment words
        assert ppw["sampled"] > ppw["clean"]  # and so does sampling
    assert arms["BPE"][0]["clean"] > 0.9  # the toy set is learnable
    for runs in numbers["lm"].values():
        assert runs[0]["noisy_bpc"] > runs[0]["clean_bpc"] > 0  # typos are harder to predict
    assert (out / "subword-regularization.png").read_bytes()[:4] == b"\x89PNG"


def test_missing_sst2_is_a_clear_error(tmp_path, capsys):
    assert main(["experiment", "run", "subword-regularization", "--preset", "tiny", "--out", str(tmp_path / "x"),
                 "--set", f"sst2={tmp_path / 'nowhere'}"]) == 2
    assert "SST-2" in capsys.readouterr().err


def test_typos_are_seeded_pure_and_rate_zero_is_the_identity():
    text = "a wonderful, charming film about 1990s Paris"
    assert add_typos(text, 0.0, seed=3) == text
    assert add_typos(text, 0.5, seed=3) == add_typos(text, 0.5, seed=3)
    assert len({add_typos(text, 1.0, seed=s) for s in range(10)}) > 1
    noisy = add_typos(text, 1.0, seed=0)
    assert noisy.split()[0] == "a" and "1990s" in noisy  # short words and digits are left alone
    assert sum(a != b for a, b in zip(noisy.split(), text.split())) >= 4  # each 3+ letter word edited
    import random

    edits = {typo("abcd", random.Random(s)) for s in range(200)}
    assert {"bacd", "bcd", "aabcd"} <= edits and all(abs(len(e) - 4) <= 1 for e in edits)


class Uniform(torch.nn.Module):
    """A model that gives every one of V tokens probability 1 / V: log2(V) bits per token."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab, self.weight = vocab, torch.nn.Parameter(torch.zeros(1))

    def forward(self, ids, targets=None):  # scored by its logits: the loss is the caller's
        return torch.zeros(*ids.shape, self.vocab), None


def test_bits_per_character_of_a_uniform_model_is_log2_v_per_character_token():
    tokenizer = CharTokenizer().train(["abcd"])
    assert bits_per_char(Uniform(tokenizer.vocab_size), tokenizer, "abcd" * 50, 8) == pytest.approx(
        math.log2(tokenizer.vocab_size))
