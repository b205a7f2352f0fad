"""Profiling: FLOPs counted by hand, peak memory seen, and `lmlab profile RUN --json`."""

import json

import pytest
import torch
import torch.nn as nn

from lmlab.cli import main
from lmlab.evaluate.memory import PeakMemory, peak_of_allocations, tensor_bytes
from lmlab.evaluate.profile import (device_peak, forward_flops_per_token, measure_generation, measure_training,
                                    training_step)
from lmlab.models.ffnn_lm import FFNNLM, FFNNLMConfig
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.models.ngram import NGramConfig, NGramLM
from lmlab.train.optim import adamw

CPU = torch.device("cpu")


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
    """(address, +bytes) allocations and (address, -bytes) frees: 8 and 4 held together is the peak."""
    assert peak_of_allocations([(1, 8), (2, 4), (1, -8), (3, 2), (2, -4), (3, -2)]) == 12
    assert peak_of_allocations([]) == 0
    # a block from before the window (address 9) freed inside does not lower the count...
    assert peak_of_allocations([(9, -8), (1, 4), (2, 4)]) == 8
    # ...and an address reused after its free is a new block
    assert peak_of_allocations([(1, 4), (1, -4), (1, 6), (2, 1)]) == 7


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


def test_peak_memory_of_a_float32_tensor_freed_before_the_end():
    """N float32 elements are 4N bytes; freed inside the window, they still count at the peak
    (the old RSS sampling reported about 0 here: the memory is handed back before it looks)."""
    n = 3_000_001
    with PeakMemory(CPU) as peak:
        x = torch.full((n,), 1.0)
        del x
    assert peak.bytes == 4 * n


def test_a_free_of_an_older_tensor_does_not_hide_the_windows_allocations():
    """A tensor allocated under an earlier PeakMemory and freed in this one is not this window's;
    the 4 MiB allocated after the free are (a running sum of every event would say 0)."""
    with PeakMemory(CPU) as first:
        old = torch.ones(2**20)
    with PeakMemory(CPU) as second:
        del old
        new = torch.ones(2**20)
        del new
    assert first.bytes == second.bytes == 4 * 2**20


def test_linear_forward_holds_its_output():
    """nn.Linear(64, 1000) on a (32, 64) input allocates its (32, 1000) fp32 output and nothing else;
    the input and the weights were there before."""
    torch.manual_seed(0)
    linear, x = nn.Linear(64, 1000), torch.randn(32, 64)
    with PeakMemory(CPU) as peak:
        y = linear(x)  # (32, 1000)
    assert peak.bytes == y.numel() * 4 == 32 * 1000 * 4


def test_a_first_training_step_holds_weights_gradients_and_adamw_moments():
    """Model, optimizer and first step inside the window: at the AdamW update the weights, their
    gradients and AdamW's two moments are all alive, 4 x the parameter bytes; the activations of
    2 x 16 tokens add little (fused AdamW makes no parameter-sized temporaries)."""
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=101, block_size=16, n_layer=2, n_head=2, n_embd=64)
    batch = (torch.randint(0, 101, (2, 16)), torch.randint(0, 101, (2, 16)))
    with PeakMemory(CPU) as peak:
        gpt = GPT(config)
        optimizer = adamw(gpt, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1, device=CPU)
        training_step(gpt, optimizer, batch, autocast=None, grad_clip=1.0)
    parameter_bytes = 4 * sum(p.numel() for p in gpt.parameters())
    assert 4 * parameter_bytes <= peak.bytes < 4.5 * parameter_bytes


def test_tensor_bytes_counts_a_storage_once():
    weight = torch.zeros(10, 4)
    assert tensor_bytes([weight, weight, weight[2:], torch.zeros(3, dtype=torch.float64)]) == 160 + 24


def test_a_training_step_peak_covers_its_gradients():
    """The gradients alone (set to None between steps, so allocated inside the step) are one float
    per parameter: a training step's peak cannot be below that."""
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=101, block_size=32, n_layer=2, n_head=2, n_embd=64))
    result = measure_training(gpt, batch_size=4, block_size=32, steps=1, device=torch.device("cpu"))
    gradients_mb = gpt.num_parameters() * 4 / 2**20
    assert gradients_mb < result["peak_memory_mb"] < 50 * gradients_mb
    # held before the step, not in its peak: the weights, and AdamW's two moments (+ a step count each)
    assert result["weights_mb"] == gradients_mb
    assert result["optimizer_state_mb"] == pytest.approx(2 * gradients_mb, rel=1e-3)


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
    assert main(["profile", str(out), "--batch-sizes", "1", "--steps", "1", "--new-tokens", "2"]) == 0
    note = capsys.readouterr().out.splitlines()[-1]
    weights_mb = result["training"][0]["weights_mb"]
    assert note.startswith("train peak MB: the most the training step's own tensors held at once")
    assert f"{weights_mb:.1f} MB of weights" in note and "generate peak MB" in note
    assert main(["profile", str(out), "--batch-sizes", "two"]) == 2
    assert "--batch-sizes expects numbers" in capsys.readouterr().err


def test_a_cpu_peak_is_measured_in_the_dtype_the_work_computes_in():
    cpu = torch.device("cpu")
    assert device_peak(cpu)["source"] == "measured fp32 matmul"
    assert device_peak(cpu, torch.bfloat16)["source"] == "measured bf16 matmul"
