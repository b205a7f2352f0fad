"""Experiment `distillation`: does a small GPT learn more from a teacher than from the data, and what
do bf16 and int8 weights cost?

Note 004 §3.2.8 names distillation and compression as ways to make a model more efficient. Two
measurements on Shakespeare characters:

1. **Distillation.** A GPT (the teacher) is trained first. Students of its depth at smaller widths
   (n_embd 64 of 128 has about a quarter of its parameters) are trained for the same steps twice
   per seed: on the data alone (cross-entropy), and on the teacher's soft targets
   (`lmlab.train.distill`: alpha * T^2 * KL(p_T || q_T) + (1 - alpha) * CE). One seed gives both
   the same initial weights and the same batches, so the loss is the only difference. Measured:
   the validation loss (plain cross-entropy, as for every run) and the wall time, which for a
   distilled student includes the teacher's forward pass at every step.
2. **Compression.** The teacher's weights as `lmlab quantize` writes them, bf16 and int8
   (weight-only, one scale per row, computed with the int8 kernel where the CPU has one): file size, validation loss
   over the same tokens, how often the greedy next token agrees with float32's (every validation
   position, teacher-forced), how long a greedy generation stays identical, and greedy decoding
   speed at batch 1 (`lmlab.evaluate.profile.measure_generation`, the best of a few runs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab.data.lm import load_ids, sequential_windows
from lmlab.evaluate.metrics import perplexity
from lmlab.evaluate.profile import measure_generation
from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm
from lmlab.experiments.lab import RUNS, Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread, verdict
from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.recipes import lm
from lmlab.recipes.quantize import write_quantized
from lmlab.runs import load_run
from lmlab.train.checkpoint import RunFolder
from lmlab.train.distill import DistillConfig, teacher_loss

ARMS = ("data only", "distilled")
FORMATS = ("float32", "bf16", "int8")


@dataclass
class DistillationSettings(TrainingSettings):
    teacher_steps: int = 900  # the teacher's training steps (students: `steps`)
    widths: str = "32,64"  # the students' n_embd (the teacher's is n_embd), same depth and heads
    temperature: float = 1.0  # T of the soft targets
    alpha: float = 0.9  # weight of the soft term; 1 - alpha weighs the data's cross-entropy
    eval_tokens: int = 40_000  # validation tokens the compressed teachers are scored on
    new_tokens: int = 128  # greedy tokens generated for the agreement and the speed
    speed_repeats: int = 3  # timed generations per format (the fastest is kept)


PRESETS = {
    "tiny": DistillationSettings(corpus="pydoc", n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8,
                                 steps=40, teacher_steps=120, eval_every=20, eval_batches=4, seeds=1, widths="16",
                                 eval_tokens=2000, new_tokens=16, speed_repeats=1),
    "default": DistillationSettings(n_layer=4, n_embd=128, steps=300, eval_every=50, seeds=3),
}


def widths(settings: DistillationSettings) -> list[int]:
    return [int(w) for w in settings.widths.split(",")]


# ----- measures: small pure functions -----

@torch.no_grad()
def argmax_agreement(model, reference, ids, block_size: int, device) -> float:
    """Share of the positions of `ids` where `model`'s most likely next token is `reference`'s."""
    same = total = 0
    for inputs, targets in sequential_windows(ids, block_size, 16):
        inputs, kept = inputs.to(device), targets.to(device) != -1  # (B, T) each
        agree = model(inputs)[0].argmax(dim=-1) == reference(inputs)[0].argmax(dim=-1)
        same += (agree & kept).sum().item()
        total += kept.sum().item()
    return same / total


def first_difference(a: list[int], b: list[int]) -> int:
    """How many tokens two sequences share from the start."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def greedy_tokens(model, prompt: list[int], new_tokens: int, device) -> list[int]:
    ids = torch.tensor([prompt], device=device)
    return [int(t) for t in generate(model, ids, new_tokens, SamplingConfig(strategy="greedy"))]


# ----- the runs -----

def _teacher(lab: Lab, settings: DistillationSettings) -> tuple[dict, Path]:
    config = arm_config(dataclasses.replace(settings, steps=settings.teacher_steps), seed=0)
    numbers = train_arm(lab, "teacher", config,
                        measure=lambda model, folder: {"parameters": model.num_parameters()})
    return numbers, lab.path / RUNS / "teacher"


def _measure_student(model, folder) -> dict:
    records = RunFolder(folder).read_metrics()
    return {"parameters": model.num_parameters(),
            "time_curve": [[r["elapsed_s"], r["val_loss"]] for r in records if "val_loss" in r]}


def _students(lab: Lab, settings: DistillationSettings, teacher: Path) -> dict:
    """{width: {arm: [numbers per seed]}}: every student reads the teacher's tokenizer file."""
    model = load_run(teacher, lab.device).model
    distill = DistillConfig(str(teacher), settings.temperature, settings.alpha)
    students = {}
    for width in widths(settings):
        students[width] = {arm: [] for arm in ARMS}
        for seed in lab.progress(range(settings.seeds), f"n_embd {width} seeds"):
            for arm in ARMS:
                config = arm_config(settings, seed, n_embd=width)
                config.data.tokenizer = str(teacher / "tokenizer.json")
                loss = teacher_loss(model, distill) if arm == "distilled" else None
                key = f"w{width}-{arm.replace(' ', '-')}-seed{seed}"
                students[width][arm].append(train_arm(lab, key, config, measure=_measure_student,
                                                      training_loss=loss))
    return students


def _format_numbers(folder: Path, reference, ids, prompt: list[int], settings: DistillationSettings, device) -> dict:
    model = load_run(folder, device).model
    loss, _ = lm.evaluation_loss(model, ids, settings.block_size, device)
    speeds = [measure_generation(model, 1, len(prompt), settings.new_tokens, device)["tokens_per_s"]
              for _ in range(settings.speed_repeats)]
    return {"bytes": RunFolder(folder).model_path.stat().st_size, "val_loss": loss,
            "agreement": argmax_agreement(model, reference, ids, settings.block_size, device),
            "greedy": greedy_tokens(model, prompt, settings.new_tokens, device), "tokens_per_s": max(speeds)}


def _compression(lab: Lab, settings: DistillationSettings, teacher: Path) -> dict:
    """{format: numbers}: the teacher's weights as float32 (its own run), bf16 and int8."""
    def compute(folder: Path) -> dict:
        source = load_run(teacher, "cpu")
        paths = {"float32": teacher}
        for dtype in ("bf16", "int8"):
            write_quantized(source, dtype, folder / dtype)
            paths[dtype] = folder / dtype
        ids = load_ids(teacher / "data" / "val.npy")[:settings.eval_tokens]
        prompt = [int(i) for i in ids[:settings.block_size // 4]]
        reference = load_run(teacher, lab.device).model
        numbers = {name: _format_numbers(paths[name], reference, ids, prompt, settings, lab.device)
                   for name in FORMATS}
        for name in FORMATS:
            numbers[name]["same_greedy_prefix"] = first_difference(numbers[name]["greedy"],
                                                                   numbers["float32"]["greedy"])
        return numbers

    return lab.part("compression", compute)


# ----- the report -----

def _mean_curve(runs: list[dict], key: str) -> list[tuple[float, float]]:
    """(mean x, mean validation loss) at each evaluation, over the seeds."""
    return [(mean_std([run[key][i][0] for run in runs])[0], mean_std([run[key][i][1] for run in runs])[0])
            for i in range(len(runs[0][key]))]


def _plot(students: dict, teacher: dict, path: Path) -> None:
    fig, axes = figure(1, 2)
    for arm, style in zip(ARMS, ("s--", "o-")):
        sizes = [students[w][arm][0]["parameters"] for w in students]
        losses = [mean_std([r["val_loss"] for r in students[w][arm]])[0] for w in students]
        axes[0, 0].plot(sizes, losses, style, label=f"student, {arm}")
        for color, (width, runs) in enumerate(students.items()):
            x, y = zip(*_mean_curve(runs[arm], "time_curve"))
            axes[0, 1].plot(x, y, style, color=f"C{color}", markersize=3, label=f"n_embd {width}, {arm}")
    axes[0, 0].plot([teacher["parameters"]], [teacher["val_loss"]], "k*", markersize=10, label="teacher")
    sizes = [runs["distilled"][0]["parameters"] for runs in students.values()] + [teacher["parameters"]]
    axes[0, 0].set(xscale="log", xlabel="parameters", ylabel="validation loss (nats/char)")
    axes[0, 0].set_xticks(sizes, [f"{size / 1e3:.0f}k" for size in sizes], minor=False)
    axes[0, 0].set_xticks([], minor=True)
    axes[0, 1].set(xlabel="training seconds (distilled: with the teacher's forward pass)", ylabel="validation loss")
    save_figure(fig, axes, path)


def _reach(distilled: list[dict], data_only: list[dict]) -> tuple[int | None, float, float]:
    """(first step at which the distilled mean curve reaches the data-only final mean loss, its seconds,
    the data-only student's total seconds); None when it never does."""
    target = mean_std([r["val_loss"] for r in data_only])[0]
    total = mean_std([r["time_curve"][-1][0] for r in data_only])[0]
    steps = [step for step, _ in distilled[0]["curve"]]
    for (seconds, loss), step in zip(_mean_curve(distilled, "time_curve"), steps):
        if loss <= target:
            return step, seconds, total
    return None, 0.0, total


def _distillation_answer(students: dict, teacher: dict, settings: DistillationSettings) -> list[str]:
    answer = []
    for width, runs in students.items():
        share = runs["distilled"][0]["parameters"] / teacher["parameters"]
        only, distilled = ([r["val_loss"] for r in runs[arm]] for arm in ARMS)
        answer.append(verdict("distilled", distilled, "data only", only,
                              f"Student of n_embd {width} ({share:.0%} of the teacher's parameters) after "
                              f"{settings.steps} steps"))
        gap = mean_std(only)[0] - teacher["val_loss"]
        if gap > 0:
            closed = (mean_std(only)[0] - mean_std(distilled)[0]) / gap
            answer.append(f"n_embd {width}: distillation closes {closed:.0%} of the gap between the data-only "
                          f"student and the teacher ({teacher['val_loss']:.3f}).")
        step, seconds, total = _reach(runs["distilled"], runs["data only"])
        answer.append(f"n_embd {width}: " + (
            f"the distilled student reaches the data-only student's final loss at step {step} of "
            f"{settings.steps}, after {seconds:.1f} s against the data-only student's {total:.1f} s "
            f"({'sooner' if seconds < total else 'later'} in wall time: each step also runs the teacher)."
            if step is not None else "the distilled student never reaches the data-only student's final loss."))
    return answer


def _compression_answer(formats: dict) -> list[str]:
    base = formats["float32"]
    answer = []
    for name in ("bf16", "int8"):
        f = formats[name]
        change = perplexity(f["val_loss"]) / perplexity(base["val_loss"]) - 1
        answer.append(f"{name}: file {base['bytes'] / f['bytes']:.1f}x smaller, validation loss "
                      f"{f['val_loss'] - base['val_loss']:+.4f} (perplexity {change:+.2%}); greedy next token the same "
                      f"as float32's at {f['agreement']:.2%} of the positions, generation identical for "
                      f"{f['same_greedy_prefix']} of {len(base['greedy'])} tokens; decoding "
                      f"{f['tokens_per_s'] / base['tokens_per_s']:.2f}x float32's speed.")
    return answer


def _tables(students: dict, teacher: dict, formats: dict) -> list[tuple[str, str]]:
    rows = [["teacher", teacher["parameters"], f"{teacher['val_loss']:.3f}", f"{teacher['seconds']:.1f}"]]
    for width, runs in students.items():
        for arm in ARMS:
            seconds = mean_std([r["seconds"] for r in runs[arm]])[0]
            rows.append([f"n_embd {width}, {arm}", runs[arm][0]["parameters"],
                         spread([r["val_loss"] for r in runs[arm]]), f"{seconds:.1f}"])
    base = formats["float32"]
    compressed = [[name, f"{f['bytes'] / 1e6:.3f}", f"{base['bytes'] / f['bytes']:.2f}x", f"{f['val_loss']:.4f}",
                   f"{perplexity(f['val_loss']):.3f}", f"{f['agreement']:.2%}",
                   f"{f['same_greedy_prefix']} / {len(base['greedy'])}", f"{f['tokens_per_s']:.0f}"]
                  for name, f in formats.items()]
    return [("Students: validation loss (mean ± std over seeds) and training seconds (mean)",
             markdown_table(["model", "parameters", "validation loss", "seconds"], rows)),
            ("The teacher's weights compressed",
             markdown_table(["weights", "file MB", "smaller", "validation loss", "perplexity",
                             "greedy next token = float32's", "greedy tokens identical", "decoding tokens/s"],
                            compressed))]


def run(lab: Lab, settings: DistillationSettings) -> Report:
    teacher, folder = _teacher(lab, settings)
    students = _students(lab, settings, folder)
    formats = _compression(lab, settings, folder)
    _plot(students, teacher, lab.path / "distillation.png")
    setup = (f"{settings.describe()} The teacher has this shape and trains {settings.teacher_steps} steps (seed 0); "
             f"the students differ from it only in n_embd ({settings.widths}: narrower heads, the same depth). Each seed "
             f"trains one data-only and one distilled student (T = {settings.temperature:g}, alpha = "
             f"{settings.alpha:g}) from the same initial weights on the same batches. Compression: the teacher's "
             f"weights through `lmlab quantize`, scored on the first {settings.eval_tokens:,} validation tokens; "
             f"{settings.new_tokens} greedy tokens from a validation prompt, decoding speed at batch 1 (the best "
             f"of {settings.speed_repeats}).")
    numbers = {"teacher": teacher, "students": {str(w): arms for w, arms in students.items()}, "compression": formats}
    return Report(setup, numbers, _distillation_answer(students, teacher, settings) + _compression_answer(formats),
                  _tables(students, teacher, formats),
                  [("distillation.png", "validation loss against student size (left) and training time (right): "
                                        "data-only and distilled students, mean over seeds")])


EXPERIMENT = Experiment("distillation", "Does a small GPT learn more from a teacher's soft targets than from the "
                        "data, and what do bf16 and int8 weights cost in perplexity and buy in size and speed?",
                        "004 §3.2.8", PRESETS, run, {"tiny": "6 s", "default": "9 min loaded (4 min CPU)"})
