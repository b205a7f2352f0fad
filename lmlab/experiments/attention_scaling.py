"""Experiment `attention-scaling`: why divide q . k by sqrt(d_k), and does the gradient vanish or explode?

The argument (docs/attention.md): for q and k with independent unit-variance components, q . k is
a sum of d_k products of variance 1, so Var(q . k) = d_k. A softmax over scores of standard
deviation sqrt(d_k) is nearly one-hot for large heads, and the Jacobian of a one-hot softmax,
diag(p) - p p^T, is nearly zero. Three measurements test each step of it:

1. random queries and keys, d_k from 8 to 512: the variance of the scores, the softmax's entropy
   and largest weight, and the gradient that reaches the scores and the queries when a random
   upstream gradient flows back through the softmax, with and without the scale;
2. the same statistics on the queries and keys of trained models (one head, d_k = n_embd);
3. those models, trained with ``score=dot`` and ``score=scaled_dot`` on the same text with the
   same seeds: their validation curves.

The notes disagree on what goes wrong without the scale (004: gradients explode; our docs:
they vanish). Both are measured: the gradient at the scores, and at the queries, which carries
an extra factor |k| ~ sqrt(d_k) from the chain rule d(q . k)/dq = k.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm, validation_batch
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread, verdict
from lmlab.nn.masks import causal_mask, masked_softmax

SCORES = ("dot", "scaled_dot")


@dataclass
class ScalingSettings(TrainingSettings):
    head_sizes: str = "8,16,32,64,128,256,512"  # d_k of the random queries and keys
    keys: int = 64  # keys each random query scores
    queries: int = 4096  # random queries per head size


PRESETS = {
    "tiny": ScalingSettings(corpus="pydoc", n_layer=1, n_head=1, n_embd=32, block_size=32, batch_size=8, steps=20,
                            eval_every=10, eval_batches=2, seeds=1, head_sizes="8,64,512", queries=256),
    "default": ScalingSettings(n_layer=2, n_head=1, n_embd=128, steps=300, seeds=3),
}


def score_statistics(q: torch.Tensor, k: torch.Tensor, scaled: bool, allowed: torch.Tensor | None = None,
                     seed: int = 0) -> dict:
    """Softmax attention statistics of queries q (..., Tq, D) against keys k (..., Tk, D).

    The gradients come from one backward pass of sum(weights * g) with a fixed random upstream
    gradient g ~ N(0, 1) on the weights: their mean norm per query row, at the scores and at q."""
    q = q.detach().clone().requires_grad_(True)
    scores = q @ k.detach().transpose(-2, -1)  # (..., Tq, Tk)
    if scaled:
        scores = scores / math.sqrt(q.size(-1))
    scores.retain_grad()
    weights = masked_softmax(scores, allowed)  # (..., Tq, Tk)
    upstream = torch.randn(weights.shape, generator=torch.Generator().manual_seed(seed)).to(weights.device)
    (weights * upstream).sum().backward()
    seen = torch.ones_like(scores, dtype=torch.bool) if allowed is None else allowed.expand_as(scores)
    entropy = -(weights * weights.clamp_min(1e-30).log()).sum(-1)  # (..., Tq) nats
    largest = weights.max(-1).values  # (..., Tq)
    return {"score_variance": scores.detach()[seen].var().item(), "entropy": entropy.mean().item(),
            "largest_weight": largest.mean().item(), "saturated": (largest > 0.99).float().mean().item(),
            "grad_scores": scores.grad.norm(dim=-1).mean().item(), "grad_queries": q.grad.norm(dim=-1).mean().item()}


def random_statistics(settings: ScalingSettings) -> dict:
    """For each head size and both scorings: statistics of unit-variance random q and k."""
    generator = torch.Generator().manual_seed(0)
    found = {}
    for d_k in [int(size) for size in settings.head_sizes.split(",")]:
        q = torch.randn(settings.queries, 1, d_k, generator=generator)  # (N, 1 query, D)
        k = torch.randn(settings.queries, settings.keys, d_k, generator=generator)  # (N, Tk, D)
        found[str(d_k)] = {score: score_statistics(q, k, score == "scaled_dot") for score in SCORES}
    return found


def trained_statistics(model, folder, settings: ScalingSettings) -> dict:
    """The first layer's own queries and keys on a validation batch, scored both ways (causal)."""
    attention = model.blocks[0].attn
    captured = {}
    hook = attention.qkv.register_forward_hook(lambda module, inputs, output: captured.setdefault("qkv", output))
    inputs, _ = validation_batch(folder, settings.block_size, settings.batch_size, model.lm_head.weight.device)
    with torch.no_grad():
        model(inputs)
    hook.remove()
    q, k, _ = captured["qkv"].split(attention.qkv_sizes, dim=2)
    q, k = attention.split_heads(q, attention.n_head), attention.split_heads(k, attention.n_kv_head)  # (B, H, T, D)
    allowed = causal_mask(q.size(2), k.size(2), q.device)
    return {score: score_statistics(q, k, score == "scaled_dot", allowed) for score in SCORES}


def train_arms(lab: Lab, settings: ScalingSettings) -> dict:
    """score -> one trained arm's numbers per seed."""
    arms = {}
    for score in SCORES:
        arms[score] = [train_arm(lab, f"train-{score}-seed{seed}", arm_config(settings, seed, score=score),
                                 measure=lambda model, folder: {"trained": trained_statistics(model, folder, settings)})
                       for seed in lab.progress(range(settings.seeds), f"{score} seeds")]
    return arms


def _plot(random: dict, arms: dict, path) -> None:
    sizes = [int(d) for d in random]
    fig, axes = figure(2, 2)
    for score, style in zip(SCORES, ("o-", "s--")):
        for panel, key, label in zip(axes.flat[:3], ("entropy", "largest_weight", "grad_scores"),
                                     ("softmax entropy (nats)", "largest softmax weight",
                                      "gradient norm at the scores")):
            panel.plot(sizes, [random[str(d)][score][key] for d in sizes], style, label=score)
            panel.set(xscale="log", xlabel="d_k (random q, k)", ylabel=label)
        for seed, numbers in enumerate(arms[score]):
            axes[1, 1].plot(*zip(*numbers["curve"]), style, markersize=3, alpha=0.8,
                            label=score if seed == 0 else None, color="tab:blue" if score == "dot" else "tab:orange")
    axes[1, 1].set(xlabel="step", ylabel="validation loss (nats/char)")
    save_figure(fig, axes, path)


def _answer(random: dict, arms: dict, settings: ScalingSettings) -> list[str]:
    """The answer, sentence by sentence, from the numbers (rules in the comments)."""
    small, large = min(random, key=int), max(random, key=int)
    dot, scaled = random[large]["dot"], random[large]["scaled_dot"]
    answer = [f"Var(q·k) of unit-variance random vectors is {random[small]['dot']['score_variance']:.1f} at d_k={small}"
              f" and {dot['score_variance']:.1f} at d_k={large} (it grows like d_k); divided by sqrt(d_k) it stays "
              f"{scaled['score_variance']:.2f}.",
              f"At d_k={large} the largest softmax weight is {dot['largest_weight']:.2f} unscaled vs "
              f"{scaled['largest_weight']:.2f} scaled ({dot['saturated']:.0%} vs {scaled['saturated']:.0%} of rows put "
              f"over 0.99 on one key; entropy {dot['entropy']:.2f} vs {scaled['entropy']:.2f} nats, uniform "
              f"{math.log(settings.keys):.2f})."]
    for where, key in (("the scores", "grad_scores"), ("the queries", "grad_queries")):
        ratio = dot[key] / scaled[key]  # rule: below 1/2 vanishes, above 2 explodes, else similar
        trend = "vanishes" if ratio < 0.5 else "explodes" if ratio > 2 else "is of similar size"
        answer.append(f"Without the scale the gradient reaching {where} {trend} at d_k={large}: "
                      f"{dot[key]:.3f} vs {scaled[key]:.3f} scaled (x{ratio:.2f}).")
    own = {score: mean_std([arm["trained"][score]["score_variance"] for arm in arms[score]])[0] for score in SCORES}
    ratio = max(own.values()) / min(own.values())  # rule: within 3x, training made up for the missing scale
    made_up = ("within 3x: training grew or shrank q·k to make up for the missing scale" if ratio < 3
               else f"{ratio:.1f}x apart: training did not make up for it")
    answer.append(f"Trained queries and keys (d_k={settings.n_embd // settings.n_head}), each model scored its own "
                  f"way: Var(scores) {own['dot']:.3g} without the scale, {own['scaled_dot']:.3g} with it ({made_up}).")
    answer.append(verdict("scaled_dot", [a["val_loss"] for a in arms["scaled_dot"]], "dot",
                          [a["val_loss"] for a in arms["dot"]], f"Final validation loss after {settings.steps} steps"))
    return answer


def _tables(random: dict, arms: dict) -> list[tuple[str, str]]:
    rows = [[d, score, f"{s['score_variance']:.2f}", f"{s['entropy']:.3f}", f"{s['largest_weight']:.3f}",
             f"{s['saturated']:.1%}", f"{s['grad_scores']:.4f}", f"{s['grad_queries']:.4f}"]
            for d, by_score in random.items() for score, s in by_score.items()]
    header = ["d_k", "score", "Var(scores)", "entropy (nats)", "largest weight", "rows > 0.99", "grad at scores",
              "grad at queries"]
    trained = [[score, spread([a["val_loss"] for a in runs]), spread([a["train_loss"] for a in runs]),
                spread([a["trained"]["dot"]["score_variance"] for a in runs], 2),
                spread([a["trained"][score]["largest_weight"] for a in runs]),
                f"{mean_std([a['seconds'] for a in runs])[0]:.0f}"] for score, runs in arms.items()]
    return [("Random unit-variance queries and keys", markdown_table(header, rows)),
            ("Small GPTs trained with each score (mean ± std over seeds)",
             markdown_table(["score", "val loss", "train loss", "Var(q·k) trained, layer 1",
                             "largest weight (own scoring)", "seconds"], trained))]


def run(lab: Lab, settings: ScalingSettings) -> Report:
    random = random_statistics(settings)
    arms = train_arms(lab, settings)
    _plot(random, arms, lab.path / "attention-scaling.png")
    setup = (f"Random part: {settings.queries} queries per head size, each scoring {settings.keys} keys, every "
             f"component N(0, 1); gradients from sum(weights * g) with g ~ N(0, 1). Trained part: "
             f"{settings.describe()} `score=dot` vs `score=scaled_dot`; validation loss on "
             f"{settings.eval_batches} fixed batches.")
    return Report(setup, {"random": random, "arms": arms}, _answer(random, arms, settings), _tables(random, arms),
                  [("attention-scaling.png", "softmax entropy, largest weight and gradient at the scores against "
                                             "d_k; validation loss of the trained GPTs")])


EXPERIMENT = Experiment("attention-scaling", "Why divide q·k by sqrt(d_k)? Without it, do gradients vanish or "
                        "explode?", "000, 002 Q4, 003, 004", PRESETS, run, {"tiny": "8 s", "default": "2.5 min"})
