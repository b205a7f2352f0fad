"""`parallelism --preset tiny`: the structure behind the timings, never the timings themselves.
The GPT's forward calls each block once whatever T, on all T positions; the LSTM calls its cell
T times per layer, one position each; teacher forcing and serial cached decoding give the same
logits; the two models have (nearly) the same number of parameters."""

import json

import pytest
import torch

from lmlab.cli import main
from lmlab.experiments.parallelism import (ParallelSettings, lstm_model, matching_width, models,
                                           parallel_against_serial, sequential_calls)


def test_tiny_run_counts_serial_steps_and_times_every_length(tmp_path, capsys):
    out = tmp_path / "parallelism"
    assert main(["experiment", "run", "parallelism", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    arms = json.loads(capsys.readouterr().out)["numbers"]["arms"]
    gpt, lstm = arms["GPT"], arms["LSTM"]
    assert gpt["structure"] == {"calls": 1, "positions": 8} and gpt["structure_long"] == {"calls": 1, "positions": 16}
    assert lstm["structure"] == {"calls": 8, "positions": 1} and lstm["structure_long"] == {"calls": 16, "positions": 1}
    assert lstm["parameters"] == pytest.approx(gpt["parameters"], rel=0.02)
    for arm in (gpt, lstm):
        assert [row["length"] for row in arm["by_length"]] == [8, 32]
        assert all(row["max_difference"] < 1e-4 and row["seconds_per_step"] > 0 for row in arm["by_length"])
        assert len(arm["decode_ms"]) == 4
    assert (out / "parallelism.png").read_bytes()[:4] == b"\x89PNG"


def test_serial_calls_grow_with_the_length_for_the_lstm_only():
    settings = ParallelSettings(n_layer=2, n_head=2, n_embd=16, lengths="4,8", decode_tokens=8)
    pair = models(settings, seed=0)
    for T in (3, 7):
        ids = torch.randint(0, 128, (2, T))
        assert sequential_calls(pair["GPT"], ids) == {"calls": 2, "positions": T}
        assert sequential_calls(pair["LSTM"], ids) == {"calls": 2 * T, "positions": 1}
    assert pair["LSTM"].rnn.fast  # counting ran the written-out loop and put the fused path back


def test_matching_width_is_the_closest_parameter_count():
    settings = ParallelSettings(n_layer=2, n_embd=32)
    target = 50_000
    width = matching_width(settings, target)
    gaps = {h: abs(lstm_model(settings, h).num_parameters() - target) for h in (width - 1, width, width + 1)}
    assert gaps[width] == min(gaps.values())


def test_teacher_forcing_equals_serial_decoding_for_both_models():
    settings = ParallelSettings(n_layer=1, n_head=2, n_embd=16, lengths="12", decode_tokens=12)
    for model in models(settings, seed=1).values():
        assert parallel_against_serial(model, 12, torch.device("cpu"))["max_difference"] < 1e-5
