"""Peak memory of a piece of work: the most bytes its own tensors held at once.

On CUDA the caching allocator keeps the count itself (`torch.cuda.max_memory_allocated`, taken
above `torch.cuda.memory_allocated` at entry). On a CPU nothing keeps it, and the process's
resident memory is the wrong measure: glibc's heap reuses memory the process already holds, so a
training step that allocates and frees hundreds of megabytes of activations barely moves the
resident size. (lmlab's profiler used to sample RSS and reported 0.01-0.7 MB for a CPU training
step; even the kernel's high-water mark, `VmHWM` reset through /proc/self/clear_refs, rises only
9.3 MB during a step whose tensors hold 77.6 MB at once, the `cpu` preset's GPT at batch 8.) So on a
CPU the work runs under PyTorch's profiler with ``profile_memory=True``, which records the address
and size of every tensor storage allocated and freed:

    held(t) = bytes of the blocks allocated in the window and not yet freed, after event t
    peak    = max over t of held(t)                                    (0 at entry)

What is counted: every tensor storage the work allocates through PyTorch's CPU allocator, freed or
not by the end (activations, gradients set to None before the work, temporaries, optimizer state
created inside). What is not: tensors allocated before the window (weights, optimizer state of
earlier steps: count them with `tensor_bytes`), nor their frees: the profiler knows the size only
of blocks allocated under an earlier profiler, so all of them are ignored (on CUDA such a free
lowers the level, so the two differ when the work frees old tensors); memory outside tensors (the
allocator's slack, oneDNN and MKL scratch buffers, Python objects). The profiler slows each
operation down, so time is measured in a separate pass, never under `PeakMemory`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable

import torch


def peak_of_allocations(events: list[tuple[int, int]]) -> int:
    """The most bytes held at once by the blocks allocated among `events`: (address, +bytes) for an
    allocation, (address, -bytes) for a free, in the order they happened. A free of a block not
    allocated among them (it came from before the window) is ignored."""
    live: dict[int, int] = {}
    held = peak = 0
    for address, size in events:
        if size > 0:
            live[address] = size
            held += size
            peak = max(peak, held)
        else:
            held -= live.pop(address, 0)
    return peak


def _profiled_allocations(profiler) -> list[tuple[int, int]]:
    """The (address, +/-bytes) allocation and free events the profiler saw, in time order; at equal
    times frees first (an address is freed before the allocator can hand it out again)."""
    from torch._C._profiler import _EventType

    events, stack = [], list(profiler.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            events.append((node.start_time_ns, node.extra_fields.ptr, node.extra_fields.alloc_size))
        stack.extend(node.children)
    events.sort(key=lambda event: (event[0], event[2] > 0))
    return [(address, size) for _, address, size in events]


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages behind `tensors` (a tied weight, or a view, counts once)."""
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 for a moment: the profiler's C++ side (kineto) prints a line on
    every start and stop, which would land in the middle of a command's output."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class PeakMemory:
    """`with PeakMemory(device) as peak: ...`, then `peak.bytes` and `peak.megabytes` (MiB): the
    most memory the work's own tensors held at once (CUDA: the allocator's peak above the level at
    entry; CPU: the profiler's allocation events, counted as the module docstring says)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.bytes = torch.device(device), 0

    @property
    def megabytes(self) -> float:
        return self.bytes / 2**20

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            from torch.profiler import ProfilerActivity, profile

            self.profiler = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
            with _quiet_stderr():
                self.profiler.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.bytes = torch.cuda.max_memory_allocated(self.device) - self.base
        else:
            with _quiet_stderr():
                self.profiler.__exit__(*exc)
            self.bytes = peak_of_allocations(_profiled_allocations(self.profiler))
