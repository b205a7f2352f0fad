"""`masks --preset tiny`: without the causal mask the model reads its answers (lower training
loss, worse once the future is hidden); with it, no output has a gradient from a later input, and
a padding mask keeps outputs still however many pads follow."""

import json

from lmlab.cli import main


def test_tiny_run_shows_what_the_masks_prevent(tmp_path, capsys):
    out = tmp_path / "masks"
    assert main(["experiment", "run", "masks", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)["numbers"]
    arms = {name: runs[0] for name, runs in numbers["arms"].items()}
    assert arms["off by one"]["train_loss"] < arms["causal"]["train_loss"]  # it reads its own target
    assert arms["off by one"]["honest_val_loss"] > arms["off by one"]["own_val_loss"]  # and fails without it
    gradient = arms["causal"]["future_gradient"]
    assert all(row[s] == 0.0 for t, row in enumerate(gradient) for s in range(t + 1, len(row)))  # exactly
    assert all(row[t] > 0 for t, row in enumerate(gradient))
    leaky = arms["off by one"]["future_gradient"]  # one layer: exactly one step ahead
    assert all(row[t + 1] > 0 for t, row in enumerate(leaky[:-1]))
    assert all(row[s] == 0.0 for t, row in enumerate(leaky) for s in range(t + 2, len(row)))
    assert max(numbers["padding_drift"]["masked"]) < 1e-5 < 1e-2 < numbers["padding_drift"]["unmasked"][-1]
    assert (out / "masks.png").read_bytes()[:4] == b"\x89PNG"
