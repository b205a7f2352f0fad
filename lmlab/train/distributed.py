"""Data-parallel training with torch.distributed (DDP), launched by ``torchrun``.

Every process (rank) holds a full copy of the model and computes gradients on its own slice of
the global batch; DDP averages the gradients across ranks during `backward`, so every copy takes
the same optimizer step. ``torchrun --nproc_per_node N -m lmlab train ...`` sets the RANK,
WORLD_SIZE and LOCAL_RANK environment variables that `setup` reads. Gloo carries the
all-reduce on CPU, NCCL on CUDA. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Context:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """In a process group: several ranks, or one rank started by torchrun (DDP still wraps it)."""
        return self.world_size > 1 or (dist.is_available() and dist.is_initialized())


def resolve_device(choice: str, local_rank: int = 0) -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cuda' without a GPU is a user mistake."""
    from lmlab.errors import UserError

    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda was asked for but no CUDA GPU is available: use --device cpu")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def setup(device_choice: str) -> Context:
    """Join the process group when started by torchrun (LOCAL_RANK is set; even one process, so
    that `torchrun --nproc_per_node 1` runs the DDP path); a plain single process otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_choice, local_rank)
    if (world_size > 1 or "LOCAL_RANK" in os.environ) and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Context(rank, world_size, device)


def barrier(context: Context) -> None:
    if context.distributed:
        dist.barrier()


def mean_across_ranks(value: torch.Tensor, context: Context) -> torch.Tensor:
    """Average a tensor over all ranks (for logging the loss of the whole global batch)."""
    if context.distributed:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= context.world_size
    return value


def any_rank(flag: bool, context: Context) -> bool:
    """True if any rank raised `flag` (so all ranks stop at the same step on Ctrl-C)."""
    if not context.distributed:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=context.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def cleanup(context: Context) -> None:
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()
