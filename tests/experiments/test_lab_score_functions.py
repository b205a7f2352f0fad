"""`score-functions --preset tiny`: every score trains on both tasks; the parameter counts are the
formulas' (bilinear adds a d_k x d_k matrix per head, additive more); tying W_K to W_Q removes one
projection per layer and makes the scores symmetric."""

import json
import math

import torch

from lmlab.cli import main
from lmlab.experiments.score_functions import SHARED, SharedQueryKeyGPT, write_translation_task
from lmlab.models.gpt import GPTConfig


def test_tiny_run_trains_every_score_on_both_tasks(tmp_path, capsys):
    out = tmp_path / "scores"
    assert main(["experiment", "run", "score-functions", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)["numbers"]
    gpt = {name: runs[0] for name, runs in numbers["gpt"].items()}
    assert set(numbers["translation"]) == {"scaled_dot", "dot", "bilinear", "additive"}
    assert all(math.isfinite(r[0]["val_loss"]) for task in ("gpt", "translation") for r in numbers[task].values())
    assert gpt["dot"]["parameters"] == gpt["scaled_dot"]["parameters"]
    head_dim, heads, layers = 16, 2, 1  # the tiny preset
    assert gpt["bilinear"]["parameters"] - gpt["dot"]["parameters"] == layers * heads * head_dim * head_dim
    assert gpt["additive"]["parameters"] > gpt["dot"]["parameters"]
    assert gpt["scaled_dot"]["parameters"] - gpt[SHARED]["parameters"] == layers * (32 * 32 + 32)  # W_K and its bias
    assert (out / "score-functions.png").read_bytes()[:4] == b"\x89PNG"


def test_shared_query_key_scores_are_symmetric():
    torch.manual_seed(0)
    model = SharedQueryKeyGPT(GPTConfig(vocab_size=11, n_layer=1, n_head=2, n_embd=16, block_size=8, fused_qkv=False,
                                        score="dot"))
    attention = model.blocks[0].attn
    x = torch.randn(1, 5, 16)
    q, k = attention.split_heads(attention.q(x), 2), attention.split_heads(attention.k(x), 2)
    scores = attention.score(q, k)
    assert torch.allclose(scores, scores.transpose(-2, -1))


def test_the_translation_task_reverses_and_translates_word_by_word(tmp_path):
    translations = write_translation_task(tmp_path, pairs=20)
    source = (tmp_path / "train.src").read_text().splitlines()
    target = (tmp_path / "train.tgt").read_text().splitlines()
    assert len(source) == len(target) == 20 and len((tmp_path / "val.src").read_text().splitlines()) == 2
    for s, t in zip(source, target):
        assert t.split() == [translations[w] for w in reversed(s.split())]
