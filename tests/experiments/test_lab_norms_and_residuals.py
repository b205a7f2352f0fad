"""`norms-and-residuals --preset tiny`: the robust part of the finding. LayerNorm keeps a causal
model causal (no output depends on a later input, and training and evaluation compute the same
loss); BatchNorm in training mode does not. Without residuals the gradient reaching the first
layer of a deep stack is a fraction of what reaches the last; with them it is not."""

import json

import pytest

from lmlab.cli import main
from lmlab.experiments.norms_and_residuals import vanishing_ratio


def test_tiny_run_shows_batchnorm_leaks_and_residuals_carry_the_gradient(tmp_path, capsys):
    out = tmp_path / "norms"
    assert main(["experiment", "run", "norms-and-residuals", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)["numbers"]
    batch = numbers["batch"]
    assert batch["layernorm, batch 2"]["future_gradient"] == 0.0  # exactly: per-token statistics
    assert batch["batchnorm, batch 2"]["future_gradient"] > 1e-3  # batch statistics mix in later tokens
    layer = batch["layernorm, batch 2"]
    assert layer["batch_stats_loss"] == pytest.approx(layer["val_loss_eval"], abs=1e-6)
    norm = batch["batchnorm, batch 2"]
    assert norm["batch_stats_loss"] != pytest.approx(norm["val_loss_eval"], abs=1e-4)
    plain, residual = numbers["depth"]["6 layers, no residual"], numbers["depth"]["6 layers, residual"]
    assert len(plain["layer_gradients_init"]) == 6
    assert vanishing_ratio(plain["layer_gradients_init"]) < 0.5 * vanishing_ratio(residual["layer_gradients_init"])
    assert set(numbers["placement"]) == {"layernorm pre", "layernorm post", "batchnorm pre", "batchnorm post"}
    assert (out / "norms-and-residuals.png").read_bytes()[:4] == b"\x89PNG"


def test_vanishing_ratio_is_first_over_last():
    assert vanishing_ratio([0.5, 1.0, 2.0]) == 0.25
