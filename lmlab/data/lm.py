"""Language-model data: documents -> one long array of token ids -> (input, target) windows.

Documents are encoded one by one and joined with the end-of-text token, so the model learns where
a text ends. The ids are stored as a ``.npy`` array (uint16 when the vocabulary fits, as nanoGPT
does) and read back memory-mapped, so a corpus larger than RAM still trains.

Batches are *a pure function of the step number*: step s draws its window starts from a random
generator seeded with (seed, s). Resuming at step s therefore sees exactly the batches an
uninterrupted run would have seen, with nothing to save, and data-parallel ranks take disjoint
slices of the same global batch: the protocol of `lmlab.data.batching`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from lmlab.constants import PAD
from lmlab.data.batching import cut
from lmlab.errors import UserError
from lmlab.io import atomic_write


def encode_documents(tokenizer, texts: list[str]) -> np.ndarray:
    """Encode each text, append end-of-text after each, and pack into the smallest unsigned dtype."""
    eot = tokenizer.eot_id
    ids: list[int] = []
    for text in texts:
        ids.extend(tokenizer.encode(text))
        if eot is not None:
            ids.append(eot)
    dtype = np.uint16 if tokenizer.vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32
    return np.asarray(ids, dtype=dtype)


def save_ids(path: Path, ids: np.ndarray) -> None:
    """Write an id array as .npy, atomically (`lmlab.io.atomic_write`), never as a pickle."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, ids, allow_pickle=False)

    atomic_write(path, write)


def load_ids(path: Path, vocab_size: int | None = None) -> np.ndarray:
    """Memory-map a saved id array (never unpickles); with `vocab_size`, every id must be below it."""
    try:
        ids = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: not a valid token-id array ({str(error)[:120]})") from None
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise UserError(f"{path}: not a token-id array (shape {ids.shape}, {ids.dtype})")
    if vocab_size is not None and len(ids) and int(ids.max()) >= vocab_size:
        raise UserError(f"{path}: holds token id {int(ids.max())}, but the tokenizer has {vocab_size} tokens: the "
                        f"ids belong to another tokenizer")
    return ids


class WindowSampler:
    """Random windows of `block_size + 1` tokens: inputs ids[i:i+T], targets ids[i+1:i+T+1]."""

    def __init__(self, ids: np.ndarray, block_size: int, seed: int) -> None:
        if len(ids) < block_size + 1:
            raise UserError(f"the data has {len(ids)} tokens, fewer than one window of block_size + 1 = "
                            f"{block_size + 1}: use more text or a smaller --set block_size")
        self.ids, self.block_size, self.seed = ids, block_size, seed

    def starts(self, step: int, count: int) -> np.ndarray:
        """The `count` window starts of global step `step` (deterministic in seed and step)."""
        generator = np.random.default_rng([self.seed, step])
        return generator.integers(0, len(self.ids) - self.block_size, size=count)

    def windows(self, starts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        T = self.block_size
        chunk = np.stack([self.ids[s : s + T + 1] for s in starts]).astype(np.int64)  # (B, T + 1)
        chunk = torch.from_numpy(chunk)
        return chunk[:, :-1], chunk[:, 1:]

    def step_batches(self, step: int, batch_size: int, grad_accum: int, rank: int = 0, world_size: int = 1):
        """This rank's micro-batches for `step`, as a list of `grad_accum` (inputs, targets) pairs
        (the `BatchSampler` protocol of `lmlab.data.batching`): the global batch is the
        grad_accum * world_size * batch_size windows drawn for the step, cut by `cut`."""
        starts = self.starts(step, grad_accum * world_size * batch_size)
        return [self.windows(micro) for micro in cut(starts, batch_size, grad_accum, rank, world_size)]

    def fixed_batches(self, count: int, batch_size: int, rank: int = 0, world_size: int = 1):
        """`count` batches of evenly spaced windows: a cheap, repeatable validation estimate.

        Like `step_batches`, each global batch of world_size * batch_size windows is split across
        ranks, so the estimate does not depend on how many processes compute it."""
        starts = np.linspace(0, len(self.ids) - self.block_size - 1, count * world_size * batch_size)
        return [self.windows(chunk) for chunk in cut(starts.astype(np.int64), batch_size, count, rank, world_size)]


class StreamSampler(WindowSampler):
    """Consecutive windows for truncated backpropagation through time (TBPTT).

    The ids are cut into `rows` equal segments, one per row of the global batch (laid out as
    (micro-step, rank, row) as in `lmlab.data.batching`). Each pass over the data reads
    every segment window after window, so row r at step s + 1 continues exactly where row r at
    step s stopped and a recurrent model can carry its hidden state across. Each pass starts at
    its own random phase in [0, block_size), seeded by (seed, pass), so the window boundaries move
    between passes. Still a pure function of the step; `restarts(step)` says when a new pass
    begins (the carried states must start from zero there).
    """

    def __init__(self, ids: np.ndarray, block_size: int, rows: int, seed: int) -> None:
        super().__init__(ids, block_size, seed)
        self.rows, self.segment = rows, len(ids) // rows
        self.windows_per_pass = (self.segment - 1) // block_size - 1  # room for the phase
        if self.windows_per_pass < 1:
            raise UserError(f"the data has {len(ids)} tokens: too few for {rows} streams of two windows of "
                            f"{block_size} tokens; use more text or a smaller batch_size / block_size")

    def restarts(self, step: int) -> bool:
        return step % self.windows_per_pass == 0

    def step_batches(self, step: int, batch_size: int, grad_accum: int, rank: int = 0, world_size: int = 1):
        """This rank's micro-batches for `step`: window (step mod W) of each of its streams.
        The streams are the rows of the global batch, so `cut` refuses any other global size."""
        epoch, window = divmod(step, self.windows_per_pass)
        phase = np.random.default_rng([self.seed, epoch]).integers(0, self.block_size)
        starts = np.arange(self.rows) * self.segment + phase + window * self.block_size  # (rows,)
        return [self.windows(micro) for micro in cut(starts, batch_size, grad_accum, rank, world_size)]


def stream_windows(ids: np.ndarray, block_size: int, rows: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Every token exactly once as a target, read as `rows` contiguous streams, window by window:
    row r of each batch continues row r of the previous one, so a model can carry its state across
    (the evaluation of models whose state never fills). Padding targets are PAD (-1)."""
    n_targets = len(ids) - 1
    length = -(-n_targets // rows)  # targets per stream, rounded up
    for offset in range(0, length, block_size):
        inputs = torch.zeros(rows, block_size, dtype=torch.long)
        targets = torch.full_like(inputs, PAD)
        for row in range(rows):
            start = row * length + offset
            stop = min(start + block_size, (row + 1) * length, n_targets)
            if stop > start:
                window = torch.from_numpy(ids[start : stop + 1].astype(np.int64))
                inputs[row, : stop - start], targets[row, : stop - start] = window[:-1], window[1:]
        yield inputs, targets


def sequential_windows(ids: np.ndarray, block_size: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Every token exactly once as a target: consecutive non-overlapping windows, the last one
    padded with target -1 (ignored by the loss). Used for the full evaluation."""
    n_targets = len(ids) - 1
    starts = list(range(0, n_targets, block_size))
    for first in range(0, len(starts), batch_size):
        inputs = torch.zeros(len(starts[first : first + batch_size]), block_size, dtype=torch.long)
        targets = torch.full_like(inputs, PAD)
        for row, start in enumerate(starts[first : first + batch_size]):
            length = min(block_size, n_targets - start)
            window = torch.from_numpy(ids[start : start + length + 1].astype(np.int64))
            inputs[row, :length], targets[row, :length] = window[:-1], window[1:]
        yield inputs, targets
