"""Experiment `heads`: do several heads learn different things, and does orthogonal initialisation help?

Note 000 asks whether heads started from different random values could still end up fitting the
same relation, and answers that heads are given a random orthogonal initialisation so that their
projections start far apart; 002 Q1 asks why one head is not enough. Four arms of equal width
(`n_embd` fixed, d_k = n_embd / n_head): 1 head, 4 heads, 16 heads, and 4 heads with
`orthogonal_init` (orthonormal rows of W_Q, W_K, W_V: the heads start in mutually orthogonal
subspaces). Measured on a fixed validation batch, from step 0 through training (`watch`):

- **map similarity**: the mean cosine similarity between the attention maps of two heads of a
  layer (1 = the same map, 0 = disjoint). A head that looks where another looks is redundant.
- **subspace overlap**: for two heads' projections W_h (d_k x C), the squared cosines of the
  principal angles between their row spaces, averaged: ||Q_a^T Q_b||_F^2 / d_k with Q an
  orthonormal basis of each. 0 = orthogonal subspaces, 1 = the same; random ones give d_k / C.

After training: each head's **ablation** (the validation loss when that head's output is zeroed,
minus the full model's), and heat maps of the two most different heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm, validation_batch
from lmlab.experiments.lab import RUNS, Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread, verdict
from lmlab.recipes.families import lm_family

ARMS = {"1 head": {"n_head": 1}, "4 heads": {"n_head": 4}, "16 heads": {"n_head": 16},
        "4 heads, orthogonal init": {"n_head": 4, "orthogonal_init": True}}


@dataclass
class HeadSettings(TrainingSettings):
    watch_batch: int = 8  # validation windows the similarities are measured on


PRESETS = {
    "tiny": HeadSettings(corpus="pydoc", n_layer=1, n_head=4, n_embd=32, block_size=32, batch_size=8, steps=30,
                         eval_every=10, eval_batches=2, seeds=1, watch_batch=4),
    "default": HeadSettings(n_layer=2, n_embd=128, steps=300, seeds=3),
}


def off_diagonal_mean(matrix: torch.Tensor) -> float:
    """Mean of the entries of an (H, H) matrix off its diagonal (every pair of distinct heads, both ways)."""
    H = matrix.size(0)
    return ((matrix.sum() - matrix.diagonal().sum()) / (H * (H - 1))).item()


def map_similarity(weights: torch.Tensor) -> float:
    """Mean cosine similarity between the heads' attention maps: weights (B, H, T, T) -> a number."""
    flat = F.normalize(weights.transpose(0, 1).flatten(1).float(), dim=1)  # (H, B * T * T)
    return off_diagonal_mean(flat @ flat.T)


def subspace_overlap(weight: torch.Tensor, n_head: int) -> float:
    """Mean squared cosine of the principal angles between the heads' row spaces of one projection
    weight (H * D, C): 0 orthogonal, 1 the same subspace, D / C for random ones."""
    heads = weight.detach().float().view(n_head, -1, weight.size(1))  # (H, D, C)
    bases = torch.linalg.qr(heads.transpose(1, 2)).Q  # (H, C, D), orthonormal columns
    overlaps = torch.einsum("acd,bce->abde", bases, bases).pow(2).sum(dim=(2, 3)) / heads.size(1)  # (H, H)
    return off_diagonal_mean(overlaps)


def head_similarities(model, inputs: torch.Tensor) -> dict:
    """Map similarity and subspace overlap (W_Q, W_K, W_V), averaged over the layers (None for one head)."""
    if model.config.n_head == 1:
        return {"map_similarity": None, "subspace_overlap": None}
    maps = model.attention_weights(inputs)
    overlap = [subspace_overlap(w, block.attn.n_head) for block in model.blocks
               for w in block.attn.projection_weights()]
    return {"map_similarity": sum(map_similarity(m) for m in maps) / len(maps),
            "subspace_overlap": sum(overlap) / len(overlap)}


def head_ablation(model, inputs: torch.Tensor, targets: torch.Tensor) -> list[list[float]]:
    """[layer][head] validation loss with that head's output zeroed, minus the full model's loss.
    A head's output is its slice of the input to the output projection W_O."""
    with torch.no_grad():
        full = model(inputs, targets)[1].item()
        rises = []
        for block in model.blocks:
            D, row = block.attn.head_dim, []
            for head in range(block.attn.n_head):
                def silence(module, args, head=head):
                    y = args[0].clone()
                    y[..., head * D:(head + 1) * D] = 0.0
                    return (y,)
                hook = block.attn.proj.register_forward_pre_hook(silence)
                row.append(model(inputs, targets)[1].item() - full)
                hook.remove()
            rises.append(row)
    return rises


def most_different_heads(model, inputs: torch.Tensor) -> dict:
    """The layer and pair of heads whose maps of the first window are least alike, with those maps."""
    best = None
    for layer, weights in enumerate(model.attention_weights(inputs[:1])):
        flat = F.normalize(weights[0].flatten(1), dim=1)  # (H, T * T)
        similarity = flat @ flat.T + 2 * torch.eye(flat.size(0), device=flat.device)  # the diagonal never wins
        value, index = similarity.min(), similarity.argmin().item()
        if best is None or value < best[0]:
            a, b = divmod(index, flat.size(0))
            best = (value.item(), layer, a, b, weights[0, a].tolist(), weights[0, b].tolist())
    similarity, layer, a, b, map_a, map_b = best
    return {"layer": layer, "heads": [a, b], "similarity": similarity, "maps": [map_a, map_b]}


def _watcher(lab: Lab, key: str, settings: HeadSettings, history: list):
    """`watch` for `train_arm`: the similarities at step 0 and every eval_every steps."""
    def watch(model, step: int) -> None:
        if step % settings.eval_every:
            return
        inputs, _ = validation_batch(lab.path / RUNS / key, settings.block_size, settings.watch_batch,
                                     model.lm_head.weight.device)
        history.append({"step": step, **head_similarities(model, inputs)})
    return watch


def measure_arm(model, folder, settings: HeadSettings, history: list) -> dict:
    inputs, targets = validation_batch(folder, settings.block_size, settings.watch_batch, model.lm_head.weight.device)
    numbers = {"history": list(history), "ablation": head_ablation(model, inputs, targets)}
    if model.config.n_head > 1:
        numbers["different"] = most_different_heads(model, inputs)
    return numbers


def train_head_arm(lab: Lab, name: str, fields: dict, settings: HeadSettings, seed: int) -> dict:
    key, history = f"{name.replace(' ', '-').replace(',', '')}-seed{seed}", []
    return train_arm(lab, key, arm_config(settings, seed, **fields), lm_family("gpt"),
                     measure=lambda model, folder: measure_arm(model, folder, settings, history),
                     watch=_watcher(lab, key, settings, history))


def _plot(arms: dict, settings: HeadSettings, path) -> None:
    fig, axes = figure(1, 4, size=(4.2, 3.6))
    for name, runs in arms.items():
        if name == "1 head":
            continue
        steps = [h["step"] for h in runs[0]["history"]]
        for panel, measure in ((0, "map_similarity"), (1, "subspace_overlap")):
            values = [mean_std([r["history"][i][measure] for r in runs])[0] for i in range(len(steps))]
            axes[0, panel].plot(steps, values, "o-", markersize=3, label=name)
    axes[0, 0].set(xlabel="step", ylabel="mean cosine similarity of two heads' maps")
    axes[0, 1].set(xlabel="step", ylabel="subspace overlap of two heads (W_Q, W_K, W_V)")
    different = arms["4 heads"][0]["different"]
    for panel, (head, attention) in zip((2, 3), zip(different["heads"], different["maps"])):
        axes[0, panel].imshow(attention, cmap="viridis")
        axes[0, panel].set(title=f"4 heads, layer {different['layer']}, head {head}", xlabel="key", ylabel="query")
    save_figure(fig, axes, path)


def _answer(arms: dict, settings: HeadSettings) -> list[str]:
    """Sentences from the numbers; the rules are in `verdict` and in the comments."""
    val = {name: [r["val_loss"] for r in runs] for name, runs in arms.items()}
    answer = [verdict("4 heads", val["4 heads"], "1 head", val["1 head"], "Validation loss at equal width"),
              verdict("16 heads", val["16 heads"], "4 heads", val["4 heads"], "More, narrower heads"),
              verdict("4 heads, orthogonal init", val["4 heads, orthogonal init"], "4 heads", val["4 heads"],
                      "Orthogonal vs default initialisation")]
    for name in ("4 heads", "4 heads, orthogonal init"):
        start, end = (mean_std([r["history"][i]["subspace_overlap"] for r in arms[name]])[0] for i in (0, -1))
        maps = [mean_std([r["history"][i]["map_similarity"] for r in arms[name]])[0] for i in (0, -1)]
        answer.append(f"{name}: subspace overlap {start:.3f} at step 0 -> {end:.3f} at step {settings.steps} "
                      f"(random subspaces: d_k / C = {1 / 4:.2f}); map similarity {maps[0]:.2f} -> {maps[1]:.2f}.")
    rises = [rise for run in arms["4 heads"] for layer in run["ablation"] for rise in layer]
    answer.append(f"Removing one head of the 4-head model raises the validation loss by {min(rises):+.3f} to "
                  f"{max(rises):+.3f} nats (every head, layer and seed): "
                  + ("no single head matters much (every rise below 0.01 nats)." if max(rises) < 0.01
                     else "the heads are not interchangeable (the largest rise is over twice the smallest)."
                     if max(rises) > 2 * max(min(rises), 1e-3) else "they matter about equally."))
    return answer


def _shown(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _tables(arms: dict) -> list[tuple[str, str]]:
    rows = []
    for name, runs in arms.items():
        final = runs[0]["history"][-1]
        rises = [rise for layer in runs[0]["ablation"] for rise in layer]
        rows.append([name, spread([r["val_loss"] for r in runs]), _shown(runs[0]["history"][0]["subspace_overlap"], 3),
                     _shown(final["subspace_overlap"], 3), _shown(final["map_similarity"], 2),
                     f"{min(rises):+.3f} .. {max(rises):+.3f}", f"{mean_std([r['seconds'] for r in runs])[0]:.1f}"])
    header = ["arm", "validation loss", "subspace overlap, step 0", "end", "map similarity, end",
              "ablation: loss rise per head (seed 0)", "seconds"]
    return [("Heads at equal width (validation loss: mean ± std over seeds; the rest: seed 0)",
             markdown_table(header, rows))]


def run(lab: Lab, settings: HeadSettings) -> Report:
    arms = {name: [train_head_arm(lab, name, fields, settings, seed)
                   for seed in lab.progress(range(settings.seeds), f"{name} seeds")]
            for name, fields in ARMS.items()}
    _plot(arms, settings, lab.path / "heads.png")
    setup = (f"{settings.describe()} The arms differ in `n_head` (d_k = n_embd / n_head) and `orthogonal_init`. "
             f"Similarities on {settings.watch_batch} validation windows at step 0 and every {settings.eval_every} "
             f"steps, averaged over layers (and over W_Q, W_K, W_V for the overlap). Ablation: the output of one "
             f"head zeroed at the input of W_O, on the same windows.")
    return Report(setup, {"arms": arms}, _answer(arms, settings), _tables(arms),
                  [("heads.png", "how alike two heads' maps and projection subspaces are during training; the two "
                                 "most different heads of the 4-head model (seed 0)")])


EXPERIMENT = Experiment("heads", "Do several heads learn different things, is one head enough, and does orthogonal "
                        "initialisation keep heads apart?", "000, 002 Q1 Q6", PRESETS, run,
                        {"tiny": "15 s", "default": "4.6 min"})
