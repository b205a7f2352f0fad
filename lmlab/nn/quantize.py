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
"""

from __future__ import annotations

import torch

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


def tied_names(state: dict[str, torch.Tensor]) -> set[str]:
    """The names of a state dict whose tensor shares its storage with an earlier name (tied weights)."""
    seen, tied = set(), set()
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key in seen:
            tied.add(name)
        seen.add(key)
    return tied


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
