"""How much memory a training run needs, known before a byte is allocated.

AdamW training keeps, for every parameter, its fp32 weight (4 bytes), its gradient (4) and Adam's
two moment estimates (8): 16 bytes, before a single activation. A model built on PyTorch's
``meta`` device has shapes but no storage, so the parameter count of any family is known at once,
and a configuration that cannot fit (``--set n_embd=1000000``) is refused with the memory it would
need instead of failing deep inside torch, or taking the machine down.
"""

from __future__ import annotations

import os
from typing import Callable

import torch

from lmlab.errors import UserError

BYTES_PER_PARAMETER = 4 + 4 + 8  # weight, gradient, AdamW's two moments (fp32)


def parameters_of(build: Callable[[], torch.nn.Module]) -> int:
    """The parameter count of `build()`, built on the meta device (no memory allocated)."""
    with torch.device("meta"):
        model = build()
    return sum(p.numel() for p in model.parameters())


def available_memory(device: torch.device) -> int:
    """Bytes the device has in all: the GPU's memory, or the machine's physical memory."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if count < 1024 or unit == "PB":
            return f"{count:,.1f} {unit}"
        count /= 1024


def check_fits(build: Callable[[], torch.nn.Module], device: torch.device) -> int:
    """Refuse a model whose parameters and optimizer state alone exceed the device's memory.
    Returns the parameter count."""
    count = parameters_of(build)
    need, have = count * BYTES_PER_PARAMETER, available_memory(device)
    if need > have:
        raise UserError(f"this model has {count:,} parameters: training it needs {human_bytes(need)} for the "
                        f"weights, gradients and AdamW state alone, more than the {human_bytes(have)} of "
                        f"{device}; make it smaller (n_embd, n_layer, vocab_size)")
    return count
