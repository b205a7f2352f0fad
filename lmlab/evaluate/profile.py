"""Profiling a language model: the efficiency measures of the notes, measured on this machine.

- parameter count, with and without the token-embedding table;
- FLOPs per token: 2 per weight a token's activations are multiplied by (one multiply, one add),
  plus attention's 4 * n_layer * n_embd * context for a Transformer (QK^T and the weighted sum
  of V over `context` keys). A training step costs about 3x the forward (backward = 2x). Lookup
  tables (embeddings, n-gram counts) cost no multiplications;
- peak memory of a training step and of generation: the most bytes the step's own tensors held
  at once (`lmlab.evaluate.memory.PeakMemory`: the CUDA allocator's peak, or on a CPU the profiler's
  allocation events), measured in its own pass so that it does not slow the timed one. A training
  step's own tensors are its activations, gradients and the temporaries of clipping and AdamW; the
  weights and AdamW's moments, held before the step (created by a warm-up step), are reported
  beside it (`weights_mb`, `optimizer_state_mb`): a step needs the sum;
- latency: time to the first generated token (prefill included) and per token after it;
- throughput in tokens/s, training and generation, at several batch sizes;
- MFU, model FLOPs utilisation (PaLM, Chowdhery et al. 2022): achieved FLOP/s over the device's
  peak. The peak comes from a table of datasheet numbers for known GPUs; for a CPU, and for a GPU
  not in the table ("estimated"), it is the best rate of a large matrix multiplication measured
  here and now.

Training steps are the Trainer's step (forward, backward, clipping, AdamW, autocast: see
`training_step`), taken on a copy of the model with random tokens: speed does not depend on the
text. No Trainer is built and nothing is written to disk.
"""

from __future__ import annotations

import copy
import math
import os
import statistics
import time

import torch
import torch.nn as nn

from lmlab.evaluate.memory import PeakMemory, tensor_bytes
from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.train.acceleration import choose_autocast, model_width
from lmlab.train.optim import adamw, precision

# Dense bf16 tensor-core peaks from the vendors' datasheets (FLOP/s), matched on the device name.
GPU_PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12,
                  "A10": 125e12, "V100": 125e12, "T4": 65e12}


# --- FLOPs --------------------------------------------------------------------------------------
def forward_flops_per_token(model, context: int) -> int:
    """Forward FLOPs per token: 2 x the weights that multiply activations, + attention (GPT)."""
    if not isinstance(model, nn.Module):
        return 0  # counted models look probabilities up
    lookups = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    multiplied = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d))}
    weights = {id(p): p for p in model.parameters() if p.dim() >= 2 and (id(p) in multiplied or id(p) not in lookups)}
    flops = 2 * sum(p.numel() for p in weights.values())
    config = model.config
    if hasattr(config, "n_head"):  # attention over the context: QK^T and AV, n_embd each per key
        flops += 4 * config.n_layer * config.n_embd * context
    return flops


# --- peaks ----------------------------------------------------------------------------------------
def measured_matmul_flops(device: torch.device, dtype: torch.dtype | None = None, size: int = 1024,
                          repeats: int = 5) -> float:
    """The best FLOP/s of a (size x size) @ (size x size) product here, in `dtype` (default: bf16
    on CUDA, fp32 on a CPU)."""
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    a, b = torch.randn(size, size, device=device, dtype=dtype), torch.randn(size, size, device=device, dtype=dtype)
    best = math.inf
    for _ in range(repeats + 1):
        _synchronize(device)
        started = time.perf_counter()
        for _ in range(4):
            a @ b
        _synchronize(device)
        best = min(best, (time.perf_counter() - started) / 4)
    return 2 * size**3 / best


def device_peak(device: torch.device, dtype: torch.dtype | None = None) -> dict:
    """{"name", "peak_flops", "source"}: datasheet for known GPUs, measured otherwise. On a CPU the
    peak is measured in the dtype the work computes in (`dtype`; default fp32): a bf16 step
    measured against an fp32 peak would show an MFU above 100% on CPUs with AMX."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, flops in GPU_PEAK_FLOPS.items():
            if key in name:
                return {"name": name, "peak_flops": flops, "source": "datasheet (dense bf16)"}
        return {"name": name, "peak_flops": measured_matmul_flops(device), "source": "estimated (measured bf16 matmul)"}
    dtype = dtype or torch.float32
    return {"name": f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)",
            "peak_flops": measured_matmul_flops(device, dtype),
            "source": f"measured {'bf16' if dtype == torch.bfloat16 else 'fp32'} matmul"}


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- measurements ---------------------------------------------------------------------------------
def training_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: tuple, autocast, grad_clip: float) -> None:
    """One optimizer step as the Trainer takes it: forward (under `autocast`), backward, clipping of
    the global gradient norm, the AdamW update, and the gradients set back to None."""
    with precision(batch[0].device, autocast):
        _, loss = model(*batch)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def measure_training(model, batch_size: int, block_size: int, steps: int, device: torch.device) -> dict:
    """Seconds per training step on random tokens (the median of `steps` timed steps after one warm-up
    step: robust to a burst of other work on a shared machine), tokens/s, the step's peak memory and
    the memory held before it (weights and buffers; AdamW's state, created by the warm-up step).

    The step is the Trainer's with its default settings (AdamW as `lmlab.train.optim` builds it, lr
    1e-3, betas (0.9, 0.99), weight decay 0.1, clipping at 1.0, the autocast dtype=auto picks), taken on a
    copy of the model so that the model profiled is left as it was. The values do not change the time.
    """
    V = model.config.vocab_size
    batch = (torch.randint(0, V, (batch_size, block_size), device=device),
             torch.randint(0, V, (batch_size, block_size), device=device))
    model = copy.deepcopy(model).to(device).train()
    optimizer = adamw(model, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1, device=device)
    autocast, _ = choose_autocast("auto", device, model_width(model))
    training_step(model, optimizer, batch, autocast, grad_clip=1.0)  # warm-up: allocator, optimizer state
    times = []
    for _ in range(steps):
        _synchronize(device)
        started = time.perf_counter()
        training_step(model, optimizer, batch, autocast, grad_clip=1.0)
        _synchronize(device)
        times.append(time.perf_counter() - started)
    with PeakMemory(device) as peak:  # one more step, untimed: the profiler slows it down
        training_step(model, optimizer, batch, autocast, grad_clip=1.0)
    seconds = statistics.median(times)
    state = [value for values in optimizer.state.values() for value in values.values() if torch.is_tensor(value)]
    return {"seconds_per_step": seconds, "tokens_per_s": batch_size * block_size / seconds,
            "peak_memory_mb": peak.megabytes,
            "weights_mb": tensor_bytes([*model.parameters(), *model.buffers()]) / 2**20,
            "optimizer_state_mb": tensor_bytes(state) / 2**20}


def measure_generation(model, batch_size: int, prompt_length: int, new_tokens: int, device: torch.device) -> dict:
    """Greedy generation: time to the first token, per token after it, tokens/s, peak memory."""
    prompt = torch.randint(0, model.config.vocab_size, (batch_size, prompt_length), device=device)
    list(generate(model, prompt, 2, SamplingConfig(strategy="greedy")))  # warm-up
    stamps = []
    started = time.perf_counter()
    for _ in generate(model, prompt, new_tokens, SamplingConfig(strategy="greedy")):
        _synchronize(device)
        stamps.append(time.perf_counter())
    with PeakMemory(device) as peak:  # the same generation again, untimed
        list(generate(model, prompt, new_tokens, SamplingConfig(strategy="greedy")))
    total = stamps[-1] - started
    return {"first_token_ms": (stamps[0] - started) * 1e3,
            "per_token_ms": (stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1) * 1e3,
            "tokens_per_s": batch_size * len(stamps) / total, "peak_memory_mb": peak.megabytes}


def profile_model(model, device: torch.device, batch_sizes: list[int], block_size: int,
                  train_steps: int = 3, new_tokens: int = 64) -> dict:
    """Every measure of the module docstring for one model, as a JSON-able dict."""
    model = model.to(device).eval()
    forward = forward_flops_per_token(model, block_size)
    peak = device_peak(device)
    result = {"parameters": model.num_parameters(),
              "parameters_without_embeddings": model.num_parameters(include_embeddings=False),
              "forward_flops_per_token": forward, "training_flops_per_token": 3 * forward,
              "receptive_field": getattr(model, "receptive_field", None),  # a CNN's; None for the others
              "device": peak, "block_size": block_size, "training": [], "generation": []}
    autocast = choose_autocast("auto", device, model_width(model))[0] if isinstance(model, nn.Module) else None
    train_peak = device_peak(device, autocast) if autocast is not None and device.type == "cpu" else peak
    if train_peak is not peak:
        result["training_device"] = train_peak  # the peak of the dtype the training step computes in
    for batch_size in batch_sizes:
        if isinstance(model, nn.Module):
            train = measure_training(model, batch_size, block_size, train_steps, device)
            train["mfu"] = train["tokens_per_s"] * 3 * forward / train_peak["peak_flops"]
            result["training"].append({"batch_size": batch_size, **train})
        decode = measure_generation(model, batch_size, min(16, block_size), new_tokens, device)
        decode["mfu"] = decode["tokens_per_s"] * forward / peak["peak_flops"]
        result["generation"].append({"batch_size": batch_size, **decode})
    return result
