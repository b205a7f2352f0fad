"""`gradients-through-time --preset tiny`: the robust part of the finding. At initialisation the
plain RNN's gradient shrinks faster per step back than the LSTM's; the linearised RNN's per-step
factor is the spectral radius of W_hh; on the copy task the gated cells learn a lag of 10 that
the RNN cannot. And the maths by hand: (W^T)^k, the forget-gate path, the copy task's batches."""

import json
import math

import pytest
import torch

from lmlab.cli import main
from lmlab.experiments import copy_task
from lmlab.experiments.gradients_through_time import (gradient_profile, linearised_norms, per_step_factor,
                                                      set_spectral_radius, spectral_radius)
from lmlab.models.rnn_lm import RNNLM, RNNLMConfig
from lmlab.nn.rnn import Recurrent, recorded_states


def test_tiny_run_measures_the_vanishing_gradient_the_spectral_radius_and_memory(tmp_path, capsys):
    out = tmp_path / "gradients"
    assert main(["experiment", "run", "gradients-through-time", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)["numbers"]
    cells = {cell: runs[0] for cell, runs in numbers["cells"].items()}
    assert len(cells["gru"]["init"]["h"]) == 24 and len(cells["lstm"]["trained"]["c"]) == 24  # distances 0..T-1
    assert cells["rnn"]["init"]["h_factor"] < cells["lstm"]["init"]["h_factor"] < 1.0
    assert cells["lstm"]["init"]["forget_mean"] == pytest.approx(0.73, abs=0.03)  # sigmoid(forget bias 1)
    for name, runs in numbers["radii"].items():
        rho = float(name.split(",")[0].removeprefix("rho="))
        assert runs[0]["init"]["spectral_radius"] == pytest.approx(rho, rel=1e-4)
        assert runs[0]["init"]["linearised_factor"] == pytest.approx(rho, rel=0.05)
    copying = numbers["copy"]
    assert copying["rnn"]["10"][0] < 0.3 < copying["gru"]["10"][0] and copying["lstm"]["10"][0] > 0.5
    assert (out / "gradients-through-time.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("rho", [0.5, 1.0, 1.5])
def test_at_zero_input_each_step_back_multiplies_the_gradient_by_w_transposed(rho):
    """The notes' derivation, exactly: with zero inputs and biases h_t = 0, tanh' = 1, so
    dL/dh_{T-1-k} = (W^T)^k dL/dh_{T-1}; for W = rho x orthogonal its norm is rho^k."""
    torch.manual_seed(0)
    layer = Recurrent("rnn", 3, 6).double()
    with torch.no_grad():
        layer.bias_ih_l0.zero_()
        layer.bias_hh_l0.zero_()
        layer.weight_hh_l0.copy_(torch.linalg.qr(torch.randn(6, 6, dtype=torch.double)).Q)
    set_spectral_radius(layer.weight_hh_l0, rho)
    assert spectral_radius(layer.weight_hh_l0) == pytest.approx(rho)
    direction = torch.randn(1, 6, dtype=torch.double)
    with recorded_states(layer) as recorded:
        out, _ = layer(torch.zeros(1, 10, 3, dtype=torch.double))
    grads = torch.autograd.grad((out[:, -1] * direction).sum(), recorded[0])
    for k in range(10):
        expected = direction @ torch.linalg.matrix_power(layer.weight_hh_l0, k)  # row vector: (W^T)^k g
        assert torch.allclose(grads[9 - k], expected)
        assert grads[9 - k].norm().item() == pytest.approx(rho ** k * direction.norm().item())
    assert per_step_factor([g.norm().item() for g in reversed(grads)]) == pytest.approx(rho)


def test_linearised_norms_follow_the_spectral_radius_of_a_random_matrix():
    weight = torch.randn(32, 32)
    for rho in (0.5, 1.5):
        set_spectral_radius(weight, rho)
        assert per_step_factor(linearised_norms(weight, 80)) == pytest.approx(rho, rel=0.05)


def test_per_step_factor_of_a_geometric_sequence_and_of_an_underflow():
    assert per_step_factor([7.0] + [3 * 0.8 ** d for d in range(1, 20)]) == pytest.approx(0.8)
    assert per_step_factor([1.0, 0.5, 0.25, 0.0, 0.0]) == pytest.approx(0.5)  # zeros (underflow) are left out
    assert not math.isnan(per_step_factor([1.0, 0.0]))


def test_without_recurrent_weights_the_cell_gradient_is_exactly_the_forget_gate_path():
    """With W_hh = 0 the gates do not depend on h_{t-1}, so c_{t-1} reaches a last-position loss only
    through c_t: dL/dc_{t-1} = f_t ⊙ dL/dc_t, the notes' approximation with nothing left over."""
    torch.manual_seed(0)
    model = RNNLM(RNNLMConfig(vocab_size=11, cell="lstm", block_size=8, n_embd=6, n_hidden=5, n_layer=1))
    ids, targets = torch.randint(0, 11, (3, 8)), torch.randint(0, 11, (3, 8))
    assert gradient_profile(model, ids, targets)["indirect_share"] > 0.01
    with torch.no_grad():
        model.rnn.weight_hh_l0.zero_()
    profile = gradient_profile(model, ids, targets)
    assert profile["indirect_share"] < 1e-6 and 0 < profile["forget_mean"] < 1


def test_copy_task_batches_hide_the_key_until_the_marker_and_depend_on_seed_and_step():
    task = copy_task.CopyTask(lag=5, symbols=4)
    (ids, targets), = copy_task.step_batch(task, seed=0, step=3)
    assert ids.shape == targets.shape == (32, 6)
    assert (ids[:, -1] == 4).all() and (ids[:, 1:-1] == 5).all() and (ids[:, 0] < 4).all()
    assert (targets[:, :-1] == -1).all() and torch.equal(targets[:, -1], ids[:, 0])
    assert torch.equal(copy_task.step_batch(task, 0, 3)[0][0], ids)
    assert not torch.equal(copy_task.step_batch(task, 0, 4)[0][0], ids)
    noisy, _ = copy_task.copy_batch(copy_task.CopyTask(lag=50, symbols=4, distractors=True), 8, torch.Generator())
    assert (noisy[:, 1:-1] < 4).all() and len(noisy[:, 1:-1].unique()) == 4
