"""The optimizer and the precision of a training step, shared by the Trainer and `lmlab profile`.

**AdamW** (Loshchilov and Hutter, 2019) is Adam with *decoupled* weight decay: each step shrinks
the weights by ``lr * weight_decay`` directly instead of adding ``weight_decay * w`` to the
gradient, where Adam's per-coordinate scaling would weaken it. Following GPT-2 and BERT, only the
weight matrices and embeddings decay; biases and normalisation gains (one number per channel)
do not, since pulling them towards zero only fights the normalisation.

**Precision**: the forward runs under bf16 autocast (matrix products in bfloat16, reductions and
the loss in float32) or in plain float32; which one ``dtype=auto`` picks, and why, is
`lmlab.train.acceleration.choose_autocast`.
"""

from __future__ import annotations

import contextlib

import torch

_TORCH_VERSION = tuple(int(part) for part in torch.__version__.split(".")[:2])


def uses_fused_adamw(device: torch.device) -> bool:
    """Whether AdamW runs its fused kernel (the whole update in one pass over each tensor): on
    CUDA, and on CPUs from torch 2.4 (there 6x faster than the default on one thread, BERT-sized)."""
    return device.type == "cuda" or (device.type == "cpu" and _TORCH_VERSION >= (2, 4))


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay the weight matrices and embeddings (dim >= 2), not biases or norm gains."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def adamw(model: torch.nn.Module, lr: float, betas: tuple[float, float], weight_decay: float,
          device: torch.device) -> torch.optim.AdamW:
    """AdamW over `model`'s two parameter groups, fused where `uses_fused_adamw` says so."""
    return torch.optim.AdamW(parameter_groups(model, weight_decay), lr=lr, betas=betas,
                             fused=uses_fused_adamw(device))


def precision(device: torch.device, autocast: torch.dtype | None):
    """The context a forward pass runs in: autocast to `autocast`, or nothing when it is None."""
    if autocast is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=autocast)
