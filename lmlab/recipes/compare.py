"""Recipe: `lmlab compare`, every language-model family on the same text under the same budget.

    one corpus, one split, one tokenizer (trained once and shared by every run)
      -> for each family: `lmlab train --model FAMILY` (its preset's shape; the common block_size,
         batch_size and seed; the same budget)
      -> the same validation windows, the same generation -> one table (Markdown, JSON, PNG)

The budget is either `--max-steps N` (every neural model takes N optimizer steps) or
`--budget-seconds S` (each gets S seconds of training: the median of three timed Trainer steps
turns S into a step count, so the learning-rate schedule still spans the whole run). The n-gram
model is counted in one pass whatever the budget. Validation perplexity is `lmlab eval`'s (`lm.evaluation_loss`): every
validation token once as a target, each model with as much context as it can use (its state
carried along 16 contiguous streams; a Transformer's window of block_size tokens).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from lmlab import __version__
from lmlab.config import config_to_dict, preset
from lmlab.data.lm import load_ids
from lmlab.errors import UserError
from lmlab.evaluate.metrics import perplexity
from lmlab.evaluate.profile import measure_generation, measure_training
from lmlab.generate.sampling import SamplingConfig
from lmlab.models.registry import MODELS, build_model
from lmlab.recipes import lm
from lmlab.train import distributed
from lmlab.io import atomic_write_json, atomic_write_text
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import TrainConfig

ORDER = ["ngram", "ffnn", "rnn", "lstm", "gru", "cnn", "gpt"]  # from counting to attention, as the notes go


@dataclass
class ComparePreset:
    """One comparison: the text, each family's `lmlab train` preset, and what is shared."""

    data: str
    preset: str  # each family's training preset (its model shape and optimizer settings)
    block_size: int  # the same context window for every family
    batch_size: int
    max_steps: Optional[int]  # optimizer steps per neural model, or
    budget_seconds: Optional[float]  # seconds of training per neural model
    eval_tokens: Optional[int]  # validation tokens scored (None: the whole split)
    sample_tokens: int  # tokens generated for the speed measurement and the sample


PRESETS = {
    "tiny": ComparePreset(data="pydoc", preset="tiny", block_size=32, batch_size=8, max_steps=15,
                          budget_seconds=None, eval_tokens=2_000, sample_tokens=40),
    "default": ComparePreset(data="shakespeare", preset="cpu", block_size=128, batch_size=32, max_steps=None,
                             budget_seconds=90.0, eval_tokens=None, sample_tokens=200),
}


def _settings(args) -> tuple[ComparePreset, list[str]]:
    settings = preset(PRESETS, args.preset)
    if args.data is not None:
        settings.data = args.data
    if args.max_steps is not None and args.budget_seconds is not None:
        raise UserError("give --max-steps or --budget-seconds, not both")
    if args.max_steps is not None:
        settings.max_steps, settings.budget_seconds = args.max_steps, None
    if args.budget_seconds is not None:
        settings.max_steps, settings.budget_seconds = None, args.budget_seconds
    if (settings.max_steps or 1) < 1 or (settings.budget_seconds or 1) <= 0:
        raise UserError("--max-steps must be >= 1 and --budget-seconds > 0")
    families = [name.strip() for name in args.models.split(",")] if args.models else ORDER
    unknown = [name for name in families if name not in MODELS]
    if unknown or not families:
        raise UserError(f"--models: unknown {unknown}; choose from {', '.join(ORDER)}")
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for assignment in args.overrides:
        key = assignment.partition("=")[0].strip().removeprefix("train.")
        if key not in train_fields:
            raise UserError(f"--set: {key!r} is not a training setting shared by every family; valid keys: "
                            f"{', '.join(sorted(train_fields))}")
    return settings, [name for name in ORDER if name in families]


def _command_line(args, settings: ComparePreset, out: Path) -> str:
    words = ["lmlab compare", f"--preset {args.preset}", f"--data {settings.data}", f"--out {out}"]
    words += [f"--models {args.models}"] if args.models else []
    words += [f"--max-steps {settings.max_steps}"] if settings.max_steps else \
        [f"--budget-seconds {settings.budget_seconds:g}"]
    words += [f"--tokenizer {args.tokenizer}", f"--seed {args.seed}"] + [f"--set {a}" for a in args.overrides]
    return " ".join(words)


def _shared_tokenizer(settings: ComparePreset, tokenizer: str, out: Path) -> Path:
    """Train the tokenizer once on the training split; every run loads this file as is."""
    from lmlab.data.corpora import load_corpus, split_corpus

    data = lm.DataConfig(corpus=settings.data, tokenizer=tokenizer)
    split = split_corpus(load_corpus(settings.data), data.val_fraction)
    path = out / "tokenizer.json"
    out.mkdir(parents=True, exist_ok=True)
    lm.make_tokenizer(data, split.train).save(path)
    return path


def _train_args(family: str, settings: ComparePreset, args, out: Path, tokenizer: Path, steps: int, warmup: int):
    """`lmlab train` arguments: the shared settings, evaluation ten times along the run, warmup at most
    a tenth of it (a budget of few steps must still reach the peak learning rate and decay)."""
    overrides = [f"model.block_size={settings.block_size}", f"train.batch_size={settings.batch_size}",
                 f"train.eval_every={max(1, steps // 10)}", f"train.warmup_steps={min(warmup, steps // 10)}",
                 "train.checkpoint_every=0", "train.log_every=5",
                 *[f"train.{a.strip().removeprefix('train.')}" for a in args.overrides]]
    return argparse.Namespace(model=family, data=settings.data, out=str(out / family), preset=settings.preset,
                              max_steps=steps, seed=args.seed, resume=False, overrides=overrides,
                              tokenizer=str(tokenizer), vocab_size=None, compile=False, device=args.device)


def compare_family(family: str, settings: ComparePreset, args, out: Path, tokenizer_path: Path, context) -> dict:
    """Train one family into out/FAMILY and measure it: one row of the table, and its curve."""
    from lmlab.tokenizers import Tokenizer

    device = context.device
    config = preset(lm.FAMILY_PRESETS[family], settings.preset)
    config.model.block_size = settings.block_size
    config.model.vocab_size = Tokenizer.load(tokenizer_path).vocab_size
    step_cost, steps = None, 1  # the n-gram model: one counting pass
    if family != "ngram":  # time three Trainer steps: the budget in steps, and a training step's peak memory
        step_cost = measure_training(build_model(family, config_to_dict(config.model)), settings.batch_size,
                                     settings.block_size, steps=3, device=device)
        steps = settings.max_steps or max(1, int(settings.budget_seconds / step_cost["seconds_per_step"]))
    lm.say(f"--- {lm.DISPLAY_NAMES[family]}: {steps} step{'s' * (steps > 1)}")
    summary = lm.train(_train_args(family, settings, args, out, tokenizer_path, steps, config.train.warmup_steps),
                       context)
    model, tokenizer, _ = lm.load_run(out / family, device)
    val_ids = load_ids(out / family / "data" / "val.npy")
    if settings.eval_tokens:
        val_ids = val_ids[: settings.eval_tokens + 1]
    loss, tokens = lm.evaluation_loss(model, val_ids, settings.block_size, device)
    speed = measure_generation(model, 1, 1, settings.sample_tokens, device)
    sample = lm._stream_sample(model, tokenizer, "", settings.sample_tokens, SamplingConfig(temperature=0.8),
                               device, seed=args.seed, out=io.StringIO())
    records = RunFolder(out / family).read_metrics()
    rates = [r["tokens_per_s"] for r in records if "tokens_per_s" in r and r.get("step", 0) > 1] or \
            [r["tokens_per_s"] for r in records if "tokens_per_s" in r]
    row = {"family": family, "name": lm.DISPLAY_NAMES[family], "parameters": model.num_parameters(),
           "val_loss": loss, "val_perplexity": perplexity(loss), "val_tokens": tokens, "steps": summary["step"],
           "train_seconds": summary["seconds"], "train_tokens_per_s": statistics.median(rates),
           "generation_tokens_per_s": speed["tokens_per_s"],
           "train_step_peak_memory_mb": step_cost["peak_memory_mb"] if step_cost else None,
           "sample": " ".join(sample.split())[:80]}
    curve = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    return {"row": row, "curve": curve}


def markdown_table(rows: list[dict]) -> str:
    lines = ["| family | parameters | val perplexity | val loss | steps | training time (s) | train tokens/s "
             "| generation tokens/s | train-step peak memory (MB) | sample |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        memory = "-" if r["train_step_peak_memory_mb"] is None else f"{r['train_step_peak_memory_mb']:.1f}"
        sample = r["sample"].replace("|", "\\|")
        lines.append(f"| {r['name']} | {r['parameters']:,} | {r['val_perplexity']:.3f} | {r['val_loss']:.4f} "
                     f"| {r['steps']:,} | {r['train_seconds']:.1f} | {r['train_tokens_per_s']:,.0f} "
                     f"| {r['generation_tokens_per_s']:,.0f} | {memory} | `{sample}` |")
    return "\n".join(lines) + "\n"


def compare_command(args) -> None:
    from lmlab.viz import plot_comparison

    settings, families = _settings(args)
    out = Path(args.out or f"runs/compare-{args.preset}-{Path(settings.data).stem}")
    if (out / "compare.json").exists():
        raise UserError(f"{out} already holds a comparison: choose another --out")
    context = distributed.setup(args.device)
    if context.distributed:
        raise UserError("lmlab compare runs in one process: start it without torchrun")
    started = time.perf_counter()
    tokenizer_path = _shared_tokenizer(settings, args.tokenizer, out)
    results = [compare_family(family, settings, args, out, tokenizer_path, context) for family in families]
    rows = [result["row"] for result in results]
    report = {"command": _command_line(args, settings, out), "lmlab_version": __version__,
              "device": str(context.device), "settings": dataclasses.asdict(settings), "tokenizer": args.tokenizer,
              "seconds": time.perf_counter() - started, "rows": rows,
              "curves": {result["row"]["family"]: result["curve"] for result in results}}
    budget = (f"{settings.max_steps} optimizer steps" if settings.max_steps
              else f"{settings.budget_seconds:g} s of training") + " per neural model"
    text = (f"# Language-model families compared\n\n```\n{report['command']}\n```\n\n"
            f"Corpus `{settings.data}`, `{args.tokenizer}` tokenizer trained once on the training split, "
            f"block size {settings.block_size}, batch size {settings.batch_size}, budget {budget} (the n-gram "
            f"model is counted in one pass), device `{context.device}`, lmlab {__version__}. Validation "
            f"perplexity over {rows[0]['val_tokens']:,} validation tokens (`lmlab eval`: each model with all "
            f"the context it can use, its state carried along 16 streams; GPT: windows of {settings.block_size}); "
            f"generation speed: {settings.sample_tokens} tokens, batch 1; memory: "
            f"peak of one training step above the level before it. Total {report['seconds']:.0f} s.\n\n"
            + markdown_table(rows))
    atomic_write_text(out / "compare.md", text)
    atomic_write_json(out / "compare.json", report, indent=2)
    plot_comparison(rows, report["curves"], out / "compare.png")
    lm.say(f"wrote {out / 'compare.md'}, compare.json and compare.png")
    print(json.dumps(report) if args.json else text)

