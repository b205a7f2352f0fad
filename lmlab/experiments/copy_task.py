"""A synthetic memory task for recurrent models: recall the token read k steps back.

Each sequence is k + 1 tokens: a key symbol, k - 1 fillers (a blank token, or with
`distractors` random symbols of the key's own alphabet) and a recall marker; the only target is
the key, at the marker:

    ids      key  d_1  d_2 ... d_{k-1}  <recall>        (symbols 0..S-1, the marker S, the blank S + 1)
    targets   -1   -1   -1 ...   -1       key            (-1: ignored by the loss)

So the model must carry the key k steps through its state (with distractors, while it reads
tokens that look just like it). Chance is 1 / S. A cell whose gradient vanishes over k steps gets no signal from the
loss to the key: it stays at chance. The batches are a function of (seed, step), as the
Trainer's contract asks; the model is trained by `lmlab.train.Trainer`, the library's one loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab.models.rnn_lm import RNNLM, RNNLMConfig
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import TrainConfig, Trainer

HELD_OUT_SEED = 2**31 - 1  # the test batch's generator; training batches use seed * 1_000_003 + step


@dataclass
class CopyTask:
    """The task's shape and the training budget of one model on it."""

    lag: int  # k: how many steps back the key is from the recall marker (>= 1)
    symbols: int = 8  # S: the key's alphabet (chance is 1 / S)
    distractors: bool = False  # the k - 1 tokens between key and marker: random symbols, or else a blank
    batch_size: int = 32
    steps: int = 400
    lr: float = 3e-3
    n_hidden: int = 32
    test_size: int = 512  # sequences in the fixed test batch


def copy_batch(task: CopyTask, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, targets), each (B, k + 1): key, k - 1 fillers, marker; the key is the last target."""
    ids = torch.randint(0, task.symbols, (batch_size, task.lag + 1), generator=generator)  # (B, k + 1)
    if not task.distractors:
        ids[:, 1:-1] = task.symbols + 1  # the blank
    ids[:, -1] = task.symbols  # the recall marker
    targets = torch.full_like(ids, -1)
    targets[:, -1] = ids[:, 0]
    return ids, targets


def step_batch(task: CopyTask, seed: int, step: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The micro-batches of training step `step`: a pure function of (seed, step)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return [copy_batch(task, task.batch_size, generator)]


def held_out_batch(task: CopyTask) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed test sequences, the same for every cell and seed (drawn apart from the training ones)."""
    return copy_batch(task, task.test_size, torch.Generator().manual_seed(HELD_OUT_SEED))


@torch.no_grad()
def accuracy(model: RNNLM, task: CopyTask) -> float:
    """The fraction of test sequences whose key is the model's most likely token at the marker."""
    ids, targets = held_out_batch(task)
    model.eval()
    logits, _ = model(ids.to(model.lm_head.weight.device))  # (B, k + 1, V)
    return (logits[:, -1].argmax(-1).cpu() == targets[:, -1]).float().mean().item()


def copy_model(task: CopyTask, cell: str) -> RNNLM:
    """One layer of `cell`, embeddings as wide as the state, no carried state (each sequence stands alone)."""
    config = RNNLMConfig(vocab_size=task.symbols + 2, cell=cell, block_size=task.lag + 1, n_embd=task.n_hidden,
                         n_hidden=task.n_hidden, n_layer=1, carry_state=False)
    return RNNLM(config)


def train_on_copy_task(task: CopyTask, cell: str, seed: int, folder: Path, context) -> dict:
    """Train one `cell` model on the task with the Trainer into `folder`: {"accuracy", "final_loss"}."""
    torch.manual_seed(seed)
    model = copy_model(task, cell)
    config = TrainConfig(batch_size=task.batch_size, max_steps=task.steps, lr=task.lr, min_lr=task.lr / 10,
                         warmup_steps=max(1, task.steps // 10), eval_every=0, checkpoint_every=0,
                         log_every=max(1, task.steps // 10), seed=seed)
    trainer = Trainer(model, config, RunFolder(folder), train_batches=lambda step: step_batch(task, seed, step),
                      context=context)
    summary = trainer.fit()
    if summary["interrupted"]:
        raise KeyboardInterrupt
    return {"accuracy": accuracy(model, task), "final_loss": summary["train_loss"]}
