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

import copy
import dataclasses
import io
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

from lmlab import __version__
from lmlab.config import AT_LEAST_ONE, Config, POSITIVE, Range, apply_overrides, config_to_dict
from lmlab.data.lm import load_ids
from lmlab.errors import UserError
from lmlab.outputs import claim_folder
from lmlab.evaluate.metrics import perplexity
from lmlab.evaluate.profile import measure_generation, measure_training
from lmlab.generate.sampling import SamplingConfig
from lmlab.recipes import lm
from lmlab.recipes.common import resolve_config, say, text_keys
from lmlab.recipes.families import LM_FAMILIES, LMFamily, LMRunConfig, lm_family
from lmlab.recipes.options import CompareOptions
from lmlab.runs import load_run
from lmlab.train import distributed
from lmlab.io import atomic_write_json, atomic_write_text
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import TrainConfig


@dataclass
class ComparePreset(Config):
    """One comparison: the text, each family's `lmlab train` preset, and what is shared."""

    data: str
    preset: str  # each family's training preset (its model shape and optimizer settings)
    block_size: Annotated[int, AT_LEAST_ONE]  # the same context window for every family
    batch_size: Annotated[int, AT_LEAST_ONE]
    max_steps: Optional[Annotated[int, AT_LEAST_ONE]]  # optimizer steps per neural model, or
    budget_seconds: Optional[Annotated[float, POSITIVE]]  # seconds of training per neural model
    eval_tokens: Optional[Annotated[int, AT_LEAST_ONE]]  # validation tokens scored (None: the whole split)
    sample_tokens: Annotated[int, Range(2)]  # tokens generated for the speed measurement and the sample
    text_field: str = "text"  # where a JSON Lines record of --data keeps its text (--set text_field=NAME)
    text_column: str = "text"  # where a CSV/TSV row or a dataset keeps it (--set text_column=NAME)


PRESETS = {
    "tiny": ComparePreset(data="pydoc", preset="tiny", block_size=32, batch_size=8, max_steps=15,
                          budget_seconds=None, eval_tokens=2_000, sample_tokens=40),
    "default": ComparePreset(data="shakespeare", preset="cpu", block_size=128, batch_size=32, max_steps=None,
                             budget_seconds=90.0, eval_tokens=None, sample_tokens=200),
}


def _settings(options: CompareOptions) -> tuple[ComparePreset, list[LMFamily]]:
    """The comparison's settings (preset, then --data / --max-steps / --budget-seconds) and families
    (in the registry's order: from counting to attention)."""
    if options.max_steps is not None and options.budget_seconds is not None:
        raise UserError("give --max-steps or --budget-seconds, not both")
    text, training = text_keys(options.overrides)
    settings = resolve_config(PRESETS, dataclasses.replace(options, overrides=[f"{k}={v}" for k, v in text.items()]),
                              CompareOptions.default_preset)
    if options.max_steps is not None:
        settings.budget_seconds = None
    if options.budget_seconds is not None:
        settings.max_steps = None
    shared = {f.name for f in dataclasses.fields(TrainConfig)}
    for key in (a.partition("=")[0].strip().removeprefix("train.") for a in training):
        if key not in shared:
            raise UserError(f"--set: {key!r} is not a training setting shared by every family; valid keys: "
                            f"{', '.join(sorted(shared))}; and text_field, text_column for --data")
    names = [name.strip() for name in options.models.split(",")] if options.models else list(LM_FAMILIES)
    families = [lm_family(name, "--models") for name in names]
    if not families:
        raise UserError(f"--models: give one or more of {', '.join(LM_FAMILIES)}")
    return settings, [family for family in LM_FAMILIES.values() if family in families]


def _command_line(options: CompareOptions, settings: ComparePreset, out: Path) -> str:
    words = ["lmlab compare", f"--preset {options.preset or CompareOptions.default_preset}",
             f"--data {settings.data}", f"--out {out}"]
    words += [f"--models {options.models}"] if options.models else []
    words += [f"--max-steps {settings.max_steps}"] if settings.max_steps else \
        [f"--budget-seconds {settings.budget_seconds:g}"]
    words += [f"--tokenizer {options.tokenizer}", f"--seed {options.seed}"] + [f"--set {a}" for a in options.overrides]
    return " ".join(words)


def _shared_tokenizer(settings: ComparePreset, tokenizer: str, out: Path) -> Path:
    """Train the tokenizer once on the training split; every run loads this file as is."""
    from lmlab.data.corpora import load_corpus, split_corpus

    data = lm.DataConfig(corpus=settings.data, tokenizer=tokenizer)
    split = split_corpus(load_corpus(settings.data, settings.text_field, settings.text_column), data.val_fraction)
    path = out / "tokenizer.json"
    out.mkdir(parents=True, exist_ok=True)
    lm.make_tokenizer(data, split.train).save(path)
    return path


def family_config(family: LMFamily, settings: ComparePreset, options: CompareOptions, tokenizer: Path,
                  vocab_size: int) -> LMRunConfig:
    """The family's preset with what the comparison shares: block and batch size, seed, tokenizer,
    data, and the --set training settings."""
    config = copy.deepcopy(family.presets[settings.preset])
    config.model.block_size, config.model.vocab_size = settings.block_size, vocab_size
    config.train.batch_size, config.train.seed = settings.batch_size, options.seed
    config.train.checkpoint_every, config.train.log_every = 0, 5
    config.data.corpus, config.data.tokenizer, config.data.vocab_size = settings.data, str(tokenizer), None
    config.data.text_field, config.data.text_column = settings.text_field, settings.text_column
    training = text_keys(options.overrides)[1]
    apply_overrides({"train": config.train}, [a.strip().removeprefix("train.") for a in training])
    return config


def _budget(config: LMRunConfig, steps: int) -> None:
    """Evaluate ten times along the run; warm up at most a tenth of it (a budget of few steps must
    still reach the peak learning rate and decay)."""
    config.train.max_steps, config.train.eval_every = steps, max(1, steps // 10)
    config.train.warmup_steps = min(config.train.warmup_steps, steps // 10)


def compare_family(family: LMFamily, settings: ComparePreset, options: CompareOptions, out: Path,
                   tokenizer_path: Path, context) -> dict:
    """Train one family into out/FAMILY and measure it: one row of the table, and its curve."""
    from lmlab.tokenizers import Tokenizer

    device = context.device
    config = family_config(family, settings, options, tokenizer_path, Tokenizer.load(tokenizer_path).vocab_size)
    step_cost, steps = None, 1  # a counted family: one pass
    if family.training != "counted":  # time three training steps: the budget in steps, and the peak memory
        step_cost = measure_training(family.build(config_to_dict(config.model)), settings.batch_size,
                                     settings.block_size, steps=3, device=device)
        steps = settings.max_steps or max(1, int(settings.budget_seconds / step_cost["seconds_per_step"]))
    _budget(config, steps)
    say(f"--- {family.display_name}: {steps} step{'s' * (steps > 1)}")
    summary = lm.fit(family, config, out / family.name, context, preset=settings.preset)
    run = load_run(out / family.name, device, expect="lm")
    val_ids = load_ids(out / family.name / "data" / "val.npy")
    if settings.eval_tokens:
        val_ids = val_ids[: settings.eval_tokens + 1]
    loss, tokens = lm.evaluation_loss(run.model, val_ids, settings.block_size, device)
    speed = measure_generation(run.model, 1, 1, settings.sample_tokens, device)
    sample = lm.stream_sample(run.model, run.tokenizer, "", settings.sample_tokens, SamplingConfig(temperature=0.8),
                              device, seed=options.seed, out=io.StringIO())
    records = RunFolder(out / family.name).read_metrics()
    rates = [r["tokens_per_s"] for r in records if "tokens_per_s" in r and r.get("step", 0) > 1] or \
            [r["tokens_per_s"] for r in records if "tokens_per_s" in r]
    row = {"family": family.name, "name": family.display_name, "parameters": run.model.num_parameters(),
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


def compare_command(options: CompareOptions) -> None:
    from lmlab.viz import plot_comparison

    settings, families = _settings(options)
    out = Path(options.out or f"runs/compare-{options.preset or CompareOptions.default_preset}-"
                              f"{Path(settings.data).stem}")
    if (out / "compare.json").exists():
        raise UserError(f"{out} already holds a comparison: choose another --out")
    claim_folder(out, "compare", force=options.force, command="lmlab compare")
    context = distributed.setup(options.device)
    if context.distributed:
        raise UserError("lmlab compare runs in one process: start it without torchrun")
    started = time.perf_counter()
    tokenizer_path = _shared_tokenizer(settings, options.tokenizer, out)
    results = [compare_family(family, settings, options, out, tokenizer_path, context) for family in families]
    rows = [result["row"] for result in results]
    report = {"command": _command_line(options, settings, out), "lmlab_version": __version__,
              "device": str(context.device), "settings": dataclasses.asdict(settings), "tokenizer": options.tokenizer,
              "seconds": time.perf_counter() - started, "rows": rows,
              "curves": {result["row"]["family"]: result["curve"] for result in results}}
    budget = (f"{settings.max_steps} optimizer steps" if settings.max_steps
              else f"{settings.budget_seconds:g} s of training") + " per neural model"
    text = (f"# Language-model families compared\n\n```\n{report['command']}\n```\n\n"
            f"Corpus `{settings.data}`, `{options.tokenizer}` tokenizer trained once on the training split, "
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
    say(f"wrote {out / 'compare.md'}, compare.json and compare.png")
    print(json.dumps(report) if options.json else text)

