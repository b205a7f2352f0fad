"""Experiment `norms-and-residuals`: what the norm, its place and the residual path each do.

Notes 001 and 002 (Q11-13) ask why a Transformer block has a residual connection, why it uses
LayerNorm and not BatchNorm, and where the norm goes. Three grids of small GPTs, every arm an
ordinary `lmlab train` run (`norm=layernorm|rmsnorm|batchnorm|none`, `norm_position=pre|post`,
`residual=true|false`):

1. **Which norm, where** (seeds): the four norms, pre and post, at one depth: validation loss
   and the gradient norm reaching each layer.
2. **Depth and the residual**: LayerNorm pre-norm stacks of growing depth, with and without the
   skip connections: validation loss, and the gradient norm per layer at initialisation, where
   "vanishing" is a number (the first layer's gradient over the last layer's).
3. **BatchNorm and the batch**: BatchNorm vs LayerNorm at batch sizes from 1 up. BatchNorm
   normalises each feature over all B x T tokens of the batch, so in training mode position t
   sees statistics of tokens after it: the future leaks in. Measured three ways: the gradient of
   output t with respect to later inputs (exactly zero for LayerNorm), the validation loss with
   batch statistics (as training sees it) against running statistics (as generation sees it),
   and how that gap changes with the batch size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm, validation_batch
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.masks import future_gradient
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread, verdict
from lmlab.models.gpt import GPT
from lmlab.recipes.families import lm_family

PLACES = ("pre", "post")


@dataclass
class NormSettings(TrainingSettings):
    norms: str = "layernorm,rmsnorm,batchnorm,none"  # grid 1: the norms compared, pre and post
    depths: str = "2,6,12"  # grid 2: layers of the stacks with and without residuals (one seed each)
    batch_sizes: str = "1,4,16,64"  # grid 3: BatchNorm vs LayerNorm (one seed each)


PRESETS = {
    "tiny": NormSettings(corpus="pydoc", n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=8, steps=20,
                         eval_every=10, eval_batches=2, seeds=1, norms="layernorm,batchnorm", depths="6",
                         batch_sizes="2"),
    "default": NormSettings(n_layer=4, n_embd=64, steps=200, eval_every=50, seeds=3),
}


def numbers_of(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def layer_gradient_norms(model, inputs: torch.Tensor, targets: torch.Tensor) -> list[float]:
    """The norm of the loss gradient over each block's parameters, first block first, from one
    backward pass in training mode (BatchNorm with batch statistics; the arms have no dropout)."""
    model.train()
    model.zero_grad(set_to_none=True)
    model(inputs, targets)[1].backward()
    norms = [torch.cat([p.grad.flatten() for p in block.parameters() if p.grad is not None]).norm().item()
             for block in model.blocks]
    model.zero_grad(set_to_none=True)
    model.eval()
    return norms


def losses_both_modes(model, inputs: torch.Tensor, targets: torch.Tensor) -> dict:
    """Validation loss with batch statistics (training mode, as the training loss is computed) and
    with running statistics (evaluation mode, as in generation); equal for a batch-free norm."""
    with torch.no_grad():
        running = model.eval()(inputs, targets)[1].item()  # first: a training-mode pass updates the running stats
        batch = model.train()(inputs, targets)[1].item()
    model.eval()
    return {"batch_stats_loss": batch, "val_loss_eval": running}


def measure_arm(model, folder, settings: NormSettings, seed: int) -> dict:
    """Gradient norm per layer now and at initialisation (the same config, the arm's seed), the loss
    in both modes, and the largest gradient of an output with respect to a later input (train mode)."""
    device = model.lm_head.weight.device
    inputs, targets = validation_batch(folder, settings.block_size, settings.batch_size, device)
    losses = losses_both_modes(model, inputs, targets)  # before any training-mode pass moves the running stats
    torch.manual_seed(seed)
    untrained = GPT(model.config).to(device)
    trained_norms = layer_gradient_norms(model, inputs, targets)
    model.train()  # BatchNorm's batch statistics: the leak is a training-mode effect
    rows = future_gradient(model, inputs[:2, :16])
    model.eval()
    leak = max((row[s] for t, row in enumerate(rows) for s in range(t + 1, len(row))), default=0.0)
    return {"layer_gradients": trained_norms, "layer_gradients_init": layer_gradient_norms(untrained, inputs, targets),
            "future_gradient": leak, **losses}


def _train(lab: Lab, key: str, settings: NormSettings, seed: int, **fields) -> dict:
    return train_arm(lab, key, arm_config(settings, seed, **fields), lm_family("gpt"),
                     measure=lambda model, folder: measure_arm(model, folder, settings, seed))


def placement_grid(lab: Lab, settings: NormSettings) -> dict:
    """{"layernorm pre": [numbers per seed], ..., "none": [...]} for every norm and place (no norm has no place)."""
    arms = {}
    for norm in settings.norms.split(","):
        for place in PLACES if norm != "none" else ("pre",):
            arms[f"{norm} {place}" if norm != "none" else "none"] = [_train(lab, f"{norm}-{place}-seed{seed}", settings, seed, norm=norm,
                                              norm_position=place)
                                       for seed in lab.progress(range(settings.seeds), f"{norm} {place} seeds")]
    return arms


def depth_grid(lab: Lab, settings: NormSettings) -> dict:
    """{"12 layers, residual": numbers, ...}: LayerNorm pre-norm, seed 0."""
    arms = {}
    for depth in lab.progress(numbers_of(settings.depths), "depths"):
        for residual in (True, False):
            name = f"{depth} layers, {'residual' if residual else 'no residual'}"
            arms[name] = _train(lab, f"depth{depth}-{'residual' if residual else 'plain'}",
                                dataclasses.replace(settings, n_layer=depth), 0, residual=residual)
    return arms


def batch_grid(lab: Lab, settings: NormSettings) -> dict:
    """{"batchnorm, batch 4": numbers, ...}: pre-norm, seed 0, the same steps at every batch size."""
    arms = {}
    for batch in lab.progress(numbers_of(settings.batch_sizes), "batch sizes"):
        for norm in ("batchnorm", "layernorm"):
            arms[f"{norm}, batch {batch}"] = _train(lab, f"batch{batch}-{norm}",
                                                    dataclasses.replace(settings, batch_size=batch), 0, norm=norm)
    return arms


def vanishing_ratio(norms: list[float]) -> float:
    """The first layer's gradient norm over the last layer's: below 1, the gradient shrinks on its way down."""
    return norms[0] / norms[-1] if norms[-1] > 0 else float("inf")


def _plot(placement: dict, depth: dict, batch: dict, path) -> None:
    fig, axes = figure(1, 4, size=(4.2, 3.6))
    names = list(placement)
    means = [mean_std([r["val_loss"] for r in placement[n]]) for n in names]
    axes[0, 0].barh(names, [m for m, _ in means], xerr=[s for _, s in means])
    axes[0, 0].set(xlabel="validation loss (mean ± std)", title="which norm, where")
    for name, numbers in depth.items():
        axes[0, 1].plot(range(1, len(numbers["layer_gradients_init"]) + 1), numbers["layer_gradients_init"],
                        "o-" if "no residual" in name else "o--", markersize=3, label=name)
    axes[0, 1].set(xlabel="layer", ylabel="gradient norm at initialisation", yscale="log")
    for residual in ("residual", "no residual"):
        points = [(int(n.split()[0]), r["val_loss"]) for n, r in depth.items() if n.endswith(f", {residual}")]
        axes[0, 2].plot(*zip(*points), "o-", label=residual)
    axes[0, 2].set(xlabel="layers", ylabel="validation loss")
    for norm in ("batchnorm", "layernorm"):
        rows = [(int(n.split()[-1]), r) for n, r in batch.items() if n.startswith(norm)]
        line, = axes[0, 3].plot([b for b, _ in rows], [r["val_loss_eval"] for _, r in rows], "o-",
                                label=f"{norm}: running statistics")
        axes[0, 3].plot([b for b, _ in rows], [r["batch_stats_loss"] for _, r in rows], "x--",
                        color=line.get_color(), label=f"{norm}: batch statistics")
    axes[0, 3].set(xlabel="batch size", ylabel="validation loss", xscale="log")
    save_figure(fig, axes, path)


def _answer(placement: dict, depth: dict, batch: dict) -> list[str]:
    """Sentences from the numbers: `verdict` on the seeded grid, plain comparisons on the others."""
    val = {name: [r["val_loss"] for r in runs] for name, runs in placement.items()}
    best = min(val, key=lambda name: mean_std(val[name])[0])
    answer = [f"Lowest validation loss: {best} ({spread(val[best])})."]
    for other, what in (("layernorm post", "Pre- vs post-norm (LayerNorm)"), ("rmsnorm pre", "LayerNorm vs RMSNorm"),
                        ("batchnorm pre", "LayerNorm vs BatchNorm"), ("none", "LayerNorm vs no norm at all")):
        if other in val:
            answer.append(verdict("layernorm pre", val["layernorm pre"], other, val[other], f"{what}, validation loss"))
    deepest = max(int(name.split()[0]) for name in depth)
    plain, residual = depth[f"{deepest} layers, no residual"], depth[f"{deepest} layers, residual"]
    answer.append(f"At {deepest} layers and initialisation the gradient reaching the first layer is "
                  f"{vanishing_ratio(plain['layer_gradients_init']):.2g}x the last layer's without residuals and "
                  f"{vanishing_ratio(residual['layer_gradients_init']):.2g}x with them; validation loss after training "
                  f"{plain['val_loss']:.3f} without vs {residual['val_loss']:.3f} with (one seed).")
    leaks = {name: r["future_gradient"] for name, r in batch.items()}
    bn = [(name, r) for name, r in batch.items() if name.startswith("batchnorm")]
    gaps = ", ".join(f"{name.split()[-1]}: {r['val_loss_eval'] - r['batch_stats_loss']:+.3f}" for name, r in bn)
    ln_leak = max(v for n, v in leaks.items() if n.startswith("layernorm"))
    answer.append(f"BatchNorm in training mode makes output t depend on later inputs (largest gradient "
                  f"{max(v for n, v in leaks.items() if n.startswith('batchnorm')):.1e}; LayerNorm: {ln_leak:.1e}"
                  f"{', exactly zero' if ln_leak == 0 else ''}). Its validation loss with running statistics minus "
                  f"the loss with batch statistics, by batch size: {gaps} (positive: the batch statistics flatter it).")
    return answer


def _tables(placement: dict, depth: dict, batch: dict) -> list[tuple[str, str]]:
    rows = [[name, spread([r["train_loss"] for r in runs]), spread([r["val_loss"] for r in runs]),
             f"{mean_std([vanishing_ratio(r['layer_gradients']) for r in runs])[0]:.2f}"]
            for name, runs in placement.items()]
    first = markdown_table(["norm, place", "training loss", "validation loss", "first / last layer gradient, trained"],
                           rows)
    second = markdown_table(["stack", "validation loss", "first / last layer gradient, init", "trained"],
                            [[name, round(r["val_loss"], 3), f"{vanishing_ratio(r['layer_gradients_init']):.2g}",
                              f"{vanishing_ratio(r['layer_gradients']):.2g}"] for name, r in depth.items()])
    third = markdown_table(["norm, batch", "training loss", "validation loss, batch statistics",
                            "validation loss, running statistics", "largest future gradient"],
                           [[name, round(r["train_loss"], 3), round(r["batch_stats_loss"], 3),
                             round(r["val_loss_eval"], 3), f"{r['future_gradient']:.1e}"] for name, r in batch.items()])
    return [("Which norm, where (mean ± std over seeds)", first), ("Depth and the residual (LayerNorm, pre)", second),
            ("BatchNorm and the batch (pre-norm)", third)]


def run(lab: Lab, settings: NormSettings) -> Report:
    placement, depth, batch = placement_grid(lab, settings), depth_grid(lab, settings), batch_grid(lab, settings)
    _plot(placement, depth, batch, lab.path / "norms-and-residuals.png")
    setup = (f"{settings.describe()} Grid 1: norms {settings.norms}, pre and post. Grid 2: LayerNorm pre-norm at "
             f"{settings.depths} layers, with and without residuals, seed 0. Grid 3: BatchNorm and LayerNorm at "
             f"batch sizes {settings.batch_sizes}, seed 0, the same number of steps. Gradient norms: one backward "
             f"pass on a validation batch in training mode, per block, at initialisation and after training. "
             f"Future gradients: 2 windows of 16 characters, training mode.")
    return Report(setup, {"placement": placement, "depth": depth, "batch": batch},
                  _answer(placement, depth, batch), _tables(placement, depth, batch),
                  [("norms-and-residuals.png", "validation loss per norm and place; gradient norm per layer at "
                                               "initialisation; loss vs depth; BatchNorm's two losses vs batch size")])


EXPERIMENT = Experiment("norms-and-residuals", "What do the residual path and the norm do, why LayerNorm and not "
                        "BatchNorm, and does the norm go before or after?", "001, 002 Q11-13", PRESETS, run,
                        {"tiny": "20 s", "default": "9.7 min (1 thread, shared CPU)"})
