"""Experiment `warmup-and-dropout`: how is the learning rate set, where is dropout, and why is it off at test time?

Note 002 Q18 asks how the Transformer sets its learning rate and its dropout, where dropout sits,
and what to watch out for with dropout at test time. The same small GPT, on a slice of a corpus
small enough that it overfits within the budget (`corpus_chars`), trained with:

- **schedules** (`lmlab.train.schedules`, dropout 0): cosine decay to lr / 10 and the Transformer
  paper's Noam rate lr * min(s / w, sqrt(w / s)), each with `warmup` steps of linear warmup and
  without (Noam without warmup: lr / sqrt(s) from the first step).
- **dropout** 0, 0.1 and 0.3 (cosine with warmup). lmlab's GPT drops, like the Transformer paper,
  the sum of the token and position embeddings and each sublayer's output before it is added to
  the residual stream, and, like GPT-2, the attention weights.

Measured after training on the same fixed windows of training and of validation text: the loss
with the model in eval mode (dropout off) on both, their difference (the train/validation gap:
how much the model memorised), and the validation loss with the model left in train mode
(`model.train()`: dropout still on at evaluation), against `model.eval()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab.data.corpora import load_corpus
from lmlab.data.lm import WindowSampler, load_ids
from lmlab.errors import UserError
from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread, verdict
from lmlab.io import atomic_write_text
from lmlab.recipes.families import lm_family
from lmlab.train.checkpoint import RunFolder

ARMS = {  # name -> (schedule, with warmup, dropout)
    "cosine, warmup": ("cosine", True, 0.0),
    "cosine, no warmup": ("cosine", False, 0.0),
    "noam, warmup": ("noam", True, 0.0),
    "noam, no warmup": ("noam", False, 0.0),
    "dropout 0.1": ("cosine", True, 0.1),
    "dropout 0.3": ("cosine", True, 0.3),
}
SCHEDULE_ARMS = ("cosine, warmup", "cosine, no warmup", "noam, warmup", "noam, no warmup")
DROPOUT_ARMS = {"cosine, warmup": 0.0, "dropout 0.1": 0.1, "dropout 0.3": 0.3}  # the dropout-0 arm is shared


@dataclass
class WarmupDropoutSettings(TrainingSettings):
    corpus_chars: int = 12_000  # characters of the corpus kept (its first ones; the last 10% validate): few
    # enough that the model memorises them within `steps`
    warmup: int = 30  # warmup steps of the arms with warmup
    measure_batches: int = 8  # fixed batches of training and of validation windows the losses are measured on

    def check_relations(self) -> None:
        super().check_relations()
        if self.corpus_chars < 10 * self.block_size or self.warmup < 1 or self.measure_batches < 1:
            raise UserError(f"corpus_chars must be at least ten blocks ({10 * self.block_size}), warmup and "
                            f"measure_batches at least 1")


PRESETS = {
    "tiny": WarmupDropoutSettings(corpus="pydoc", corpus_chars=20_000, n_layer=1, n_head=2, n_embd=32,
                                  block_size=32, batch_size=8, steps=30, eval_every=10, eval_batches=2,
                                  seeds=1, warmup=5, measure_batches=2),
    "default": WarmupDropoutSettings(seeds=3),
}


def corpus_slice(lab: Lab, settings: WarmupDropoutSettings) -> Path:
    """The first `corpus_chars` characters of the corpus, as one text file in the run folder."""
    text = "\n".join(document.text for document in load_corpus(settings.corpus).documents)[:settings.corpus_chars]
    path = lab.path / "corpus.txt"
    atomic_write_text(path, text)
    return path


def fixed_windows(folder: Path, split: str, settings: WarmupDropoutSettings, device) -> list:
    """`measure_batches` batches (inputs, targets), each (B, T), of evenly spaced windows of a split."""
    sampler = WindowSampler(load_ids(Path(folder) / "data" / f"{split}.npy"), settings.block_size, seed=0)
    return [(x.to(device), y.to(device)) for x, y in sampler.fixed_batches(settings.measure_batches,
                                                                           settings.batch_size)]


@torch.no_grad()
def mean_loss(model, batches: list, dropout_on: bool) -> float:
    """Mean loss over `batches` with the model in train mode (dropout on) or eval mode (off); the
    dropout masks come from a fixed seed, so the number is repeatable."""
    model.train(dropout_on)
    torch.manual_seed(0)
    losses = [model(inputs, targets)[1].item() for inputs, targets in batches]
    model.eval()
    return sum(losses) / len(losses)


def measure_arm(model, folder: Path, settings: WarmupDropoutSettings) -> dict:
    device = model.lm_head.weight.device
    train, val = (fixed_windows(folder, split, settings, device) for split in ("train", "val"))
    numbers = {"train_eval": mean_loss(model, train, False), "val_eval": mean_loss(model, val, False),
               "val_dropout_on": mean_loss(model, val, True)}
    records = RunFolder(folder).read_metrics()
    numbers["lr_curve"] = [[r["step"], r["lr"]] for r in records if "lr" in r]
    return {**numbers, "gap": numbers["val_eval"] - numbers["train_eval"]}


def train_one(lab: Lab, name: str, settings: WarmupDropoutSettings, corpus: Path, seed: int) -> dict:
    schedule, warmup, dropout = ARMS[name]
    config = arm_config(settings, seed, dropout=dropout)
    config.data.corpus = str(corpus)
    config.train.schedule, config.train.warmup_steps = schedule, settings.warmup if warmup else 0
    key = f"{name.replace(', ', '-').replace(' ', '-')}-seed{seed}"
    return train_arm(lab, key, config, lm_family("gpt"), measure=lambda model, folder: measure_arm(model, folder,
                                                                                                 settings))


def _curve_mean(runs: list[dict], curve: str) -> tuple[list, list]:
    steps = [step for step, _ in runs[0][curve]]
    return steps, [mean_std([run[curve][i][1] for run in runs])[0] for i in range(len(steps))]


def _plot(arms: dict, path: Path) -> None:
    fig, axes = figure(2, 2, size=(5.0, 3.4))
    for name in SCHEDULE_ARMS:
        axes[0, 0].plot(*_curve_mean(arms[name], "lr_curve"), label=name)
        axes[0, 1].plot(*_curve_mean(arms[name], "curve"), "o-", markersize=3, label=name)
    axes[0, 0].set(xlabel="step", ylabel="learning rate")
    axes[0, 1].set(xlabel="step", ylabel="validation loss (mean over seeds)")
    for name, p in DROPOUT_ARMS.items():
        line = axes[1, 0].plot(*_curve_mean(arms[name], "curve"), "o-", markersize=3, label=f"p={p}: validation")[0]
        axes[1, 0].plot(*_curve_mean(arms[name], "train_curve"), alpha=0.6, color=line.get_color(),
                        label=f"p={p}: training batches (dropout on)")
    axes[1, 0].set(xlabel="step", ylabel="loss")
    bars = ("train_eval", "val_eval", "val_dropout_on")
    labels = ("training text, eval()", "validation, eval()", "validation, train(): dropout left on")
    for offset, (measure, label) in enumerate(zip(bars, labels)):
        values = [mean_std([run[measure] for run in arms[name]])[0] for name in DROPOUT_ARMS]
        axes[1, 1].bar([i + 0.27 * (offset - 1) for i in range(len(values))], values, width=0.27, label=label)
    axes[1, 1].set_xticks(range(len(DROPOUT_ARMS)), [f"dropout {p}" for p in DROPOUT_ARMS.values()])
    axes[1, 1].set(ylabel="loss after training")
    low = min(run["train_eval"] for name in DROPOUT_ARMS for run in arms[name])
    axes[1, 1].set_ylim(bottom=0.9 * low)
    save_figure(fig, axes, path)


def _loss_at(run: dict, step: int) -> float:
    """The logged training loss at the record closest to `step`."""
    return min(run["train_curve"], key=lambda record: abs(record[0] - step))[1]


def _answer(arms: dict, settings: WarmupDropoutSettings) -> list[str]:
    val = {name: [run["val_loss"] for run in runs] for name, runs in arms.items()}
    answer = [verdict("cosine, warmup", val["cosine, warmup"], "cosine, no warmup", val["cosine, no warmup"],
                      "Cosine with vs without warmup (validation loss)"),
              verdict("noam, warmup", val["noam, warmup"], "noam, no warmup", val["noam, no warmup"],
                      "Noam with vs without warmup"),
              verdict("cosine, warmup", val["cosine, warmup"], "noam, warmup", val["noam, warmup"],
                      f"Cosine vs Noam at the same peak lr {settings.lr:g}")]
    early = {name: spread([_loss_at(run, settings.warmup) for run in arms[name]]) for name in SCHEDULE_ARMS}
    answer.append(f"Training loss at step {settings.warmup} (the end of warmup): "
                  + "; ".join(f"{name} {value}" for name, value in early.items()) + ".")
    gaps = {p: [run["gap"] for run in arms[name]] for name, p in DROPOUT_ARMS.items()}
    answer.append("Train/validation gap (validation minus training text, both in eval mode): "
                  + "; ".join(f"dropout {p} {spread(gap)}" for p, gap in gaps.items()) + " nats.")
    for name in ("dropout 0.1", "dropout 0.3"):
        answer.append(verdict(name, val[name], "dropout 0", val["cosine, warmup"], f"Validation loss, {name} vs 0"))
    rises = {p: [run["val_dropout_on"] - run["val_eval"] for run in arms[name]] for name, p in DROPOUT_ARMS.items()}
    answer.append("Dropout left on at evaluation (model.train() instead of model.eval()) changes the validation loss "
                  "by " + "; ".join(f"{spread(rise)} at p={p}" for p, rise in rises.items())
                  + " nats: eval() is what turns it off.")
    return answer


def _table(arms: dict) -> str:
    rows = [[name, spread([r["val_loss"] for r in runs]), spread([r["train_eval"] for r in runs]),
             spread([r["val_eval"] for r in runs]), spread([r["gap"] for r in runs]),
             spread([r["val_dropout_on"] for r in runs]), f"{mean_std([r['seconds'] for r in runs])[0]:.1f}"]
            for name, runs in arms.items()]
    header = ["arm", "validation loss (logged)", "training text, eval()", "validation, eval()", "gap",
              "validation, dropout left on", "seconds"]
    return markdown_table(header, rows)


def run(lab: Lab, settings: WarmupDropoutSettings) -> Report:
    corpus = corpus_slice(lab, settings)
    arms = {name: [train_one(lab, name, settings, corpus, seed) for seed in lab.progress(range(settings.seeds), name)]
            for name in ARMS}
    _plot(arms, lab.path / "warmup-and-dropout.png")
    setup = (f"{settings.describe()} The corpus is cut to its first {settings.corpus_chars:,} characters (the last "
             f"10% validate). Warmup: {settings.warmup} steps or none; cosine decays to lr / 10, Noam as "
             f"1 / sqrt(step). After training, losses on {settings.measure_batches} x {settings.batch_size} fixed "
             f"windows of the training and of the validation text, in eval mode and (validation) in train mode.")
    return Report(setup, {"arms": arms}, _answer(arms, settings),
                  [("Schedules and dropout (mean ± std over seeds; losses in nats)", _table(arms))],
                  [("warmup-and-dropout.png", "learning rate and validation loss of the four schedules; loss curves "
                                              "with dropout 0 / 0.1 / 0.3; the final losses, with dropout off and "
                                              "left on at evaluation")])


EXPERIMENT = Experiment("warmup-and-dropout", "How is the learning rate set (warmup, Noam or cosine), where does "
                        "dropout go, and what goes wrong if dropout is left on at evaluation?", "002 Q18", PRESETS,
                        run, {"tiny": "10 s", "default": "10 min loaded"})
