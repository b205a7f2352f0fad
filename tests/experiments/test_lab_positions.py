"""`positions --preset tiny`: the robust part of the finding. Without positions and without a mask
a model cannot tell order (a permutation only permutes its outputs); every scheme, and the causal
mask alone, break that. `learned` cannot run past its table; every other scheme can. Sinusoidal
position vectors have norm sqrt(C/2), far above a token vector's 0.02 per dimension."""

import json
import math

from lmlab.cli import main
from lmlab.experiments.positions import PositionSettings, perplexities


def test_tiny_run_shows_order_blindness_and_who_runs_past_the_block(tmp_path, capsys):
    out = tmp_path / "positions"
    assert main(["experiment", "run", "positions", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)["numbers"]
    arms = {name: runs[0] for name, runs in numbers["arms"].items()}
    assert arms["none"]["permutation_gap"] < 1e-5  # exactly equivariant, up to rounding
    assert min(arm["permutation_gap"] for name, arm in arms.items() if name != "none") > 1e-4
    assert arms["none"]["permutation_gap_causal"] > 1e-3  # the causal mask tells order by itself
    assert set(arms["learned"]["perplexity"]) == {"1"}
    assert all(set(arm["perplexity"]) == {"1", "2", "4", "8"} for name, arm in arms.items() if name != "learned")
    assert all(math.isfinite(p) for arm in arms.values() for p in arm["perplexity"].values())
    C = 32  # the tiny preset's width: sin^2 + cos^2 summed over C/2 frequency pairs
    assert abs(arms["sinusoidal"]["position_norm"] - math.sqrt(C / 2)) < 1e-4
    assert arms["sinusoidal"]["token_norm"] < 1.0 < arms["sinusoidal x sqrt(C)"]["token_norm"]
    assert arms["rope"]["position_norm"] == 0.0  # acts inside attention: nothing added to the tokens
    assert (out / "positions.png").read_bytes()[:4] == b"\x89PNG"


def test_perplexity_at_k_times_the_block_is_over_the_first_k_blocks():
    settings = PositionSettings(block_size=2, longest=4)
    losses = [1.0, 1.0, 3.0, 3.0, 0.0, 0.0, 0.0, 0.0]
    assert perplexities(losses, settings) == {1: math.exp(1.0), 2: math.exp(2.0), 4: math.exp(1.0)}
    assert perplexities(losses[:2], settings) == {1: math.exp(1.0)}  # learned: one block only
