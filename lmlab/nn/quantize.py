"""Weight-only compression of a model's tensors: bf16, or int8 with one scale per row.

Symmetric per-row (per-output-channel) int8 quantization of a matrix W (R, C):

    scale_r = max_c |W[r, c]| / 127          one float per row: a Linear's output channel, an embedding's token
    q[r, c] = round(W[r, c] / scale_r)       in -127..127 (never clipped: |W / scale| <= 127)
    W'[r, c] = q[r, c] * scale_r             the dequantized weight; |W - W'| <= scale_r / 2

A row with one large weight gets a coarse grid, so the scale is chosen per row, not per matrix:
an outlier only costs its own row. Only matrices (every 2-D floating tensor: Linear weights, the
token and position embeddings) are quantized; biases and norm gains (1-D) stay float32. bf16
keeps float32's exponent and 8 of its 24 mantissa bits: every floating tensor is rounded to it.

`compress_state` and `expand_state` turn a state dict into the tensors a file stores and back.
Tied weights (a GPT's output head is its token embedding) are stored once.

**Computing with int8 weights.** Decoding one token reads every weight once, so a large model's
step is bound by memory bandwidth, and 1 byte per weight instead of 4 is the way to go faster.
`use_int8_kernels` swaps a loaded model's Linear layers for `Int8Linear`, whose weight stays int8
in memory and whose product is torch's weight-only int8 kernel (``torch._weight_int8pack_mm``:
activations in bf16, the int8 row widened and scaled inside the kernel). Where that kernel is
not usable (no native bf16 on the CPU, an inner size that is not a multiple of 16, for which the
kernel returns wrong numbers in torch 2.13), the layer keeps the dequantized float32 weight.
"""

from __future__ import annotations

import torch
import torch.nn as nn

SCALE = ".scale"  # the stored name of a quantized tensor's row scales: "<name>.scale"
DTYPES = ("int8", "bf16")
INT8_MAX = 127


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """W (R, C) float -> (q (R, C) int8, scale (R,) float32), symmetric, one scale per row."""
    weight = weight.detach().float()
    largest = weight.abs().amax(dim=1)  # (R,)
    scale = torch.where(largest > 0, largest / INT8_MAX, torch.ones_like(largest))  # an all-zero row: q = 0
    q = torch.round(weight / scale[:, None]).clamp(-INT8_MAX, INT8_MAX).to(torch.int8)
    return q, scale


def dequantize_rows(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(q (R, C) int8, scale (R,)) -> W' (R, C) float32 = q * scale per row."""
    return q.float() * scale.float()[:, None]


def storage_names(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """Each name of a state dict -> the first name sharing its tensor (itself, unless tied)."""
    first: dict[tuple, str] = {}
    names = {}
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        names[name] = first.setdefault(key, name)
    return names


def tied_names(state: dict[str, torch.Tensor]) -> set[str]:
    """The names of a state dict whose tensor shares its storage with an earlier name (tied weights)."""
    return {name for name, first in storage_names(state).items() if first != name}


def compress_state(state: dict[str, torch.Tensor], dtype: str) -> dict[str, torch.Tensor]:
    """The tensors to store: bf16 floats, or int8 matrices with their row scales (tied names once)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    tied, stored = tied_names(state), {}
    for name, tensor in state.items():
        if name in tied:
            continue
        tensor = tensor.detach()
        if not tensor.is_floating_point():
            stored[name] = tensor.contiguous()
        elif dtype == "bf16":
            stored[name] = tensor.to(torch.bfloat16).contiguous()
        elif tensor.dim() == 2:
            stored[name], stored[name + SCALE] = quantize_rows(tensor)
        else:
            stored[name] = tensor.float().contiguous()
    return stored


def expand_state(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of `compress_state`: int8 matrices dequantized to float32, the rest as stored."""
    return {name: dequantize_rows(tensor, stored[name + SCALE]) if name + SCALE in stored else tensor
            for name, tensor in stored.items() if not name.endswith(SCALE) or name[:-len(SCALE)] not in stored}


def cpu_computes_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX512-BF16 or AMX tiles)."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def int8_kernel_usable(linear: nn.Linear) -> bool:
    """torch's int8 weight-only kernel: a CPU layer, native bf16, inner size a multiple of 16."""
    return (hasattr(torch, "_weight_int8pack_mm") and linear.weight.device.type == "cpu" and cpu_computes_bf16()
            and linear.in_features % 16 == 0)


class Int8Linear(nn.Module):
    """y = x W'^T + b with W' = q * scale per row, q kept int8: x (..., in) -> y (..., out)."""

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.out_features, self.in_features = q.shape
        self.register_buffer("q", q.clone(memory_format=torch.contiguous_format))  # (out, in) int8, in memory
        # of its own: the kernel's vector loads crash on the unaligned tensors a file can hand out
        self.register_buffer("scale", scale.float())  # (out,), as stored; the kernel takes it in bf16
        self.bias = None if bias is None else nn.Parameter(bias.detach(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(torch.bfloat16)  # (N, in)
        y = torch._weight_int8pack_mm(rows, self.q, self.scale.to(torch.bfloat16)).to(x.dtype)  # (N, out)
        y = y.view(*x.shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias


def use_int8_kernels(model: nn.Module, stored: dict[str, torch.Tensor]) -> int:
    """Swap every Linear of `model` whose weight `stored` holds as int8 (a tied weight under its first
    name) and that the kernel can run for an `Int8Linear`; returns how many were swapped."""
    sources = storage_names(model.state_dict())
    swapped = 0
    for name, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear) or not int8_kernel_usable(module):
            continue
        source = sources.get(f"{name}.weight")
        if source is None or source + SCALE not in stored:
            continue
        parent, _, child = name.rpartition(".")
        int8 = Int8Linear(stored[source], stored[source + SCALE], module.bias)
        setattr(model.get_submodule(parent) if parent else model, child, int8)
        swapped += 1
    return swapped
