"""Profiling: FLOPs counted by hand, peak memory seen, and `lmlab profile RUN --json`."""

import json

import pytest
import torch

from lmlab.cli import main
from lmlab.evaluate.memory import PeakMemory, peak_of_allocations
from lmlab.evaluate.profile import forward_flops_per_token, measure_generation, measure_training
from lmlab.models.ffnn_lm import FFNNLM, FFNNLMConfig
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.models.ngram import NGramConfig, NGramLM


def test_flops_per_token_by_hand():
    ffnn = FFNNLM(FFNNLMConfig(vocab_size=10, context=3, n_embd=4, n_hidden=5, direct=True))
    # hidden (3*4 -> 5), output (5 -> 10), direct (3*4 -> 10); the embedding table is a lookup
    assert forward_flops_per_token(ffnn, context=32) == 2 * (12 * 5 + 5 * 10 + 12 * 10)
    gpt = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=2, n_head=2, n_embd=4))
    per_block = 4 * 3 * 4 + 4 * 4 + 4 * 16 + 16 * 4  # qkv, attention out, mlp up, mlp down
    head = 4 * 10  # the tied output projection multiplies; the position table does not
    assert forward_flops_per_token(gpt, context=8) == 2 * (2 * per_block + head) + 4 * 2 * 4 * 8
    ngram = NGramLM(NGramConfig(vocab_size=5, order=2))
    assert forward_flops_per_token(ngram, context=8) == 0


def test_peak_of_allocations_by_hand():
    assert peak_of_allocations([8, 4, -8, 2, -4, -2]) == 12
    assert peak_of_allocations([]) == 0


def test_peak_memory_of_tensors_of_known_size():
    """8 MiB and 4 MiB held together, then 2 MiB after the 8 are freed: the peak is 12 MiB exactly,
    though the allocator may hand back memory it already holds (resident memory would not move)."""
    with PeakMemory(torch.device("cpu")) as peak:
        first = torch.empty(8 * 2**20, dtype=torch.uint8)
        second = torch.empty(4 * 2**20, dtype=torch.uint8)
        del first
        third = torch.empty(2 * 2**20, dtype=torch.uint8)
        del second, third
    assert peak.bytes == 12 * 2**20 and peak.megabytes == 12.0


def test_peak_memory_of_activations_of_known_shape():
    """x (B, n) @ W (n, m) -> y (B, m) in fp32 allocates exactly B * m * 4 bytes; relu(y) as many again."""
    x, weight = torch.randn(256, 64), torch.randn(64, 1024)
    with PeakMemory(torch.device("cpu")) as peak:
        hidden = x @ weight  # (256, 1024): 1 MiB
        activated = torch.relu(hidden)  # another 1 MiB while both are held
        del hidden, activated
    assert peak.bytes == 2 * 256 * 1024 * 4


def test_a_training_step_peak_covers_its_gradients():
    """The gradients alone (set to None between steps, so allocated inside the step) are one float
    per parameter: a training step's peak cannot be below that."""
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=101, block_size=32, n_layer=2, n_head=2, n_embd=64))
    result = measure_training(gpt, batch_size=4, block_size=32, steps=1, device=torch.device("cpu"))
    gradients_mb = gpt.num_parameters() * 4 / 2**20
    assert gradients_mb < result["peak_memory_mb"] < 50 * gradients_mb


def test_generation_latency_and_throughput_are_consistent():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=1, n_head=2, n_embd=8)).eval()
    speed = measure_generation(gpt, batch_size=2, prompt_length=4, new_tokens=10, device=torch.device("cpu"))
    total_s = (speed["first_token_ms"] + 9 * speed["per_token_ms"]) / 1e3
    assert speed["tokens_per_s"] == pytest.approx(2 * 10 / total_s, rel=1e-6)


def test_profile_command_reports_every_measure(tmp_path, text_file, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "gru", "--data", str(text_file), "--out", str(out), "--preset", "tiny",
                 "--max-steps", "2"]) == 0
    capsys.readouterr()
    assert main(["profile", str(out), "--json", "--batch-sizes", "1,3", "--steps", "1", "--new-tokens", "5"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["family"] == "gru" and result["parameters"] > result["parameters_without_embeddings"] > 0
    assert [row["batch_size"] for row in result["training"]] == [1, 3] == [r["batch_size"] for r in result["generation"]]
    peak = result["device"]
    assert peak["peak_flops"] > 1e8 and "measured" in peak["source"]
    for row in result["training"]:
        assert row["tokens_per_s"] > 0 and row["peak_memory_mb"] >= 0
        assert row["mfu"] == pytest.approx(row["tokens_per_s"] * result["training_flops_per_token"] / peak["peak_flops"])
    for row in result["generation"]:
        assert row["first_token_ms"] > 0 and row["per_token_ms"] > 0 and 0 < row["mfu"] < 1
    assert main(["profile", str(out), "--batch-sizes", "two"]) == 2
    assert "--batch-sizes expects numbers" in capsys.readouterr().err
