"""`nonlinearity --preset tiny`: the robust part of the finding. A stack of linear layers is one
linear map (its product), so on two spirals it stays near chance like a single linear layer,
while the same layers with ReLU or GELU between them separate the spirals."""

import json

import pytest
import torch

from lmlab.cli import main
from lmlab.experiments.nonlinearity import LayerStack, collapse, never_positive, two_spirals
from lmlab.models.gpt import GPT, GPTConfig


def test_tiny_run_a_linear_stack_stays_near_chance_and_an_activation_separates_the_spirals(tmp_path, capsys):
    out = tmp_path / "nonlinearity"
    assert main(["experiment", "run", "nonlinearity", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)["numbers"]
    spirals = {name: runs[0] for name, runs in numbers["spirals"].items()}
    assert spirals["linear stack"]["test_accuracy"] < 0.65 and spirals["one linear layer"]["test_accuracy"] < 0.65
    assert spirals["linear stack"]["collapse_gap"] < 1e-4
    assert spirals["ReLU MLP"]["test_accuracy"] > 0.9 and spirals["GELU MLP"]["test_accuracy"] > 0.9
    ffn = {name: runs[0] for name, runs in numbers["ffn"].items()}
    assert ffn["ReLU"]["parameters"] == ffn["GELU"]["parameters"] and 0 <= ffn["ReLU"]["never_positive"] < 0.5
    assert abs(ffn["SwiGLU"]["parameters"] / ffn["GELU"]["parameters"] - 1) < 0.05  # 2/3 of the units, 3 matrices
    assert all(run["val_loss"] < 4.7 for run in ffn.values())  # below uniform over ~105 characters: they learn
    assert (out / "nonlinearity.png").read_bytes()[:4] == b"\x89PNG"


def test_linear_layers_without_activation_collapse_to_their_product():
    torch.manual_seed(0)
    stack, x = LayerStack(4, 8, "none"), torch.randn(16, 2)
    weight, bias = collapse(stack.layers)
    assert weight.shape == (2, 2) and bias.shape == (2,)
    first, second, third, fourth = (layer.weight for layer in stack.layers)
    assert torch.allclose(weight, fourth @ third @ second @ first)
    assert torch.allclose(stack(x)[0], x @ weight.T + bias, atol=1e-6)
    relu = LayerStack(4, 8, "relu")
    weight, bias = collapse(relu.layers)
    assert not torch.allclose(relu(x)[0], x @ weight.T + bias, atol=1e-3)  # an activation breaks the collapse


def test_two_spirals_are_point_reflections_of_each_other():
    x, labels = two_spirals(50, turns=2.0, noise=0.0, seed=0)
    assert x.shape == (100, 2) and labels.tolist() == [0] * 50 + [1] * 50
    assert torch.allclose(x[50:], -x[:50]) and x.norm(dim=1).max() <= 1.0 + 1e-6


def test_never_positive_counts_the_units_silenced_in_every_layer():
    torch.manual_seed(0)
    for activation, projection in (("relu", "up"), ("swiglu", "gate")):
        model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16, activation=activation))
        for block in model.blocks:
            layer = getattr(block.mlp, projection)
            with torch.no_grad():
                layer.bias[: layer.out_features // 4] = -1e3  # a quarter of the units can never fire
        assert never_positive(model.eval(), torch.randint(0, 20, (4, 16))) == pytest.approx(0.25)
