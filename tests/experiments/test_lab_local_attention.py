"""`local-attention --preset tiny`: a window as long as the block trains the very same model as
full attention, and the windowed KV cache stays at W - 1 positions however long the generation,
while full attention's grows with it."""

import json

from lmlab.cli import main


def test_tiny_run_shows_what_the_window_costs_and_saves(tmp_path, capsys):
    out = tmp_path / "local"
    assert main(["experiment", "run", "local-attention", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    numbers = result["numbers"]
    losses = {name: [run["val_loss"] for run in runs] for name, runs in numbers["arms"].items()}
    assert losses["W=16"] == losses["full"]  # block 16: the window hides nothing, bit for bit
    assert losses["W=4"] != losses["full"]  # a shorter window is another model
    bytes_per_position = 2 * 1 * 32 * 4  # keys and values, 1 layer, n_embd 32 (all heads), float32
    decoding = numbers["decoding_profile"]
    assert [r["cache_bytes"] for r in decoding["full"]] == [n * bytes_per_position for n in (16, 48)]
    assert [r["cache_bytes"] for r in decoding["window"]] == [3 * bytes_per_position] * 2  # W - 1 = 3, flat
    assert any("stops at W - 1 = 3 positions" in sentence for sentence in result["answer"])
    assert [r["length"] for r in numbers["training_profile"]["window"]] == [32, 64]
    assert (out / "local-attention.png").read_bytes()[:4] == b"\x89PNG"
