"""`heads --preset tiny`: the robust part of the finding. Orthogonal initialisation puts the
heads' projections in orthogonal subspaces at step 0 (overlap 0), the default random one at the
overlap random subspaces have (d_k / C); ablation measures every head of every layer."""

import json

import pytest
import torch

from lmlab.cli import main
from lmlab.experiments.heads import map_similarity, subspace_overlap


def test_tiny_run_measures_head_overlap_from_step_zero_and_ablates_each_head(tmp_path, capsys):
    out = tmp_path / "heads"
    assert main(["experiment", "run", "heads", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    arms = {name: runs[0] for name, runs in json.loads(capsys.readouterr().out)["numbers"]["arms"].items()}
    assert [h["step"] for h in arms["4 heads"]["history"]] == [0, 10, 20, 30]
    assert arms["4 heads, orthogonal init"]["history"][0]["subspace_overlap"] < 1e-6
    assert arms["4 heads"]["history"][0]["subspace_overlap"] == pytest.approx(8 / 32, abs=0.05)  # d_k / C
    assert arms["16 heads"]["history"][0]["subspace_overlap"] == pytest.approx(2 / 32, abs=0.03)
    assert arms["1 head"]["history"][0]["subspace_overlap"] is None
    assert [len(layer) for layer in arms["16 heads"]["ablation"]] == [16]
    assert 0.0 <= arms["4 heads"]["history"][-1]["map_similarity"] <= 1.0 + 1e-6
    assert (out / "heads.png").read_bytes()[:4] == b"\x89PNG"


def test_overlap_is_one_for_a_shared_subspace_and_zero_for_orthogonal_ones():
    basis = torch.eye(4)
    assert subspace_overlap(torch.cat([basis[:2], basis[:2]]), n_head=2) == pytest.approx(1.0)
    assert subspace_overlap(torch.cat([basis[:2], basis[2:]]), n_head=2) == pytest.approx(0.0, abs=1e-7)
    assert subspace_overlap(torch.cat([basis[:2], 3 * basis[[1, 0]]]), n_head=2) == pytest.approx(1.0)  # span only


def test_map_similarity_of_identical_and_disjoint_maps():
    one_hot = torch.eye(3)[None, None]  # (1, 1, 3, 3): each query on itself
    reversed_ = torch.eye(3).flip(1)[None, None]
    assert map_similarity(torch.cat([one_hot, one_hot], dim=1)) == pytest.approx(1.0)
    assert map_similarity(torch.cat([one_hot, reversed_], dim=1)) == pytest.approx(1 / 3)  # share the middle only
