"""Peak memory of a piece of work: the most bytes its tensors held at once, above the level at entry.

On CUDA the caching allocator keeps the count itself (`torch.cuda.max_memory_allocated`). On a
CPU nothing keeps it, and the process's resident memory is the wrong measure: the allocator
reuses memory it already holds, so a training step that allocates and frees hundreds of megabytes
of activations barely moves the resident size (lmlab's profiler used to report 0.01-0.7 MB for a
CPU training step that way). So on a CPU the work runs under PyTorch's profiler with
``profile_memory=True``, which records every allocation and free of a tensor's storage:

    held(t) = sum of the sizes allocated minus freed up to event t       (bytes, from 0 at entry)
    peak    = max over t of held(t)

The profiler does not see memory allocated before the window (it cannot know a block's size), so
the peak is the most that the window's own tensors held at once. The profiler slows each operation down, so time
is measured in a separate pass, never under `PeakMemory`.
"""

from __future__ import annotations

import contextlib
import os
import sys

import torch


def peak_of_allocations(sizes: list[int]) -> int:
    """The largest running sum of a sequence of allocations (+bytes) and frees (-bytes), from 0."""
    held = peak = 0
    for size in sizes:
        held += size
        peak = max(peak, held)
    return peak


def _profiled_allocations(profiler) -> list[int]:
    """The allocation (+) and free (-) sizes the profiler saw, in the order they happened."""
    from torch._C._profiler import _EventType

    events, stack = [], list(profiler.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            events.append((node.start_time_ns, node.extra_fields.alloc_size))
        stack.extend(node.children)
    return [size for _, size in sorted(events)]


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
    most memory the work's tensors held at once (CUDA: the allocator's peak above the level at
    entry; CPU: the profiler's allocation events, as the module docstring says)."""

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
