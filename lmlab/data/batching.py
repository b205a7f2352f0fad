"""One batching protocol for every task: the global batch of a step, and how it is cut.

**The global batch.** One optimizer step of lmlab's Trainer consumes

    batch_size * grad_accum * world_size   examples

-- `grad_accum` micro-batches of `batch_size` examples on each of `world_size` data-parallel
ranks. Gradient accumulation and data parallelism are ways to *compute* the gradient of that
global batch with less memory or more machines; they should not change *which* gradient is
computed. So every sampler in lmlab follows one rule: the global batch of step `s` is a pure
function of (seed, s) and of the global batch size only, never of how it is cut. Batch 8 x
grad_accum 4 and batch 32 x 1, or 2 ranks of 4 and 1 rank of 8, see the same examples in the same
step, and (up to floating-point summation order) take the same optimizer step. Two things follow:

* a configuration can be moved to another machine (fewer GPUs, less memory: more accumulation)
  and reproduce the same run, and a test can check that it does;
* resuming is exact with nothing to save: step s of a resumed run draws the batch that step s of
  the uninterrupted run drew, because nothing but the step number says which batch that is.

**The cut.** The global batch is laid out as (micro-step, rank, row): read it as `grad_accum`
rounds of `world_size * batch_size` examples; in round k, rank r takes the r-th block of
`batch_size`. In indices, micro-batch k of rank r is

    global[(k * world_size + r) * batch_size : (k * world_size + r + 1) * batch_size]

(`cut` below). Every rank thus gets exactly `batch_size` examples per micro-batch, and the ranks
together, over their micro-batches, hold every example of the global batch once.

**The protocol.** A sampler is anything with

    step_batches(step, batch_size, grad_accum, rank=0, world_size=1) -> list[Batch]

returning this rank's `grad_accum` micro-batches for optimizer step `step` (`BatchSampler`).
The language-model windows (`lmlab.data.lm`), BERT's pretraining pairs (`lmlab.data.mlm`), and
the two epoch-based tasks -- classification (`lmlab.data.classification`) and translation
(`lmlab.data.pairs`) -- all implement it, so the Trainer is given
``lambda step: sampler.step_batches(step, batch_size, grad_accum, rank, world_size)`` whatever
the task.

**Epochs, and why bucketing.** Classification and translation read a finite list of examples in
epochs: every example once per epoch, in a fresh order each epoch. A batch is padded to its
longest member, so a batch that mixes a 3-token and a 60-token sentence pays for 60 tokens twice.
Bucketing (as in fairseq, tensor2tensor, and Hugging Face's ``group_by_length``) keeps most of
the randomness of a shuffle and removes most of the padding:

    shuffle every index -> cut into pools of `pool` batches -> sort each pool by length
      -> cut each pool into batches -> shuffle the order of the batches

(`bucketed_batches`). `EpochSampler` buckets *global* batches -- so the epoch, and step s's
place in it, depend only on (seed, step) and the global batch size -- and then cuts each global
batch as above. A global batch is a run of a length-sorted pool, so its micro-batches are also of
similar lengths, and each is padded (`pad_collate`) only to its own longest example.
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np
import torch

from lmlab.constants import PAD
from lmlab.errors import UserError

Batch = tuple[torch.Tensor, ...]  # what the model is called with: model(*batch) -> (logits, loss)


@runtime_checkable
class BatchSampler(Protocol):
    """What the Trainer's `train_batches` reads: this rank's micro-batches of one optimizer step."""

    def step_batches(self, step: int, batch_size: int, grad_accum: int, rank: int = 0,
                     world_size: int = 1) -> list[Batch]:
        """The `grad_accum` micro-batches of `batch_size` examples that rank `rank` of `world_size`
        computes for optimizer step `step`: its slices (`cut`) of a global batch of
        batch_size * grad_accum * world_size examples that depends on (seed, step) alone."""
        ...


def cut(global_batch: np.ndarray, batch_size: int, grad_accum: int, rank: int = 0,
        world_size: int = 1) -> list[np.ndarray]:
    """Rank `rank`'s `grad_accum` micro-batches of a global batch (G, ...), G = grad_accum *
    world_size * batch_size, laid out as (micro-step, rank, row): micro-batch k is block
    k * world_size + rank of `batch_size` consecutive entries."""
    if len(global_batch) != grad_accum * world_size * batch_size:
        raise ValueError(f"a global batch of {len(global_batch)} examples cannot be cut into "
                         f"{grad_accum} micro-batches x {world_size} ranks x {batch_size} examples")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not one of the {world_size} ranks")
    blocks = np.asarray(global_batch).reshape(grad_accum, world_size, batch_size, *np.shape(global_batch)[1:])
    return list(blocks[:, rank])  # grad_accum arrays (batch_size, ...)


def pad_collate(rows: Sequence[Sequence], padded: Sequence[int]) -> Batch:
    """Rows of columns -> one tensor per column. The columns in `padded` hold sequences of ids and
    become (B, T) tensors, each padded with PAD to its own longest row (dynamic padding); the
    others hold one number per row and become (B,) tensors."""
    columns = []
    for column in range(len(rows[0])):
        if column not in padded:
            columns.append(torch.tensor([row[column] for row in rows]))  # (B,)
            continue
        values = [torch.as_tensor(row[column], dtype=torch.long) for row in rows]
        tensor = torch.full((len(rows), max(len(v) for v in values)), PAD)  # (B, T)
        for i, value in enumerate(values):
            tensor[i, :len(value)] = value
        columns.append(tensor)
    return tuple(columns)


def in_order(rows: list, batch_size: int, collate: Callable[[list], Batch]) -> list[Batch]:
    """Every row once, in order, in batches of `batch_size` (the last may be smaller): evaluation,
    where each example must count exactly once and the order must be the file's."""
    return [collate(rows[start:start + batch_size]) for start in range(0, len(rows), batch_size)]


def bucketed_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int, pool: int = 50) -> list[np.ndarray]:
    """The batches (arrays of example indices) of one epoch; the last partial batch is dropped.
    A pure function of (seed, epoch), so a resumed run and every rank agree on them."""
    rng = np.random.default_rng((seed, epoch))
    n_batches = len(lengths) // batch_size
    order = rng.permutation(len(lengths))[: n_batches * batch_size]
    pool_size = pool * batch_size
    batches = []
    for start in range(0, len(order), pool_size):
        chunk = order[start:start + pool_size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]  # similar lengths side by side
        batches.extend(np.split(chunk, len(chunk) // batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class EpochSampler:
    """Epochs of bucketed global batches over a finite list of rows, cut into micro-batches.

    Built for one global batch size (batch_size * grad_accum * world_size): the epoch's division
    into steps depends on it, so `step_batches` refuses a cut of any other size. Step s is batch
    s mod `steps_per_epoch` of epoch s // `steps_per_epoch`; the last partial global batch of an
    epoch is dropped. `collate` turns a list of rows into a Batch (e.g. `pad_collate` with the
    task's columns).

    `resample(epoch)`, when given, returns that epoch's rows: the same examples read again, e.g.
    re-encoded with a sampled segmentation (BPE-dropout, Unigram sampling), so each epoch sees
    other pieces. It must be a pure function of the epoch; the batches stay those of `lengths`."""

    def __init__(self, rows: list, lengths: Sequence[int], global_batch: int, seed: int,
                 collate: Callable[[list], Batch], pool: int = 50, what: str = "examples",
                 resample: Callable[[int], list] | None = None) -> None:
        if len(rows) < global_batch:
            raise UserError(f"{len(rows)} {what} are fewer than one global batch of {global_batch} "
                            f"(batch_size x grad_accum x processes): use more data or a smaller --set batch_size")
        self.rows, self.global_batch, self.seed, self.collate, self.pool = rows, global_batch, seed, collate, pool
        self.lengths = np.asarray(lengths)
        self.steps_per_epoch = len(rows) // global_batch  # global batches per epoch
        self.resample = resample
        self._epoch, self._batches, self._rows = -1, [], rows

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The global batches (arrays of row indices) of one epoch, in the order they are used."""
        if epoch != self._epoch:
            self._batches = bucketed_batches(self.lengths, self.global_batch, self.seed, epoch, self.pool)
            self._rows = self.rows if self.resample is None else self.resample(epoch)
            self._epoch = epoch
        return self._batches

    def step_batches(self, step: int, batch_size: int, grad_accum: int, rank: int = 0,
                     world_size: int = 1) -> list[Batch]:
        """This rank's `grad_accum` micro-batches of step `step` (the `BatchSampler` protocol)."""
        epoch, index = divmod(step, self.steps_per_epoch)
        micro = cut(self.epoch_batches(epoch)[index], batch_size, grad_accum, rank, world_size)
        return [self.collate([self._rows[i] for i in indices]) for indices in micro]
