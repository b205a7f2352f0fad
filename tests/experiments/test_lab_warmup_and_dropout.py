"""`warmup-and-dropout --preset tiny`: the robust part of the finding. Every arm's logged learning
rate is its schedule's formula (Noam without warmup starts at the peak); with dropout 0, train
mode changes nothing; with dropout on, leaving it on at evaluation raises the validation loss."""

import json

import pytest
import torch

from lmlab.cli import main
from lmlab.experiments.warmup_and_dropout import ARMS, PRESETS, mean_loss
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.train.schedules import SCHEDULES


def test_tiny_run_follows_the_schedules_and_dropout_off_at_evaluation_matters(tmp_path, capsys):
    out = tmp_path / "wd"
    assert main(["experiment", "run", "warmup-and-dropout", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    arms = {name: runs[0] for name, runs in json.loads(capsys.readouterr().out)["numbers"]["arms"].items()}
    settings = PRESETS["tiny"]
    for name, (schedule, warmup, _) in ARMS.items():
        steps, lrs = zip(*arms[name]["lr_curve"])  # the rate of update `step` (1-based) is the formula's at step - 1
        expected = [SCHEDULES[schedule](step - 1, settings.steps, settings.lr, settings.lr / 10,
                                        settings.warmup if warmup else 0) for step in steps]
        assert steps[0] == 1 and steps[-1] == settings.steps and list(lrs) == pytest.approx(expected, rel=1e-12)
    assert arms["noam, no warmup"]["lr_curve"][0] == [1, pytest.approx(settings.lr)]  # no warmup: the peak at once
    assert arms["noam, warmup"]["lr_curve"][0] == [1, pytest.approx(settings.lr / settings.warmup)]
    no_dropout = arms["cosine, warmup"]
    assert no_dropout["val_dropout_on"] == no_dropout["val_eval"]  # p = 0: train mode is eval mode
    for name in ("dropout 0.1", "dropout 0.3"):
        assert arms[name]["val_dropout_on"] > arms[name]["val_eval"]
        assert arms[name]["gap"] == pytest.approx(arms[name]["val_eval"] - arms[name]["train_eval"])
    assert (out / "warmup-and-dropout.png").read_bytes()[:4] == b"\x89PNG"


def test_mean_loss_uses_dropout_only_in_train_mode_and_repeats():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.5))
    batches = [(torch.randint(0, 11, (2, 8)), torch.randint(0, 11, (2, 8)))]
    with torch.no_grad():
        model.eval()
        reference = model(*batches[0])[1].item()
    assert mean_loss(model, batches, dropout_on=False) == reference
    assert mean_loss(model, batches, dropout_on=True) != reference
    assert mean_loss(model, batches, dropout_on=True) == mean_loss(model, batches, dropout_on=True)  # fixed masks
    assert not model.training  # handed back in eval mode


def test_too_small_a_corpus_slice_is_one_line(tmp_path, capsys):
    argv = ["experiment", "run", "warmup-and-dropout", "--preset", "tiny", "--out", str(tmp_path / "x"),
            "--set", "corpus_chars=100"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "corpus_chars must be at least ten blocks (320)" in error and error.count("\n") == 1
