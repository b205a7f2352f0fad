"""The GPU paths, checked against the CPU: skipped without CUDA, selected by `pytest -m cuda`.

Each test compares what the GPU computes with an independent reference (the same model on the
CPU in float32, the explicit attention formula, full recomputation without a cache), so a wrong
kernel choice or a device mix-up fails here rather than in a long run. `benchmarks/gpu_check.sh`
runs them first.
"""

import json
import math

import pytest
import torch

from lmlab.cli import main
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.train.acceleration import choose_autocast
from lmlab.train.optim import adamw, precision

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")]
CUDA = torch.device("cuda")


def tiny_gpt(attention="sdpa") -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=37, block_size=24, n_layer=2, n_head=4, n_embd=32, attention=attention,
                         dropout=0.0))


@pytest.fixture
def no_tf32():
    """Plain fp32 matrix products on the GPU, as on the CPU, for the length of one test."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32 = before


def test_forward_and_backward_on_cuda_equal_the_cpu_in_float32(no_tf32):
    cpu = tiny_gpt()
    gpu = tiny_gpt().to(CUDA)
    ids = torch.randint(0, 37, (3, 24), generator=torch.Generator().manual_seed(1))
    targets = torch.roll(ids, -1, dims=1)
    cpu_logits, cpu_loss = cpu(ids, targets)
    gpu_logits, gpu_loss = gpu(ids.to(CUDA), targets.to(CUDA))
    cpu_loss.backward()
    gpu_loss.backward()
    assert torch.allclose(gpu_logits.cpu(), cpu_logits, atol=1e-4)
    for (name, p_cpu), p_gpu in zip(cpu.named_parameters(), gpu.parameters()):
        assert torch.allclose(p_gpu.grad.cpu(), p_cpu.grad, atol=1e-4, rtol=1e-3), name


def test_a_bf16_autocast_training_step_runs_and_lowers_the_loss():
    model = tiny_gpt().to(CUDA).train()
    optimizer = adamw(model, lr=1e-2, betas=(0.9, 0.99), weight_decay=0.1, device=CUDA)
    dtype, _ = choose_autocast("bfloat16", CUDA, 0)
    ids = torch.randint(0, 37, (4, 24), device=CUDA)
    losses = []
    for _ in range(5):  # the same batch five times: the loss must fall
        with precision(CUDA, dtype):
            logits, loss = model(ids, torch.roll(ids, -1, dims=1))
        assert logits.dtype == torch.bfloat16
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    assert all(math.isfinite(value) for value in losses) and losses[-1] < losses[0]


def test_sdpa_equals_the_explicit_formula_on_cuda():
    ids = torch.randint(0, 37, (3, 24), device=CUDA)
    with torch.no_grad():
        fused = tiny_gpt("sdpa").to(CUDA).eval()(ids)[0]
        explicit = tiny_gpt("explicit").to(CUDA).eval()(ids)[0]
    assert torch.allclose(fused, explicit, atol=1e-4)


def test_cached_decoding_on_cuda_equals_full_recomputation():
    model = tiny_gpt().to(CUDA).eval()
    ids = torch.randint(0, 37, (3, 20), device=CUDA)
    with torch.no_grad():
        full, _ = model(ids)
        cache = model.new_cache(batch_size=3)
        steps = [model(ids[:, :5], cache=cache)[0]] + [model(ids[:, t:t + 1], cache=cache)[0] for t in range(5, 20)]
    assert cache.length == 20 and torch.allclose(torch.cat(steps, dim=1), full, atol=1e-4)


def test_lmlab_train_runs_on_cuda(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog.\n" * 300)
    code = main(["train", "--data", corpus, "--preset", "tiny", "--device", "cuda", "--max-steps", "20",
                 "--out", tmp_path / "run", "--json"])
    assert code in (0, None)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["step"] == 20 and math.isfinite(summary["train_loss"]) and summary["train_loss"] < math.log(37)
