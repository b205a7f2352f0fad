"""Experiment `nonlinearity`: why a network needs activation functions, and which one a GPT's FFN uses.

Note 003 says linear layers only move information around (搬运) and the activation is what
processes it (加工): without one, any stack of linear layers is still one linear map, cannot learn
a curved decision boundary, and only fits linearly separable tasks. 002 Q14 asks what activation
the Transformer's feed-forward network uses and what each choice costs. Two parts:

1. **The spiral.** Two interleaved spirals in the plane (`two_spirals`), classified by four
   MLPs of `nn.Linear` layers: one linear layer (logistic regression), a stack of `depth` linear
   layers with nothing between them, and the same stack with ReLU or GELU between the layers.
   A linear stack computes x -> x W^T + b with W = W_L ... W_1 (`collapse`), so it draws one
   straight line, whatever its depth; the measured gap between the trained stack and its
   collapsed map shows it. Accuracy on fresh test points; decision boundaries of seed 0.
2. **The GPT's FFN.** Small character GPTs (`arms.train_arm`) whose feed-forward block
   (`lmlab.nn.mlp.MLP`) uses ReLU (the original Transformer), GELU (GPT-2) or SwiGLU (PaLM,
   LLaMA; 2/3 of the hidden units, so the parameter count stays the same), over seeds.

The MLPs are trained by lmlab's Trainer (the loop every model uses: its contract is only
``model(*batch) -> (logits, loss)``), full batch, into their own run folders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.errors import UserError
from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm, validation_batch
from lmlab.experiments.lab import RUNS, Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread, verdict
from lmlab.nn.mlp import activation_module
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import TrainConfig, Trainer

SPIRAL_ARMS = {"one linear layer": (1, "none"), "linear stack": (None, "none"), "ReLU MLP": (None, "relu"),
               "GELU MLP": (None, "gelu")}  # name -> (layers, None: `depth`; activation between them)
FFN_ARMS = {"ReLU": "relu", "GELU": "gelu", "SwiGLU": "swiglu"}  # the GPT's `activation`


@dataclass
class NonlinearitySettings(TrainingSettings):
    points: int = 500  # training points per spiral (as many fresh ones for the test)
    turns: float = 2.0  # turns of each spiral arm (2: no straight line beats chance by much)
    noise: float = 0.02  # standard deviation of the Gaussian noise on every point
    depth: int = 4  # linear layers of the stacks
    width: int = 32  # units of each hidden layer
    mlp_steps: int = 1500  # full-batch AdamW steps of each MLP
    mlp_lr: float = 0.01
    grid: int = 80  # decision-boundary plot: grid x grid points over [-1.25, 1.25]^2

    def validate(self) -> None:
        super().validate()
        counts = (self.points, self.depth, self.width, self.mlp_steps, self.grid - 1)
        if min(counts) < 1 or min(self.turns, self.mlp_lr) <= 0:
            raise UserError("points, depth, width and mlp_steps must be >= 1, grid >= 2, turns and mlp_lr > 0")


PRESETS = {
    "tiny": NonlinearitySettings(corpus="pydoc", n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8,
                                 steps=20, eval_every=10, eval_batches=2, seeds=1, points=200, mlp_steps=400,
                                 grid=20),
    "default": NonlinearitySettings(n_layer=2, n_embd=128, steps=300, seeds=3),
}


def two_spirals(points: int, turns: float, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`points` per class on two interleaved spiral arms, radius t and angle 2 pi turns t for t in
    [0, 1] (the second arm turned by pi), plus Gaussian noise: (x (2 points, 2), labels (2 points,))."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.rand(points, generator=generator)
    angle = 2 * math.pi * turns * t
    arm = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], dim=1)  # (points, 2)
    x = torch.cat([arm, -arm]) + noise * torch.randn(2 * points, 2, generator=generator)
    return x, torch.cat([torch.zeros(points, dtype=torch.long), torch.ones(points, dtype=torch.long)])


class LayerStack(nn.Module):
    """`layers` Linear layers 2 -> width -> ... -> 2 classes, `activation` between them ("none":
    nothing, so the stack is one linear map). model(x, labels) -> (logits (N, 2), loss or None)."""

    def __init__(self, layers: int, width: int, activation: str) -> None:
        super().__init__()
        sizes = [2] + [width] * (layers - 1) + [2]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.activation = nn.Identity() if activation == "none" else activation_module(activation)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None):  # (N, 2) -> (N, 2)
        for index, layer in enumerate(self.layers):
            x = layer(x) if index == 0 else layer(self.activation(x))
        return x, None if labels is None else F.cross_entropy(x, labels)


def collapse(layers) -> tuple[torch.Tensor, torch.Tensor]:
    """The one linear map of Linear layers applied one after the other: x -> x W^T + b, with
    W = W_L ... W_2 W_1 and b = W_L (... (W_2 b_1 + b_2) ...) + b_L."""
    weight, bias = layers[0].weight, layers[0].bias
    for layer in layers[1:]:
        weight, bias = layer.weight @ weight, layer.weight @ bias + layer.bias
    return weight, bias


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(dim=-1) == labels).float().mean().item()


def train_stack(model: LayerStack, train: tuple, test: tuple, settings: NonlinearitySettings, seed: int,
                folder: Path, context) -> dict:
    """The Trainer on the whole training set at every step (a sampler of one full batch)."""
    steps = settings.mlp_steps
    config = TrainConfig(batch_size=len(train[0]), max_steps=steps, lr=settings.mlp_lr, min_lr=settings.mlp_lr / 10,
                         warmup_steps=steps // 20, weight_decay=0.0, eval_every=max(1, steps // 10),
                         checkpoint_every=0, log_every=max(1, steps // 30), seed=seed, dtype="float32")
    trainer = Trainer(model, config, RunFolder(folder), train_batches=lambda step: [train],
                      eval_batches=lambda: [test], context=context)
    summary = trainer.fit()
    if summary["interrupted"]:
        raise KeyboardInterrupt
    return summary


def measure_stack(model: LayerStack, train: tuple, test: tuple, settings: NonlinearitySettings) -> dict:
    """Accuracies, the collapse check (a stack without activations against its one map), the grid."""
    model = model.cpu().eval()
    with torch.no_grad():
        test_logits = model(test[0])[0]
        numbers = {"train_accuracy": accuracy(model(train[0])[0], train[1]),
                   "test_accuracy": accuracy(test_logits, test[1]), "test_loss": model(*test)[1].item()}
        if isinstance(model.activation, nn.Identity):
            weight, bias = collapse(model.layers)
            numbers["collapse_gap"] = (test[0] @ weight.T + bias - test_logits).abs().max().item()
        axis = torch.linspace(-1.25, 1.25, settings.grid)
        grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1).reshape(-1, 2)  # (grid^2, 2)
        numbers["grid"] = [round(p, 3) for p in model(grid)[0].softmax(-1)[:, 1].tolist()]
    return numbers


def spiral_arm(lab: Lab, name: str, settings: NonlinearitySettings, seed: int) -> dict:
    layers, activation = SPIRAL_ARMS[name]
    key = f"spiral-{name.replace(' ', '-')}-seed{seed}"
    train = two_spirals(settings.points, settings.turns, settings.noise, seed=0)
    test = two_spirals(settings.points, settings.turns, settings.noise, seed=1)

    def compute(folder: Path) -> dict:
        torch.manual_seed(seed)
        model = LayerStack(layers or settings.depth, settings.width, activation)
        summary = train_stack(model, train, test, settings, seed, folder, lab.context)
        return {"train_loss": summary["train_loss"], **measure_stack(model, train, test, settings)}

    return lab.part(key, compute)


def never_positive(model, inputs: torch.Tensor) -> float:
    """The fraction of FFN hidden units (every layer) whose pre-activation -- `up` for ReLU and GELU,
    `gate` for SwiGLU -- is <= 0 at every position of `inputs` (B, T). Such a ReLU unit is dead: it
    outputs 0 and gets no gradient. GELU and SiLU still pass a small value and gradient there."""
    pre = []
    hooks = [(block.mlp.gate if block.mlp.gate is not None else block.mlp.up).register_forward_hook(
        lambda module, args, output: pre.append(output)) for block in model.blocks]
    with torch.no_grad():
        model(inputs)
    for hook in hooks:
        hook.remove()
    return torch.cat([(p.flatten(0, 1) <= 0).all(dim=0).float() for p in pre]).mean().item()  # (B*T, hidden)


def ffn_arm(lab: Lab, activation: str, settings: NonlinearitySettings, seed: int) -> dict:
    def measure(model, folder) -> dict:
        inputs, _ = validation_batch(folder, settings.block_size, settings.batch_size, model.lm_head.weight.device)
        return {"parameters": model.num_parameters(), "never_positive": never_positive(model, inputs)}

    return train_arm(lab, f"gpt-{activation}-seed{seed}", arm_config(settings, seed, activation=activation),
                     measure=measure)


def _boundary(panel, run: dict, test: tuple, settings: NonlinearitySettings, title: str) -> None:
    """P(second spiral) over the plane (seed 0), its 0.5 contour, and the test points."""
    axis = torch.linspace(-1.25, 1.25, settings.grid)
    probability = torch.tensor(run["grid"]).view(settings.grid, settings.grid)
    panel.contourf(axis, axis, probability, levels=[0, 0.5, 1], colors=["#9ecae1", "#fdae6b"], alpha=0.6)
    panel.contour(axis, axis, probability, levels=[0.5], colors="k", linewidths=1)
    x, labels = test
    for label, color in ((0, "C0"), (1, "C1")):
        panel.scatter(x[labels == label, 0], x[labels == label, 1], s=3, color=color)
    panel.set(title=title, xlim=(-1.25, 1.25), ylim=(-1.25, 1.25), aspect="equal")


def _plot(spirals: dict, ffn: dict, settings: NonlinearitySettings, path) -> None:
    fig, axes = figure(2, 3, size=(4.2, 3.8))
    test = two_spirals(settings.points, settings.turns, settings.noise, seed=1)
    for panel, (name, runs) in zip([axes[0, 0], axes[0, 1], axes[0, 2], axes[1, 0]], spirals.items()):
        accuracies = [r["test_accuracy"] for r in runs]
        _boundary(panel, runs[0], test, settings, f"{name}: test accuracy {100 * mean_std(accuracies)[0]:.0f}%")
    for name, runs in ffn.items():
        steps = [step for step, _ in runs[0]["curve"]]
        losses = [mean_std([r["curve"][i][1] for r in runs])[0] for i in range(len(steps))]
        axes[1, 1].plot(steps, losses, "o-", markersize=3, label=name)
        mean, std = mean_std([r["val_loss"] for r in runs])
        axes[1, 2].errorbar([name], [mean], yerr=[std], fmt="o", capsize=4)
    axes[1, 1].set(xlabel="step", ylabel="GPT validation loss (mean over seeds)")
    axes[1, 2].set(ylabel=f"GPT validation loss at step {settings.steps} (mean ± std)")
    save_figure(fig, axes, path)


def _spiral_answer(spirals: dict, settings: NonlinearitySettings) -> list[str]:
    """The spiral's sentences: whether depth without activations changes anything, what an activation does."""
    test = {name: mean_std([r["test_accuracy"] for r in runs])[0] for name, runs in spirals.items()}
    gap = max(r["collapse_gap"] for r in spirals["linear stack"])
    same = abs(test["linear stack"] - test["one linear layer"]) <= 0.05  # within 5 points: the same straight cut
    best_linear = max(test["linear stack"], test["one linear layer"])
    return [f"Without activations, {settings.depth} linear layers reach {100 * test['linear stack']:.0f}% test "
            f"accuracy and one linear layer {100 * test['one linear layer']:.0f}% (chance: 50%): "
            + ("depth adds nothing: " if same else "they differ, yet ")
            + f"the trained stack equals its collapsed map W_{settings.depth} ... W_1 to {gap:.1e} on every test "
            f"point, one straight line through the plane.",
            f"With an activation between the same layers: ReLU {100 * test['ReLU MLP']:.0f}%, GELU "
            f"{100 * test['GELU MLP']:.0f}%"
            + (" -- the activation is what bends the boundary around the spirals."
               if min(test["ReLU MLP"], test["GELU MLP"]) > best_linear + 0.2
               else " -- not clearly above the linear models at this budget.")]


def _ffn_answer(ffn: dict, settings: NonlinearitySettings) -> list[str]:
    val = {name: [r["val_loss"] for r in runs] for name, runs in ffn.items()}
    parameters = ", ".join(f"{name} {runs[0]['parameters']:,}" for name, runs in ffn.items())
    dead = [r["never_positive"] for r in ffn["ReLU"]]
    return [verdict("GELU", val["GELU"], "ReLU", val["ReLU"], "GPT feed-forward, GELU vs ReLU"),
            verdict("SwiGLU", val["SwiGLU"], "GELU", val["GELU"], "SwiGLU vs GELU"),
            verdict("SwiGLU", val["SwiGLU"], "ReLU", val["ReLU"], "SwiGLU vs ReLU"),
            f"Parameters: {parameters} (SwiGLU's three matrices get 2/3 of the hidden units).",
            f"Dead ReLU units (pre-activation <= 0 at all {settings.batch_size} x {settings.block_size} positions "
            f"of a validation batch): {100 * mean_std(dead)[0]:.2f}% of the hidden units (mean over seeds)"
            + (" -- ReLU's weak point did not show at this budget." if max(dead) < 0.01 else
               ": there ReLU outputs 0 and passes no gradient, where GELU and SiLU still pass a little.")]


def _tables(spirals: dict, ffn: dict, settings: NonlinearitySettings) -> list[tuple[str, str]]:
    rows = [[name, SPIRAL_ARMS[name][0] or settings.depth, SPIRAL_ARMS[name][1],
             spread([r["train_accuracy"] for r in runs]), spread([r["test_accuracy"] for r in runs]),
             spread([r["test_loss"] for r in runs]),
             f"{max(r['collapse_gap'] for r in runs):.1e}" if "collapse_gap" in runs[0] else "-"]
            for name, runs in spirals.items()]
    spiral = markdown_table(["MLP", "linear layers", "activation", "train accuracy", "test accuracy", "test loss",
                             "largest gap: stack vs collapsed map"], rows)
    rows = [[name, f"{runs[0]['parameters']:,}", spread([r["val_loss"] for r in runs]),
             f"{100 * mean_std([r['never_positive'] for r in runs])[0]:.2f}%",
             f"{mean_std([r['seconds'] for r in runs])[0]:.1f}"] for name, runs in ffn.items()]
    gpt = markdown_table(["feed-forward activation", "parameters", "validation loss",
                          "hidden units never > 0 (ReLU: dead)", "seconds"], rows)
    return [("Two spirals (mean ± std over seeds; the collapse gap: largest over seeds)", spiral),
            ("The GPT's feed-forward activation (mean ± std over seeds)", gpt)]


def run(lab: Lab, settings: NonlinearitySettings) -> Report:
    seeds = range(settings.seeds)
    spirals = {name: [spiral_arm(lab, name, settings, seed) for seed in seeds] for name in SPIRAL_ARMS}
    ffn = {name: [ffn_arm(lab, activation, settings, seed) for seed in lab.progress(seeds, f"{name} seeds")]
           for name, activation in FFN_ARMS.items()}
    _plot(spirals, ffn, settings, lab.path / "nonlinearity.png")
    setup = (f"Spirals: {settings.points} training and {settings.points} fresh test points per class, "
             f"{settings.turns:g} turns, noise {settings.noise:g}; MLPs of width {settings.width}, trained "
             f"{settings.mlp_steps} full-batch AdamW steps at lr {settings.mlp_lr:g} (no weight decay) by lmlab's "
             f"Trainer, seeds 0..{settings.seeds - 1} (the initialisation; the points are fixed). "
             f"FFN: {settings.describe()} The arms differ only in `activation`. Run folders: {RUNS}/.")
    numbers = {"spirals": {name: [{k: v for k, v in r.items() if k != "grid"} for r in runs]
                           for name, runs in spirals.items()}, "ffn": ffn}
    return Report(setup, numbers, _spiral_answer(spirals, settings) + _ffn_answer(ffn, settings),
                  _tables(spirals, ffn, settings),
                  [("nonlinearity.png", "decision boundaries on the two spirals (seed 0; points: the test set); the "
                                        "GPT's validation loss per feed-forward activation")])


EXPERIMENT = Experiment("nonlinearity", "Why do networks need activation functions, and which one should the "
                        "Transformer's feed-forward layer use: ReLU, GELU or SwiGLU?", "003, 002 Q14", PRESETS, run,
                        {"tiny": "11 s", "default": "6.4 min loaded"})
