"""`attention-scaling --preset tiny`: the robust part of the finding. Unscaled scores have variance
~d_k, so the softmax saturates as heads widen and the gradient at the scores shrinks; scaled
scores keep unit variance and the same entropy at every head size."""

import json
import math

from lmlab.cli import main
from lmlab.experiments.attention_scaling import score_statistics

import torch


def test_tiny_run_shows_saturation_without_the_scale_and_none_with_it(tmp_path, capsys):
    out = tmp_path / "scaling"
    assert main(["experiment", "run", "attention-scaling", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    random = results["numbers"]["random"]
    sizes = sorted(random, key=int)
    unscaled = [random[d]["dot"] for d in sizes]
    scaled = [random[d]["scaled_dot"] for d in sizes]
    for d, stats in zip(sizes, unscaled):
        assert abs(stats["score_variance"] / int(d) - 1) < 0.15  # Var(q.k) = d_k
    assert all(a["entropy"] > b["entropy"] for a, b in zip(unscaled, unscaled[1:]))  # falls with d_k
    assert max(s["entropy"] for s in scaled) - min(s["entropy"] for s in scaled) < 0.05  # flat
    assert unscaled[-1]["largest_weight"] > 0.8 > 0.2 > scaled[-1]["largest_weight"]
    assert unscaled[-1]["grad_scores"] < 0.6 * scaled[-1]["grad_scores"]  # the softmax's Jacobian closes
    assert (out / "attention-scaling.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    assert "## Answer" in report and f"{unscaled[-1]['largest_weight']:.2f} unscaled" in report
    assert set(results["numbers"]["arms"]) == {"dot", "scaled_dot"}
    assert all(math.isfinite(arm["val_loss"]) for arms in results["numbers"]["arms"].values() for arm in arms)


def test_a_one_hot_softmax_passes_no_gradient_to_its_scores():
    q = torch.tensor([[[100.0, 0.0]]])  # one query, scoring two keys 100 apart
    k = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    stats = score_statistics(q, k, scaled=False)
    assert stats["largest_weight"] > 0.999 and stats["grad_scores"] < 1e-6 and stats["saturated"] == 1.0
