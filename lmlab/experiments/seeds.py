"""Experiment `seeds`: does the seed matter, why 42, and how many seeds does a claim need?

Note 001 adds `seed=42` to a fine-tuning script and asks whether any number would do, and what
a seed fixes. A seed fixes every random draw of a run: in lmlab `torch.manual_seed(seed)` fixes the
initial weights (and the dropout masks), and the samplers draw step s's batch from a generator
seeded with (seed, s) (docs/training.md). The number itself means nothing; changing it changes the
draws. Three measurements:

- **spread**: the same small GPT (validation loss, on the same fixed validation windows for every
  seed) and the same SST-2 classifier (dev accuracy in points) trained with seeds 0..n-1:
  mean ± std, and how far apart the luckiest and the unluckiest seed land.
- **repeatability**: seed 0 trained a second time, from scratch into another folder; the two final
  state dicts compared tensor by tensor with `torch.equal` (bit-identical or not), and seed 0
  against seed 1 (the largest difference of one weight).
- **seeds a claim needs**: two arms of n seeds each, compared by their means: the difference of
  two means has standard error sd * sqrt(2 / n). A claimed gain d stands out at about two standard
  errors (95%) when d >= 2 sd sqrt(2 / n), that is when

      n >= 2 (2 sd / d)^2        seeds per arm (`seeds_needed`; sd measured here)

The classifier needs labelled sentences: SST-2 as a GLUE folder (`classifier_data`), or, for the
tiny preset and anyone without it, `synthetic`: a made-up sentiment set written into the run
folder, so nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from lmlab.errors import UserError
from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm
from lmlab.experiments.lab import RUNS, Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread
from lmlab.io import atomic_write_text
from lmlab.recipes import classify
from lmlab.recipes.classifier_families import CLASSIFIERS
from lmlab.recipes.options import ClassifyTrainOptions
from lmlab.train.checkpoint import RunFolder

SYNTHETIC = "synthetic"
POSITIVE = ("good", "great", "lovely", "superb", "warm", "funny", "clever", "moving")
NEGATIVE = ("bad", "dull", "awful", "weak", "boring", "flat", "silly", "tedious")
NEUTRAL = ("film", "movie", "story", "plot", "actor", "scene", "the", "a", "is", "very", "quite", "and")


@dataclass
class SeedSettings(TrainingSettings):
    classifier: str = "bow"  # classifier family (`lmlab classify train --model`)
    classifier_preset: str = "default"  # the family's preset
    classifier_data: str = "../shared/data/sst2"  # a GLUE folder (train.tsv, dev.tsv), or synthetic: a made-up
    # sentiment set written into the run folder (no download)
    classifier_epochs: int = 1  # passes over the classifier's training file
    improvement: float = 0.5  # the claimed classifier gain to size, in points of dev accuracy
    lm_improvement: float = 0.01  # the claimed GPT gain to size, in nats of validation loss
    other_threads: int = 2  # seed 0's GPT trained for `threads_steps` on the session's threads and on this
    # many, and compared (0: not)
    threads_steps: int = 30  # steps of those two short runs

    def check_relations(self) -> None:
        super().check_relations()
        if self.classifier not in CLASSIFIERS:
            raise UserError(f"classifier={self.classifier!r}: choose one of {', '.join(CLASSIFIERS)}")
        if min(self.classifier_epochs, self.threads_steps) < 1 or self.other_threads < 0:
            raise UserError("classifier_epochs and threads_steps must be >= 1, other_threads >= 0")
        if self.improvement <= 0 or self.lm_improvement <= 0:
            raise UserError("improvement and lm_improvement must be > 0")
        folder = Path(self.classifier_data).expanduser()
        if self.classifier_data != SYNTHETIC and not any((folder / f"train.{ext}").is_file()
                                                          for ext in ("tsv", "csv", "jsonl")):
            raise UserError(f"classifier_data={self.classifier_data}: no GLUE folder there (train.tsv, dev.tsv); "
                            f"give SST-2's folder (--set classifier_data=DIR) or --set classifier_data={SYNTHETIC}")


PRESETS = {
    "tiny": SeedSettings(corpus="pydoc", n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8, steps=20,
                         eval_every=10, eval_batches=2, seeds=3, classifier_preset="tiny",
                         classifier_data=SYNTHETIC, classifier_epochs=2, threads_steps=10),
    "default": SeedSettings(seeds=5, eval_batches=16),
}


def seeds_needed(sd: float, improvement: float, z: float = 2.0) -> int:
    """Seeds per arm for a gain `improvement` to be `z` standard errors of a difference of two means
    (each arm's seeds spread by `sd`): the smallest n with z * sd * sqrt(2 / n) <= improvement."""
    return max(2, math.ceil(2 * (z * sd / improvement) ** 2))


def resolvable_gain(sd: float, seeds: int, z: float = 2.0) -> float:
    """The smallest gain two arms of `seeds` seeds each show at `z` standard errors: z * sd * sqrt(2 / n)."""
    return z * sd * math.sqrt(2 / seeds)


@contextlib.contextmanager
def cpu_threads(count: int):
    """Run the block with `count` intra-op CPU threads (`torch.set_num_threads`), then restore them."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def weight_difference(folder_a: Path, folder_b: Path) -> dict:
    """Two runs' final weights, tensor by tensor: whether every tensor is bit-identical (`torch.equal`),
    how many tensors there are, and the largest absolute difference of one entry."""
    a, b = (load_file(str(RunFolder(folder).model_path)) for folder in (folder_a, folder_b))
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ValueError(f"{folder_a} and {folder_b} hold different models")
    largest = max([(a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].numel()], default=0.0)
    return {"identical": all(torch.equal(a[k], b[k]) for k in a), "tensors": len(a), "max_abs_difference": largest}


def synthetic_sentiment(folder: Path, train: int = 400, dev: int = 200, seed: int = 0) -> Path:
    """A made-up GLUE folder: sentences of 6 words, positive when positive words outnumber negative
    ones (a tie: a coin), then 10% of the labels flipped, so that no classifier is perfect."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def line() -> str:
        words = [rng.choice(POSITIVE + NEGATIVE + NEUTRAL) for _ in range(6)]
        score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
        label = int(score > 0 or (score == 0 and rng.random() < 0.5)) ^ int(rng.random() < 0.1)
        return f"{' '.join(words)}\t{label}\n"

    for name, count in (("train.tsv", train), ("dev.tsv", dev)):
        atomic_write_text(folder / name, "sentence\tlabel\n" + "".join(line() for _ in range(count)))
    return folder


def classifier_data(lab: Lab, settings: SeedSettings) -> Path:
    """The classifier's GLUE folder (checked by `SeedSettings.validate`), or the synthetic one written now."""
    if settings.classifier_data == SYNTHETIC:
        return synthetic_sentiment(lab.path / "synthetic-sentiment")
    return Path(settings.classifier_data).expanduser()


def train_classifier(lab: Lab, key: str, settings: SeedSettings, data: Path, seed: int) -> dict:
    """One classifier run by `lmlab classify train`'s own code; its final dev accuracy (in points)."""
    def compute(folder: Path) -> dict:
        options = ClassifyTrainOptions(model=settings.classifier, data=str(data), out=str(folder),
                                       preset=settings.classifier_preset, seed=seed,
                                       overrides=[f"epochs={settings.classifier_epochs}"])
        summary = classify.train(options, lab.context)
        if summary.get("interrupted"):
            raise KeyboardInterrupt
        last = [r for r in RunFolder(folder).read_metrics() if "dev_accuracy" in r][-1]  # the final weights'
        return {"accuracy": 100 * last["dev_accuracy"], "f1": last["dev_f1"], "steps": summary["step"],
                "seconds": summary["seconds"]}

    return lab.part(key, compute)


def sizing(values: list[float], improvement: float) -> dict:
    """What the seed spread of `values` means for a claimed gain: seeds needed, gain resolvable now."""
    _, sd = mean_std(values)
    return {"sd": sd, "range": max(values) - min(values), "improvement": improvement,
            "seeds_needed": seeds_needed(sd, improvement) if sd > 0 else None,
            "resolvable": resolvable_gain(sd, len(values))}


def _repeat_sentence(what: str, repeat: dict) -> str:
    same, other = repeat["same_seed"], repeat["other_seed"]
    sentence = f"{what}, seed 0 trained twice from scratch: " + (
        f"bit-identical (all {same['tensors']} tensors of the final state dict are torch.equal)" if same["identical"]
        else f"NOT bit-identical (one weight differs by up to {same['max_abs_difference']:.2e})")
    if other is not None:
        sentence += (f"; seed 0 vs seed 1: {'identical' if other['identical'] else 'different'} (one weight differs "
                     f"by up to {other['max_abs_difference']:.3g})")
    return sentence + "."


def _size_sentence(what: str, values: list[float], size: dict, unit: str, digits: int) -> str:
    best = max(range(len(values)), key=values.__getitem__) if unit == "points" else min(
        range(len(values)), key=values.__getitem__)
    needed = (f"{size['seeds_needed']} seeds per arm" if size["seeds_needed"] else "one seed (no spread)")
    return (f"{what}: {spread(values, digits)} {unit} over {len(values)} seeds; the best seed ({best}) and the "
            f"worst are {size['range']:.{digits}f} {unit} apart. A claimed gain of {size['improvement']:g} {unit} "
            f"needs n >= 2 (2 sd / d)^2 = {needed}; with {len(values)} seeds an arm, only gains above "
            f"{size['resolvable']:.{digits}f} {unit} stand out (2 standard errors).")


def _plot(gpt: list[dict], classifier: list[dict], sizes: dict, path: Path) -> None:
    fig, axes = figure(1, 3, size=(4.4, 3.6))
    for seed, run in enumerate(gpt[:-1]):
        axes[0, 0].plot(*zip(*run["curve"]), "o-", markersize=3, label=f"seed {seed}")
    axes[0, 0].plot(*zip(*gpt[-1]["curve"]), "k--", label="seed 0 again")
    axes[0, 0].set(xlabel="step", ylabel="GPT validation loss (nats)")
    accuracy = [run["accuracy"] for run in classifier[:-1]]
    mean, sd = mean_std(accuracy)
    axes[0, 1].plot(range(len(accuracy)), accuracy, "o", label="one seed")
    axes[0, 1].plot([0], [classifier[-1]["accuracy"]], "kx", markersize=9, label="seed 0 again")
    axes[0, 1].axhspan(mean - sd, mean + sd, alpha=0.2, label="mean ± std")
    axes[0, 1].axhline(mean, linewidth=1)
    axes[0, 1].set(xlabel="seed", ylabel="classifier dev accuracy (points)")
    size = sizes["classifier"]
    gains = [size["improvement"] * f for f in (0.25, 0.5, 1, 2, 4)]
    axes[0, 2].plot(gains, [seeds_needed(size["sd"], g) for g in gains], "o-", label=f"sd = {size['sd']:.2f} points")
    axes[0, 2].axhline(len(accuracy), color="gray", linestyle=":", label=f"{len(accuracy)} seeds (this run)")
    axes[0, 2].set(xscale="log", yscale="log", xlabel="claimed gain d (accuracy points)",
                   ylabel="seeds per arm, n = 2 (2 sd / d)^2")
    axes[0, 2].set_xticks(gains, [f"{g:g}" for g in gains])
    axes[0, 2].minorticks_off()
    save_figure(fig, axes, path)


def _repeats(lab: Lab, settings: SeedSettings) -> dict:
    """Seed 0 against itself, against seed 1, and (GPT) against itself on `other_threads` threads."""
    def compare(what: str, other: str) -> dict:
        return weight_difference(lab.path / RUNS / f"{what}-seed0", lab.path / RUNS / f"{what}-{other}")

    repeat = {what: {"same_seed": compare(what, "seed0-again"),
                     "other_seed": compare(what, "seed1") if settings.seeds > 1 else None}
              for what in ("gpt", "classifier")}
    if settings.other_threads:
        repeat["gpt"]["other_threads"] = {**compare("gpt-short", "seed0-threads"),
                                          "threads": [torch.get_num_threads(), settings.other_threads]}
    return repeat


def _threads_sentence(repeat: dict, runs: dict) -> str:
    other = repeat["gpt"]["other_threads"]
    ones, more = other["threads"]
    same = ("bit-identical" if other["identical"] else
            f"NOT bit-identical (one weight differs by up to {other['max_abs_difference']:.2e})")
    short, threaded = runs["short"], runs["threads"]
    return (f"GPT, seed 0 for {short['curve'][-1][0]} steps on {more} CPU threads instead of {ones}: {same}; "
            f"validation loss {threaded['val_loss']:.7f} vs {short['val_loss']:.7f} (a difference of "
            f"{abs(threaded['val_loss'] - short['val_loss']):.1e}).")


def _table(seeds: list, gpt: list[dict], classifier: list[dict]) -> str:
    val, accuracy = [r["val_loss"] for r in gpt[:-1]], [r["accuracy"] for r in classifier[:-1]]
    rows = [[f"seed {seed}", f"{g['val_loss']:.4f}", f"{c['accuracy']:.2f}", f"{g['seconds'] + c['seconds']:.0f}"]
            for seed, g, c in zip(seeds + ["0 again"], gpt, classifier)]
    rows.append(["mean ± std", spread(val, 4), spread(accuracy, 2), "-"])
    return markdown_table(["seed", "GPT validation loss", "classifier dev accuracy (points)", "seconds"], rows)


def run(lab: Lab, settings: SeedSettings) -> Report:
    seeds, data = list(range(settings.seeds)), classifier_data(lab, settings)
    gpt = [train_arm(lab, f"gpt-seed{seed}", arm_config(settings, seed)) for seed in lab.progress(seeds, "GPT seeds")]
    gpt.append(train_arm(lab, "gpt-seed0-again", arm_config(settings, 0)))
    runs, short = {}, dataclasses.replace(settings, steps=settings.threads_steps, eval_every=settings.threads_steps)
    if settings.other_threads:
        runs["short"] = train_arm(lab, "gpt-short-seed0", arm_config(short, 0))
        with cpu_threads(settings.other_threads):
            runs["threads"] = train_arm(lab, "gpt-short-seed0-threads", arm_config(short, 0))
    classifier = [train_classifier(lab, f"classifier-seed{seed}", settings, data, seed)
                  for seed in lab.progress(seeds, "classifier seeds")]
    classifier.append(train_classifier(lab, "classifier-seed0-again", settings, data, 0))
    repeat = _repeats(lab, settings)
    val, accuracy = [r["val_loss"] for r in gpt[:-1]], [r["accuracy"] for r in classifier[:-1]]
    sizes = {"gpt": sizing(val, settings.lm_improvement), "classifier": sizing(accuracy, settings.improvement)}
    _plot(gpt, classifier, sizes, lab.path / "seeds.png")
    answer = [_repeat_sentence(name, repeat[key])
              for name, key in (("GPT", "gpt"), (settings.classifier, "classifier"))]
    answer += [_threads_sentence(repeat, runs)] if settings.other_threads else []
    answer += [_size_sentence("GPT validation loss", val, sizes["gpt"], "nats", 3),
               _size_sentence(f"{settings.classifier} dev accuracy", accuracy, sizes["classifier"], "points", 2)]
    setup = (f"{settings.describe()} Validation loss on the same {settings.eval_batches} x {settings.batch_size} "
             f"evenly spaced validation windows for every seed. Classifier: `lmlab classify train --model "
             f"{settings.classifier} --preset {settings.classifier_preset}`, {settings.classifier_epochs} "
             f"epoch(s) on `{settings.classifier_data}`, dev accuracy of the final weights. Seed 0 is trained a "
             f"second time from scratch; final state dicts compared with `torch.equal`. Threads: seed 0's GPT for "
             f"{settings.threads_steps} steps on {torch.get_num_threads()} thread(s) and on {settings.other_threads}.")
    numbers = {"gpt": gpt, "classifier": classifier, "repeat": repeat, "sizing": sizes,
               "gpt_threads": runs}
    return Report(setup, numbers, answer, [("One run per seed (the last row: seed 0 again)",
                                            _table(seeds, gpt, classifier))],
                  [("seeds.png", "GPT validation curves per seed (seed 0 again: dashed, on top of seed 0); the "
                                 "classifier's dev accuracy per seed; seeds per arm a claimed gain needs")])


EXPERIMENT = Experiment("seeds", "Does the random seed matter (why 42?), is the same seed bit-identical, and how many "
                        "seeds does a 0.5-point improvement need?", "001", PRESETS, run,
                        {"tiny": "10 s", "default": "5 min"})
