"""`mini-batching --preset tiny` (a random GPT and the synthetic sentiment set: no download): the
robust part is what does not depend on timing. Peak memory grows with the batch, bucketing wastes
less padding than padding per batch, which wastes less than a fixed length; every loop trick's fast
version gives the slow one's result. No timed assertion: speeds are only reported."""

import json

import pytest
import torch

from lmlab.cli import main
from lmlab.experiments.mini_batching import TRICKS, padding_strategies, padding_waste


def test_tiny_run_memory_grows_with_the_batch_and_bucketing_pads_least(tmp_path, capsys):
    out = tmp_path / "mb"
    assert main(["experiment", "run", "mini-batching", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)["numbers"]
    one, four = numbers["batch_sizes"]["rows"]
    assert (one["batch_size"], four["batch_size"]) == (1, 4)
    assert four["train"]["peak_memory_mb"] > 2 * one["train"]["peak_memory_mb"] > 0  # activations scale with B
    assert all(row[what]["tokens_per_s"] > 0 for row in (one, four) for what in ("train", "generation"))
    padding = numbers["padding"]
    assert padding["fixed"] > padding["per_batch"] > padding["bucketing"] >= 0
    assert all(trick["same_result"] for trick in numbers["tricks"].values())
    assert (out / "mini-batching.png").read_bytes()[:4] == b"\x89PNG"


def test_padding_waste_by_hand():
    assert padding_waste([[2, 4], [3, 3]]) == pytest.approx(1 - 12 / 14)  # pad 2 -> 4; none in the second
    assert padding_waste([[2, 4], [3, 3]], width=8) == pytest.approx(1 - 12 / 32)
    waste = padding_strategies([1] * 50 + [9] * 50, batch_size=10, max_length=8, seed=0)
    assert waste["longest"] == 8 and waste["bucketing"] == pytest.approx(0.0)  # sorted pools: equal lengths
    assert waste["fixed"] == pytest.approx(1 - (50 * 1 + 50 * 8) / (100 * 8))


@pytest.mark.parametrize("name", list(TRICKS))
def test_each_tricks_fast_version_computes_the_same(name):
    slow, fast, make = TRICKS[name]
    arguments = make(16, torch.device("cpu"), torch.Generator().manual_seed(0))
    expected, got = slow(*arguments), fast(*arguments)
    if isinstance(expected, torch.Tensor):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    else:
        assert got == expected
