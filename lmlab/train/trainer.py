"""The one training loop that every neural model in lmlab uses.

One step of training:

    for each of `grad_accum` micro-batches:        # gradient accumulation
        loss = model(*batch)[1] / grad_accum        # (bf16 autocast where it pays: dtype=auto)
        loss.backward()                             # DDP averages gradients across ranks here
    clip the global gradient norm to `grad_clip`
    set the learning rate from the schedule; AdamW step; zero the gradients

Around it: evaluation every `eval_every` steps, a checkpoint every `checkpoint_every` steps, at
the end and on Ctrl-C (the first Ctrl-C finishes the current step, saves and exits cleanly; a
second one aborts), `metrics.jsonl` (loss, learning rate, tokens/s and the gradient norm before
clipping; with ``logger=tensorboard`` the same numbers in RUN/tensorboard, `lmlab.train.tensorboard`)
and `loss.png`, and a resume that continues *exactly*: the
batches are a function of the step (see `lmlab.data.lm`), the schedule is a function of the step,
and the optimizer moments and RNG states are restored from `trainer_state.pt`.

The model only has to follow lmlab's contract: ``model(*batch)`` returns ``(logits, loss)``.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from dataclasses import dataclass
from typing import Annotated, Callable, ClassVar, Iterable, Literal

import torch
from tqdm.auto import tqdm

from lmlab.config import AT_LEAST_ONE, FRACTION, NON_NEGATIVE, POSITIVE, SEED, Config
from lmlab.errors import UserError
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder
from lmlab.train.acceleration import AutoCompile, batch_shapes, choose_autocast, model_width
from lmlab.train.optim import adamw, precision
from lmlab.train.schedules import SCHEDULES
from lmlab.train.tensorboard import TensorBoardLog, check_available
from lmlab.viz import plot_loss_curves

Batch = tuple[torch.Tensor, ...]


@dataclass
class TrainConfig(Config):
    """How to train: the optimizer, the schedule, the batch and the bookkeeping."""

    batch_size: Annotated[int, AT_LEAST_ONE] = 32  # sequences per micro-batch, per process
    grad_accum: Annotated[int, AT_LEAST_ONE] = 1  # micro-batches per optimizer step
    max_steps: Annotated[int, AT_LEAST_ONE] = 2000  # optimizer steps; the schedule spans exactly these
    lr: Annotated[float, POSITIVE] = 1e-3  # peak learning rate, reached after warmup
    min_lr: Annotated[float, NON_NEGATIVE] = 1e-4  # learning rate at the last step (at most lr)
    warmup_steps: Annotated[int, NON_NEGATIVE] = 100
    schedule: Literal["cosine", "linear", "noam"] = "cosine"  # decay after warmup (linear: BERT; noam: 1/sqrt(step))
    weight_decay: Annotated[float, NON_NEGATIVE] = 0.1  # applied to matrices and embeddings, not to biases and norms
    beta1: Annotated[float, FRACTION] = 0.9
    beta2: Annotated[float, FRACTION] = 0.99
    grad_clip: Annotated[float, NON_NEGATIVE] = 1.0  # max global gradient norm; 0 turns clipping off
    eval_every: Annotated[int, NON_NEGATIVE] = 250  # steps between validation estimates; 0 = only at the end
    eval_batches: Annotated[int, AT_LEAST_ONE] = 20  # batches per validation estimate
    checkpoint_every: Annotated[int, NON_NEGATIVE] = 500  # steps between checkpoints; 0 = only at the end
    log_every: Annotated[int, AT_LEAST_ONE] = 10  # steps between metrics.jsonl records
    seed: Annotated[int, SEED] = 1337
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bf16 autocast where it pays (CUDA with bf16;
    # CPUs with AVX512-BF16 or AMX, for models 192 or more wide), float32 elsewhere (lmlab.train.acceleration)
    compile: Literal["auto", "on", "off"] = "auto"  # torch.compile the model; auto: only when a probe of the
    # first steps says the run is long enough to repay the compilation, kept only if the steps get faster
    on_nan: Literal["stop", "skip"] = "stop"  # a non-finite loss or gradient: stop (the last checkpoint
    # is kept untouched, exit 2) or skip that step's update and count it (`skipped_steps` in metrics.jsonl)
    logger: Literal["jsonl", "tensorboard"] = "jsonl"  # metrics.jsonl always; tensorboard also writes its
    # scalars into RUN/tensorboard (pip install lmlab[tensorboard])

    LEGACY_VALUES: ClassVar[dict] = {"compile": {False: "off", True: "on"}}  # run folders before compile=auto

    def check_relations(self) -> None:
        if self.min_lr > self.lr:
            raise UserError(f"min_lr ({self.min_lr}) must be at most lr ({self.lr})")
        if self.logger == "tensorboard":
            check_available()


def own_loss(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """The model's own training loss: ``model(*batch)`` returns ``(logits, loss)``."""
    return model(*batch)[1]


class NonFiniteLoss(UserError):
    """The loss or the gradient became nan or inf: a training failure the user fixes with settings."""


class _InterruptFlag:
    """First Ctrl-C: ask the loop to save and stop after this step. Second: abort now."""

    def __init__(self) -> None:
        self.raised = False

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self.previous = None
        return self

    def _handle(self, signum, frame):
        if self.raised:
            raise KeyboardInterrupt
        self.raised = True
        tqdm.write("Ctrl-C: finishing this step, saving a checkpoint, then stopping "
                   "(press again to abort without saving)", file=sys.stderr)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class Trainer:
    """Train `model` on `train_batches(step) -> list of micro-batches` into `run` (a RunFolder).

    `on_step_end(step, loss)` runs after every step; a record it returns (a classifier's dev scores)
    is logged beside the trainer's own (rank 0). `training_loss(model, batch)` is the loss the
    gradient follows (default: the model's own, ``model(*batch)[1]``; distillation adds the
    teacher's soft targets, `lmlab.train.distill`); evaluation always reports the model's own loss."""

    def __init__(self, model: torch.nn.Module, config: TrainConfig, run: RunFolder,
                 train_batches: Callable[[int], list[Batch]],
                 eval_batches: Callable[[], Iterable[Batch]] | None = None,
                 context: distributed.Context | None = None,
                 on_step_end: Callable[[int, float], dict | None] | None = None,
                 training_loss: Callable[[torch.nn.Module, Batch], torch.Tensor] | None = None) -> None:
        self.config, self.run = config, run
        self.training_loss = training_loss or own_loss
        self.context = context or distributed.Context()
        if self.context.is_main:
            run.path.mkdir(parents=True, exist_ok=True)
        self.train_batches, self.eval_batches = train_batches, eval_batches
        self.on_step_end = on_step_end
        device = self.context.device
        self.model = model.to(device)
        self.optimizer = adamw(self.model, config.lr, (config.beta1, config.beta2), config.weight_decay, device)
        self.autocast, self.precision_choice = choose_autocast(config.dtype, device, model_width(model))
        self.step = 0  # optimizer steps done
        self.tokens_seen = 0
        self.best_val_loss = math.inf
        self.skipped_steps = 0  # updates dropped for a non-finite loss or gradient (on_nan=skip)
        self.earlier_seconds = 0.0  # wall time of the sessions before a resume (trainer_state.pt)
        self.session_start = time.perf_counter()
        self.grad_norm = math.nan  # the last step's global gradient norm, before clipping
        self.tensorboard: TensorBoardLog | None = None  # open during `fit` with logger=tensorboard (rank 0)
        self.choices: list[str] = []  # what dtype=auto and compile=auto chose, and why (`say`)
        self.ddp = None  # the DistributedDataParallel wrapper under torchrun
        if self.context.distributed:
            ids = [device.index] if device.type == "cuda" else None
            self.ddp = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.wrapped = self.ddp or self.model  # what the training step calls
        if config.compile == "on":
            self.wrapped = torch.compile(self.wrapped)
        self.auto_compile = AutoCompile(self.wrapped, device, self.say) if config.compile == "auto" else None

    # --- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {"step": self.step, "tokens_seen": self.tokens_seen, "best_val_loss": self.best_val_loss,
                "elapsed_s": self.elapsed(), "optimizer": self.optimizer.state_dict(), "rng": rng}

    def elapsed(self) -> float:
        """Wall seconds of training so far, the sessions before a resume included (`elapsed_s` in
        metrics.jsonl: what `lmlab runs` reports as a run's wall time)."""
        return self.earlier_seconds + time.perf_counter() - self.session_start

    def resume(self) -> None:
        """Restore weights, optimizer, counters and RNG from the run folder's last checkpoint."""
        state = self.run.load_state()
        self.run.load_model(self.model)
        self._load_optimizer(state["optimizer"])
        self.step, self.tokens_seen = state["step"], state["tokens_seen"]
        self.best_val_loss = state["best_val_loss"]
        self.earlier_seconds = float(state.get("elapsed_s", 0.0))  # runs saved before lmlab kept it: 0
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        if self.context.is_main:
            self.run.truncate_metrics(self.step)

    def _load_optimizer(self, saved: dict) -> None:
        """AdamW's moments, refused by name when they belong to another model (other shapes)."""
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        try:
            shapes = [tuple(saved["state"][i]["exp_avg"].shape) for i in range(len(params)) if i in saved["state"]]
            fits = len(saved["param_groups"]) == len(self.optimizer.param_groups) and all(
                shape == tuple(p.shape) for shape, p in zip(shapes, params))
        except (KeyError, TypeError, AttributeError):
            fits = False
        if not fits:
            raise UserError(f"{self.run.state_path}: the optimizer state belongs to another model (its shapes do "
                            f"not fit the model in config.json)")
        self.optimizer.load_state_dict(saved)

    def save_checkpoint(self) -> None:
        if self.context.is_main:
            self.run.save_model(self.model, self.step)
            self.run.save_state(self.state_dict())
            plot_loss_curves(self.run.read_metrics(), self.run.plot_path)
            if self.tensorboard is not None:
                self.tensorboard.flush()
        distributed.barrier(self.context)

    def log(self, record: dict) -> None:
        """One record into metrics.jsonl (and TensorBoard when it is the logger); rank 0 only."""
        self.run.append_metrics(record)
        if self.tensorboard is not None:
            self.tensorboard.write(record)

    # --- the loop -------------------------------------------------------------------------
    def _precision(self):
        return precision(self.context.device, self.autocast)

    def train_step(self) -> tuple[float, int]:
        """One optimizer step over `grad_accum` micro-batches; returns (mean loss, tokens)."""
        config, started = self.config, time.perf_counter()
        micro_batches = self.train_batches(self.step)
        lr = SCHEDULES[config.schedule](self.step, config.max_steps, config.lr, config.min_lr, config.warmup_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        module = self.auto_compile.module() if self.auto_compile is not None else self.wrapped
        try:
            total_loss, tokens = self._accumulate(micro_batches, module)
        except Exception as error:  # noqa: BLE001 (Ctrl-C is not an Exception)
            if self.auto_compile is None or not self.auto_compile.compiling:
                raise
            self.optimizer.zero_grad(set_to_none=True)  # the step that ran the compiler failed: redo it eagerly
            self.auto_compile.failed(error)
            total_loss, tokens = self._accumulate(micro_batches, self.auto_compile.module())
        loss = distributed.mean_across_ranks(total_loss, self.context).item()
        # the gradient norm before clipping to grad_clip (inf: measured, not clipped); the same on every rank
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip or math.inf).item()
        self.grad_norm = grad_norm
        if math.isfinite(loss) and math.isfinite(grad_norm):
            self.optimizer.step()
        else:
            self._non_finite(loss, grad_norm)  # raises, or skips this update
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        if self.auto_compile is not None and self.auto_compile.deciding:  # nothing to time once decided
            self.auto_compile.step_done(time.perf_counter() - started, batch_shapes(micro_batches),
                                        config.max_steps - self.step)
        return loss, tokens * self.context.world_size

    def _accumulate(self, micro_batches: list[Batch], module: torch.nn.Module) -> tuple[torch.Tensor, int]:
        """Forward and backward of every micro-batch through `module`: (summed loss, tokens)."""
        device = self.context.device
        total_loss = torch.zeros((), device=device)
        tokens = 0
        for index, batch in enumerate(micro_batches):
            batch = tuple(t.to(device, non_blocking=True) for t in batch)
            last = index == len(micro_batches) - 1
            # DDP: all-reduce gradients only once, after the last micro-batch.
            sync = contextlib.nullcontext() if last or self.ddp is None else self.ddp.no_sync()
            with sync, self._precision():
                loss = self.training_loss(module, batch) / len(micro_batches)
            loss.backward()
            total_loss += loss.detach()
            tokens += batch[0].numel()
        return total_loss, tokens

    def say(self, sentence: str) -> None:
        """A choice the run made by itself (precision, compilation): on stderr, and in `fit`'s summary."""
        self.choices.append(sentence)
        if self.context.is_main:
            tqdm.write(sentence, file=sys.stderr)

    def _non_finite(self, loss: float, grad_norm: float) -> None:
        """A loss or gradient that is nan or inf: nothing of this step reaches the weights or the disk.
        on_nan=stop ends the run (the last checkpoint untouched); on_nan=skip drops the update."""
        what = f"the loss is {loss}" if not math.isfinite(loss) else f"the gradient norm is {grad_norm}"
        if self.config.on_nan == "stop":
            raise NonFiniteLoss(f"step {self.step + 1}: {what}; the last checkpoint in {self.run.path} is kept "
                                f"as it was. Lower the learning rate (--set lr={self.config.lr / 10:g}), clip "
                                f"harder (--set grad_clip=0.5), or skip such steps (--set on_nan=skip)")
        self.skipped_steps += 1
        if self.context.is_main:
            self.log({"step": self.step + 1, "skipped_step": what, "skipped_steps": self.skipped_steps})

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean loss over the evaluation batches (the model in eval mode: no dropout)."""
        self.model.eval()
        losses = []
        for batch in self.eval_batches():
            batch = tuple(t.to(self.context.device) for t in batch)
            with self._precision():
                losses.append(self.model(*batch)[1].float())
        self.model.train()
        return distributed.mean_across_ranks(torch.stack(losses).mean(), self.context).item()

    def fit(self) -> dict:
        """Train until `max_steps` or Ctrl-C; returns a summary. Always leaves a checkpoint."""
        config, context = self.config, self.context
        self.model.train()
        bar = tqdm(total=config.max_steps, initial=self.step, desc="train", unit="step",
                   disable=not context.is_main, dynamic_ncols=True)
        interrupted, last_loss = False, math.nan
        window_tokens, window_start = 0, time.perf_counter()
        self.session_start = window_start
        if context.is_main and config.logger == "tensorboard":  # a resumed run drops its old steps after this one
            self.tensorboard = TensorBoardLog(self.run.path, purge_step=self.step + 1 if self.step else None)
        self.say(f"precision: {self.precision_choice}")
        try:
            with _InterruptFlag() as interrupt:
                while self.step < config.max_steps:
                    last_loss, tokens = self.train_step()
                    self.tokens_seen += tokens
                    window_tokens += tokens
                    elapsed = time.perf_counter() - window_start
                    tokens_per_s = window_tokens / max(elapsed, 1e-9)
                    lr = self.optimizer.param_groups[0]["lr"]
                    bar.update(1)
                    bar.set_postfix(loss=f"{last_loss:.4f}", lr=f"{lr:.2e}", tok_s=f"{tokens_per_s:,.0f}")
                    if context.is_main and (self.step % config.log_every == 0 or self.step == 1):
                        self.log({"step": self.step, "train_loss": last_loss, "lr": lr,
                                  "tokens_per_s": round(tokens_per_s, 1), "grad_norm": self.grad_norm,
                                  "tokens_seen": self.tokens_seen, "elapsed_s": round(self.elapsed(), 3)})
                        window_tokens, window_start = 0, time.perf_counter()
                    record = self.on_step_end(self.step, last_loss) if self.on_step_end is not None else None
                    if record is not None and context.is_main:
                        self.log(record)
                    final = self.step == config.max_steps
                    if self.eval_batches is not None and (
                            final or (config.eval_every and self.step % config.eval_every == 0)):
                        self._log_validation(bar)
                        window_tokens, window_start = 0, time.perf_counter()  # eval time is not training
                    if distributed.any_rank(interrupt.raised, context):
                        interrupted = True
                        break
                    if final or (config.checkpoint_every and self.step % config.checkpoint_every == 0):
                        self.save_checkpoint()
                if interrupted:
                    self.save_checkpoint()
        finally:
            bar.close()  # before any error message: the bar's last line must not follow it
            if self.tensorboard is not None:
                self.tensorboard.close()
                self.tensorboard = None
        return {"step": self.step, "train_loss": last_loss, "best_val_loss": self.best_val_loss,
                "tokens_seen": self.tokens_seen, "interrupted": interrupted, "skipped_steps": self.skipped_steps,
                "choices": self.choices}

    def _log_validation(self, bar) -> None:
        val_loss = self.evaluate()
        self.best_val_loss = min(self.best_val_loss, val_loss)
        if self.context.is_main:
            self.log({"step": self.step, "val_loss": val_loss, "val_perplexity": math.exp(min(val_loss, 50.0)),
                      "elapsed_s": round(self.elapsed(), 3)})
            message = f"step {self.step}: val loss {val_loss:.4f}, perplexity {math.exp(min(val_loss, 50.0)):.2f}"
            bar.write(message, file=sys.stderr)
