"""Experiment `score-functions`: how should a query score a key, and why not one matrix for both?

Note 004 (§4.1.3) lists the score functions of attention: additive (Bahdanau), bilinear
(general, Luong), dot and scaled dot; 002 Q3 asks why the Transformer takes the dot product and
not the additive score, and Q2 why Q and K come from different matrices. Each arm is an ordinary
run with ``--set score=additive|bilinear|dot|scaled_dot``; one more arm ties W_K to W_Q
(`SharedQueryKeyGPT`): its score(i, j) = q_i . q_j is symmetric, and a token's score with itself
is a squared norm, so it tends to look at itself.

Two tasks, the same arms: a small GPT on characters (loss at equal steps, time per step,
parameters), and a small encoder-decoder on a synthetic translation task (`write_translation_task`:
invented words, reversed and translated word by word, so each target word must find its source
word by attention).
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from pathlib import Path


from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm, validation_batch
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread, verdict
from lmlab.io import atomic_write_text
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.recipes import seq2seq
from lmlab.recipes.families import LMFamily, like_gpt_presets, lm_family
from lmlab.recipes.options import Seq2SeqTrainOptions
from lmlab.runs import load_run
from lmlab.train.checkpoint import RunFolder

SCORES = ("scaled_dot", "dot", "bilinear", "additive")
SHARED = "scaled_dot, W_K = W_Q"


class SharedQueryKeyGPT(GPT):
    """A GPT whose every attention layer uses one matrix for queries and keys (separate projections,
    `fused_qkv=False`, with the key Linear being the query Linear)."""

    def __init__(self, config: GPTConfig) -> None:
        if config.fused_qkv:
            raise ValueError("SharedQueryKeyGPT ties the separate projections: use fused_qkv=False")
        super().__init__(config)
        for block in self.blocks:
            block.attn.k = block.attn.q


FAMILY = LMFamily("gpt-shared-qk", "GPT (W_K = W_Q)", GPTConfig, SharedQueryKeyGPT,
                  like_gpt_presets(GPTConfig(fused_qkv=False), GPTConfig(fused_qkv=False)), attention=True)


@dataclass
class ScoreSettings(TrainingSettings):
    pairs: int = 4000  # synthetic translation pairs for training (and a tenth of that for validation)
    translation_steps: int = 800  # steps of each encoder-decoder arm (the task is learnt from step ~500 on)
    translation_seeds: int = 2  # seeds of each encoder-decoder arm


PRESETS = {
    "tiny": ScoreSettings(corpus="pydoc", n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8, steps=20,
                          eval_every=10, eval_batches=2, seeds=1, pairs=200, translation_steps=20,
                          translation_seeds=1),
    "default": ScoreSettings(steps=250, seeds=3),
}


def write_translation_task(folder: Path, pairs: int, seed: int = 0, words: int = 200) -> dict:
    """train.src/.tgt and val.src/.tgt: sentences of 3-8 invented words; the target is the source
    reversed with every word replaced by its fixed translation. Returns the dictionary."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = sorted({"".join(rng.choices(letters, k=rng.randint(3, 6))) for _ in range(words)})
    translations = dict(zip(vocabulary, rng.sample([w.upper() for w in vocabulary], len(vocabulary))))
    for split, count in (("train", pairs), ("val", max(1, pairs // 10))):
        sentences = [rng.choices(vocabulary, k=rng.randint(3, 8)) for _ in range(count)]
        atomic_write_text(folder / f"{split}.src", "".join(" ".join(s) + "\n" for s in sentences))
        atomic_write_text(folder / f"{split}.tgt",
                          "".join(" ".join(translations[w] for w in reversed(s)) + "\n" for s in sentences))
    return translations


def self_attention_share(model, folder, settings: ScoreSettings) -> float:
    """Mean weight a query puts on its own position (diagonal of the attention maps, every layer and head)."""
    inputs, _ = validation_batch(folder, settings.block_size, 4, model.lm_head.weight.device)
    maps = model.attention_weights(inputs)  # per layer (B, H, T, T)
    return sum(m.diagonal(dim1=-2, dim2=-1).mean().item() for m in maps) / len(maps)


def training_speed(folder: Path) -> float:
    """Tokens per second of a run: the median over its logged steps after the first (robust to a burst
    of other work on a shared machine; the first step pays for warming up)."""
    speeds = [r["tokens_per_s"] for r in RunFolder(folder).read_metrics() if "tokens_per_s" in r and r["step"] > 1]
    return statistics.median(speeds)


def gpt_arm(lab: Lab, name: str, settings: ScoreSettings, seed: int) -> dict:
    shared = name == SHARED
    config = arm_config(settings, seed, score="scaled_dot" if shared else name, fused_qkv=not shared)
    family = FAMILY if shared else lm_family("gpt")
    key = f"gpt-{'shared-qk' if shared else name}-seed{seed}"

    def measure(model, folder) -> dict:
        return {"parameters": model.num_parameters(), "self_attention": self_attention_share(model, folder, settings),
                "tokens_per_s": training_speed(folder)}
    return train_arm(lab, key, config, family, measure=measure)


def translation_arm(lab: Lab, score: str, task: Path, settings: ScoreSettings, seed: int) -> dict:
    """One encoder-decoder on the synthetic task, trained by `lmlab seq2seq train`'s own code."""
    def compute(folder: Path) -> dict:
        overrides = [f"score={score}", "n_layer=2", "n_head=4", "n_embd=64", "block_size=16", "dropout=0.0",
                     "label_smoothing=0.0", f"max_steps={settings.translation_steps}", "batch_size=32",
                     "tokenizer=word", "vocab_size=1000", f"seed={seed}", "checkpoint_every=0",
                     f"eval_every={max(1, settings.translation_steps // 5)}", "warmup_steps=20", "lr=2e-3"]
        options = Seq2SeqTrainOptions(data=str(task), src="src", tgt="tgt", out=str(folder), preset="tiny",
                                      overrides=overrides)
        summary = seq2seq.train(options, lab.context)
        if summary["interrupted"]:
            raise KeyboardInterrupt
        records = RunFolder(folder).read_metrics()
        curve = [[r["step"], r["val_loss"]] for r in records if "val_loss" in r]
        return {"val_loss": curve[-1][1], "curve": curve, "seconds": summary["seconds"],
                "tokens_per_s": training_speed(folder),
                "parameters": load_run(folder, "cpu", expect="seq2seq").model.num_parameters()}
    return lab.part(f"translation-{score}-seed{seed}", compute)


def _plot(gpt: dict, translation: dict, path) -> None:
    fig, axes = figure(1, 3)
    for panel, arms in ((0, gpt), (1, translation)):
        for name, runs in arms.items():
            axes[0, panel].plot(*zip(*runs[0]["curve"]), "o-", markersize=3, linewidth=1, label=name)
        axes[0, panel].set(xlabel="step", ylabel="validation loss (seed 0)")
    axes[0, 0].set(title="GPT, characters")
    axes[0, 1].set(title="encoder-decoder, synthetic translation")
    names = list(gpt)
    axes[0, 2].barh(names, [mean_std([r["tokens_per_s"] for r in gpt[n]])[0] for n in names])
    axes[0, 2].set(xlabel="GPT training tokens/s (mean over seeds)")
    save_figure(fig, axes, path)


def _answer(gpt: dict, translation: dict) -> list[str]:
    """Sentences from the numbers: every score against scaled dot by `verdict`; speed as a ratio."""
    answer = []
    for task, arms in (("GPT", gpt), ("Translation", translation)):
        base = [r["val_loss"] for r in arms["scaled_dot"]]
        for name, runs in arms.items():
            if name != "scaled_dot":
                answer.append(verdict(name, [r["val_loss"] for r in runs], "scaled_dot", base,
                                      f"{task}, validation loss at equal steps"))
    for task, arms in (("GPT", gpt), ("translation", translation)):
        speed = {name: mean_std([r["tokens_per_s"] for r in runs])[0] for name, runs in arms.items()}
        answer.append(f"{task} training speed relative to scaled dot: " + ", ".join(
            f"{name} {speed[name] / speed['scaled_dot']:.2f}x" for name in speed if name != "scaled_dot") + ".")
    share = {name: mean_std([r["self_attention"] for r in runs])[0] for name, runs in gpt.items()}
    answer.append(f"With W_K = W_Q a query puts {share[SHARED]:.1%} of its attention on its own position on "
                  f"average, against {share['scaled_dot']:.1%} with separate matrices; it has "
                  f"{gpt['scaled_dot'][0]['parameters'] - gpt[SHARED][0]['parameters']:,} fewer parameters.")
    return answer


def _tables(gpt: dict, translation: dict) -> list[tuple[str, str]]:
    def rows(arms, extra):
        return [[name, spread([r["val_loss"] for r in runs]), f"{mean_std([r['tokens_per_s'] for r in runs])[0]:,.0f}",
                 f"{runs[0]['parameters']:,}"] + extra(runs) for name, runs in arms.items()]
    first = markdown_table(["score", "validation loss", "tokens/s", "parameters", "attention on itself"],
                           rows(gpt, lambda runs: [f"{mean_std([r['self_attention'] for r in runs])[0]:.1%}"]))
    second = markdown_table(["score", "validation loss", "tokens/s", "parameters"], rows(translation, lambda _: []))
    return [("GPT on characters (mean ± std over seeds)", first),
            ("Encoder-decoder on the synthetic translation task (mean ± std over seeds)", second)]


def run(lab: Lab, settings: ScoreSettings) -> Report:
    gpt = {name: [gpt_arm(lab, name, settings, seed) for seed in lab.progress(range(settings.seeds), f"{name} seeds")]
           for name in (*SCORES, SHARED)}
    task = lab.path / "translation-task"
    write_translation_task(task, settings.pairs)
    translation = {score: [translation_arm(lab, score, task, settings, seed)
                           for seed in range(settings.translation_seeds)] for score in lab.progress(SCORES, "scores")}
    _plot(gpt, translation, lab.path / "score-functions.png")
    setup = (f"{settings.describe()} Translation: {settings.pairs} synthetic pairs (3-8 invented words, reversed and "
             f"translated word by word; word tokenizer), an encoder-decoder of 2+2 layers, 4 heads, n_embd 64, "
             f"{settings.translation_steps} steps of 32 pairs, seeds 0..{settings.translation_seeds - 1}. Speed: the "
             f"median of the tokens/s the training logged (one thread).")
    return Report(setup, {"gpt": gpt, "translation": translation}, _answer(gpt, translation),
                  _tables(gpt, translation),
                  [("score-functions.png", "validation curves of each score function on both tasks; time per step")])


EXPERIMENT = Experiment("score-functions", "Dot, scaled dot, bilinear or additive: which score, at what cost, and "
                        "why separate W_Q and W_K?", "004 §4.1.3, 002 Q2-3", PRESETS, run,
                        {"tiny": "20 s", "default": "7.3 min CPU (30 min wall, loaded)"})
