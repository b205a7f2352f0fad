"""`seeds --preset tiny`: the robust part of the finding. The same seed trained twice gives a
bit-identical state dict on CPU (GPT and classifier), another seed gives other weights; the
sizing rule n = 2 (2 sd / d)^2 is checked by hand."""

import json

import pytest
import torch
from safetensors.torch import save_file

from lmlab.cli import main
from lmlab.experiments.seeds import resolvable_gain, seeds_needed, synthetic_sentiment, weight_difference


def test_tiny_run_same_seed_is_bit_identical_and_another_seed_is_not(tmp_path, capsys):
    out = tmp_path / "seeds"
    assert main(["experiment", "run", "seeds", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)["numbers"]
    for what in ("gpt", "classifier"):
        assert numbers["repeat"][what]["same_seed"]["identical"]
        assert numbers["repeat"][what]["same_seed"]["max_abs_difference"] == 0.0
        assert not numbers["repeat"][what]["other_seed"]["identical"]
        assert numbers["repeat"][what]["other_seed"]["max_abs_difference"] > 0.0
    gpt, classifier = numbers["gpt"], numbers["classifier"]
    assert len(gpt) == len(classifier) == 4  # seeds 0, 1, 2 and seed 0 again
    assert gpt[-1]["curve"] == gpt[0]["curve"] and classifier[-1]["accuracy"] == classifier[0]["accuracy"]
    assert len({run["val_loss"] for run in gpt[:-1]}) == 3  # every seed lands elsewhere
    assert numbers["sizing"]["classifier"]["seeds_needed"] >= 2
    threads = numbers["repeat"]["gpt"]["other_threads"]  # whether it is identical depends on the CPU's kernels
    assert threads["threads"][1] == 2 and threads["tensors"] == numbers["repeat"]["gpt"]["same_seed"]["tensors"]
    assert [run["curve"][-1][0] for run in numbers["gpt_threads"].values()] == [10, 10]
    assert (out / "seeds.png").read_bytes()[:4] == b"\x89PNG"


def test_seeds_needed_is_two_standard_errors_of_a_difference_of_means():
    assert seeds_needed(sd=0.5, improvement=0.5) == 8  # 2 * (2 * 0.5 / 0.5)^2
    assert seeds_needed(sd=1.0, improvement=0.5) == 32
    assert seeds_needed(sd=0.3, improvement=0.5) == 3  # 2.88, rounded up
    assert seeds_needed(sd=0.01, improvement=0.5) == 2  # never fewer than two: a spread needs two
    assert resolvable_gain(sd=0.5, seeds=8) == pytest.approx(0.5)  # 2 * 0.5 * sqrt(2 / 8)
    for sd in (0.2, 0.7, 1.3):  # with the seeds it asks for, the gain is resolved
        assert resolvable_gain(sd, seeds_needed(sd, 0.5)) <= 0.5 + 1e-12


def test_weight_difference_compares_every_tensor_exactly(tmp_path):
    weights = {"w": torch.arange(6.0).view(2, 3), "empty": torch.zeros(0)}
    for name, tensors in (("a", weights), ("b", {**weights}),
                          ("c", {**weights, "w": weights["w"] + torch.tensor([[0, 0, 0.25], [0, 0, 0]])})):
        (tmp_path / name).mkdir()
        save_file(tensors, str(tmp_path / name / "model.safetensors"))
    assert weight_difference(tmp_path / "a", tmp_path / "b") == {"identical": True, "tensors": 2,
                                                                 "max_abs_difference": 0.0}
    assert weight_difference(tmp_path / "a", tmp_path / "c") == {"identical": False, "tensors": 2,
                                                                 "max_abs_difference": 0.25}


def test_synthetic_sentiment_is_a_glue_folder_with_both_labels(tmp_path):
    folder = synthetic_sentiment(tmp_path / "data", train=50, dev=20)
    lines = (folder / "train.tsv").read_text().splitlines()
    assert lines[0] == "sentence\tlabel" and len(lines) == 51
    assert {line.split("\t")[1] for line in lines[1:]} == {"0", "1"}
    assert (folder / "dev.tsv").read_text() == synthetic_sentiment(tmp_path / "again", 50, 20).joinpath(
        "dev.tsv").read_text()  # the same set every time


def test_a_missing_classifier_folder_is_one_line_before_any_training(tmp_path, capsys):
    argv = ["experiment", "run", "seeds", "--preset", "tiny", "--out", str(tmp_path / "x"),
            "--set", f"classifier_data={tmp_path / 'nothing'}"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "classifier_data=" in error and "synthetic" in error and error.count("\n") == 1
    assert not (tmp_path / "x" / "parts" / "gpt-seed0.json").exists()
