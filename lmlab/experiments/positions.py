"""Experiment `positions`: the six position encodings (and none), trained at one length, run at 8x it.

Note 001 says attention by itself cannot tell order ("置换不变") and that sinusoidal encodings
"can extrapolate to longer sequences"; 002 Q8 says token embeddings are multiplied by sqrt(d_model)
so that the position vectors do not drown them. Three measurements answer the three claims:

1. **Extrapolation.** One GPT per scheme (`pos=learned|sinusoidal|relative|t5|rope|alibi|none`)
   is trained on windows of `block_size` characters, then fed windows of 8 x block_size. A causal
   model's output at t depends on tokens 0..t only, so one long window gives the loss at every
   position, and the perplexity at 1x, 2x, 4x and 8x the training length is the mean over its
   first 1, 2, 4, 8 blocks. `learned` has no vector past its table: it is measured at 1x only.
2. **Order blindness.** With no positions and no mask, permuting the input permutes the outputs
   and changes nothing else; every scheme breaks that, and so does the causal mask on its own
   (a query at t averages over exactly t + 1 keys). Measured as the largest change
   |f(permuted ids) - permuted f(ids)| of each trained model, with its mask removed and with it.
3. **The sqrt(d_model) scale.** Sinusoidal positions have norm sqrt(C/2); a token vector starts
   at 0.02 per dimension. The arm `sinusoidal x sqrt(C)` scales the tokens (`scale_embeddings`,
   which also starts them at N(0, 1/C)); both arms report the mean norms of token and position
   vectors and their loss.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm, validation_batch
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.masks import LookaheadConfig, LookaheadGPT
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import clear_difference, mean_std, spread, verdict
from lmlab.nn.positional import POSITIONS
from lmlab.recipes.families import lm_family

ARMS = {kind: {"pos": kind} for kind in POSITIONS} | {"sinusoidal x sqrt(C)": {"pos": "sinusoidal",
                                                                               "scale_embeddings": True}}
STEADY = 1.1  # a scheme extrapolates when its perplexity at 8x is within 10% of its perplexity at 1x
POOR = 1.5  # ... and that says little when its perplexity at 1x is over 1.5x the best arm's


@dataclass
class PositionSettings(TrainingSettings):
    longest: int = 8  # evaluated on windows up to this many times block_size: 1x, 2x, 4x, ... longest x
    eval_windows: int = 16  # validation windows of longest x block_size characters, the same for every arm


PRESETS = {
    "tiny": PositionSettings(corpus="pydoc", n_layer=1, n_head=2, n_embd=32, block_size=16, batch_size=8, steps=40,
                             eval_every=20, eval_batches=2, seeds=1, eval_windows=4),
    "default": PositionSettings(steps=250, seeds=3),
}


def lengths(settings: PositionSettings) -> list[int]:
    """The evaluated multiples of block_size: 1, 2, 4, ... up to `longest`."""
    return [2 ** i for i in range(int(math.log2(settings.longest)) + 1)]


def position_losses(model, inputs: torch.Tensor, targets: torch.Tensor) -> list[float]:
    """Loss at each position, averaged over the windows: inputs, targets (B, L) -> L values."""
    with torch.no_grad():
        logits, _ = model(inputs)  # (B, L, V)
        losses = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none")
    return losses.view(targets.shape).mean(dim=0).tolist()


def embedding_norms(model) -> dict:
    """Mean L2 norm of the token vectors as the blocks see them (x sqrt(C) when scaled) and of the
    position vectors added to them (absent for schemes that act inside attention)."""
    config, C = model.config, model.config.n_embd
    tokens = model.token_embedding.weight.detach().float().norm(dim=1).mean().item()
    tokens *= math.sqrt(C) if config.scale_embeddings else 1.0
    zeros = torch.zeros(1, config.block_size, C, device=model.token_embedding.weight.device)
    added = model.position_embedding.embed(zeros, 0)[0]  # (T, C): what embed() adds to each position
    return {"token_norm": tokens, "position_norm": added.norm(dim=1).mean().item()}


def measure_arm(model, folder, settings: PositionSettings) -> dict:
    """Per-position validation loss on the long windows (block_size only for `learned`) and norms."""
    longest = settings.longest * settings.block_size
    inputs, targets = validation_batch(folder, longest, settings.eval_windows, model.lm_head.weight.device)
    if not model.position_embedding.extrapolates:
        inputs, targets = inputs[:, :settings.block_size], targets[:, :settings.block_size]
    window = inputs[:2, :settings.block_size]  # (2, T): for the permutation check
    return {"position_loss": position_losses(model, inputs, targets), **embedding_norms(model),
            "permutation_gap": permutation_gap(model, window, mask=False),
            "permutation_gap_causal": permutation_gap(model, window, mask=True)}


def perplexities(position_loss: list[float], settings: PositionSettings) -> dict:
    """{multiple: perplexity of the first multiple x block_size positions} for the lengths measured."""
    return {k: math.exp(sum(position_loss[:k * settings.block_size]) / (k * settings.block_size))
            for k in lengths(settings) if k * settings.block_size <= len(position_loss)}


def permutation_gap(model, ids: torch.Tensor, mask: bool) -> float:
    """Largest |f(ids[:, perm]) - f(ids)[:, perm]| of a trained GPT, with its causal mask or with the
    mask removed (the same weights in a `LookaheadGPT`): 0 up to rounding means blind to order."""
    config = LookaheadConfig(**dataclasses.asdict(model.config), lookahead=0 if mask else None)
    unmasked = LookaheadGPT(config).to(ids.device).eval()
    unmasked.load_state_dict(model.state_dict())
    permutation = torch.randperm(ids.size(1), generator=torch.Generator().manual_seed(0)).to(ids.device)
    with torch.no_grad():
        return (unmasked(ids[:, permutation])[0] - unmasked(ids)[0][:, permutation]).abs().max().item()


def _plot(arms: dict, gaps: dict, settings: PositionSettings, path) -> None:
    fig, axes = figure(1, 3)
    width = max(1, settings.block_size // 4)  # positions averaged per point
    for name, runs in arms.items():
        curve = runs[0]["position_loss"]
        points = [sum(curve[i:i + width]) / len(curve[i:i + width]) for i in range(0, len(curve), width)]
        axes[0, 0].plot([i * width + width / 2 for i in range(len(points))], points, linewidth=1, label=name)
        ppl = [mean_std([r["perplexity"][str(k)] for r in runs])[0] for k in lengths(settings)
               if str(k) in runs[0]["perplexity"]]
        axes[0, 1].plot(lengths(settings)[:len(ppl)], ppl, "o-", markersize=3, label=name)
    axes[0, 0].axvline(settings.block_size, color="black", linestyle="--", linewidth=0.8)
    axes[0, 0].set(xlabel="position in the window", ylabel="loss (nats/char), seed 0", xscale="log",
                   title=f"trained on {settings.block_size} positions (dashed)")
    axes[0, 1].set(xlabel="evaluated length / training length", ylabel="perplexity", xscale="log", yscale="log")
    names = list(gaps)
    axes[0, 2].barh(names, [max(gaps[n], 1e-9) for n in names])
    axes[0, 2].set(xscale="log", xlabel="largest output change under a permutation", title="trained, mask removed")
    save_figure(fig, axes, path)


def _extrapolation(arms: dict, settings: PositionSettings) -> list[str]:
    """Which schemes keep their perplexity at `longest` x the training length (rule: STEADY)."""
    longest = str(settings.longest)
    ratios = {name: mean_std([r["perplexity"][longest] / r["perplexity"]["1"] for r in runs])[0]
              for name, runs in arms.items() if longest in runs[0]["perplexity"]}
    at_1x = {name: mean_std([r["perplexity"]["1"] for r in runs])[0] for name, runs in arms.items()}
    poor = {n for n in ratios if at_1x[n] > POOR * min(at_1x.values())}  # steady, but because it learned little

    def named(n: str) -> str:
        return f"{n} ({ratios[n]:.2f}x{', but already poor at 1x' if n in poor else ''})"
    steady = [named(n) for n in ratios if ratios[n] <= STEADY]
    worse = [named(n) for n in ratios if ratios[n] > STEADY]
    return [f"At {longest}x the training length, perplexity stays within {STEADY - 1:.0%} of its 1x value for: "
            f"{', '.join(steady) or 'none'}; it grows for: {', '.join(worse) or 'none'} (mean over seeds of "
            f"ppl {longest}x / ppl 1x). `learned` cannot run past its {settings.block_size} positions at all."]


def _answer(arms: dict, gaps: dict, settings: PositionSettings) -> list[str]:
    """Sentences from the numbers; the rules are in the comments and in `verdict`."""
    at_1x = {name: [r["perplexity"]["1"] for r in runs] for name, runs in arms.items()}
    best = min(at_1x, key=lambda n: mean_std(at_1x[n])[0])
    tied = [n for n in at_1x if n != best and not clear_difference(at_1x[n], at_1x[best])]
    answer = [f"At the training length the lowest perplexity is {best}'s ({spread(at_1x[best], 2)}); "
              f"not clearly different from it (the seed spreads overlap): {', '.join(tied) or 'none'}."]
    answer += _extrapolation(arms, settings)
    order = "blind to order: the outputs are permuted, nothing else" if gaps["none"] < 1e-4 else "NOT blind to order"
    others = {k: v for k, v in gaps.items() if k != "none"}
    answer.append(f"Permuting a window fed to a trained model with its mask removed moves the outputs by "
                  f"{gaps['none']:.1e} with no positions ({order}), and by {min(others.values()):.1e} to "
                  f"{max(others.values()):.1e} with a scheme; with its causal mask the no-position model is not "
                  f"order-blind ({arms['none'][0]['permutation_gap_causal']:.1e}): a query at t averages over t + 1 keys.")
    answer.append(verdict("none", at_1x["none"], "learned", at_1x["learned"],
                          "A causal GPT with no positions at all, perplexity at 1x", digits=2))
    plain, scaled = arms["sinusoidal"], arms["sinusoidal x sqrt(C)"]
    answer.append(f"Sinusoidal without the scale: token vectors of norm {plain[0]['token_norm']:.2f} next to "
                  f"position vectors of {plain[0]['position_norm']:.2f} after training; with x sqrt(C): "
                  f"{scaled[0]['token_norm']:.2f} next to {scaled[0]['position_norm']:.2f}. "
                  + verdict("sinusoidal x sqrt(C)", at_1x["sinusoidal x sqrt(C)"], "sinusoidal", at_1x["sinusoidal"],
                            "Perplexity at 1x", digits=2))
    return answer


def _tables(arms: dict, gaps: dict, settings: PositionSettings) -> list[tuple[str, str]]:
    header = ["arm"] + [f"ppl at {k}x ({k * settings.block_size} chars)" for k in lengths(settings)] + [
        "token norm", "position norm"]
    rows = [[name] + [spread([r["perplexity"][str(k)] for r in runs], 2) if str(k) in runs[0]["perplexity"]
                      else "n/a" for k in lengths(settings)]
            + [round(runs[0]["token_norm"], 2), round(runs[0]["position_norm"], 2)] for name, runs in arms.items()]
    permutation = markdown_table(["arm (seed 0)", "largest change under a permutation, mask removed",
                                  "with its causal mask"],
                                 [[name, f"{runs[0]['permutation_gap']:.1e}", f"{runs[0]['permutation_gap_causal']:.1e}"]
                                  for name, runs in arms.items()])
    return [("Perplexity by evaluated length (mean ± std over seeds; norms: seed 0, after training)",
             markdown_table(header, rows)), ("Permutation equivariance", permutation)]


def run(lab: Lab, settings: PositionSettings) -> Report:
    arms = {}
    for name, fields in ARMS.items():
        runs = []
        for seed in lab.progress(range(settings.seeds), f"{name} seeds"):
            numbers = train_arm(lab, f"{name.replace(' ', '-').replace('(', '').replace(')', '')}-seed{seed}",
                                arm_config(settings, seed, **fields), lm_family("gpt"),
                                measure=lambda model, folder: measure_arm(model, folder, settings))
            runs.append({**numbers, "perplexity": {str(k): v for k, v in
                                                   perplexities(numbers["position_loss"], settings).items()}})
        arms[name] = runs
    gaps = {name: runs[0]["permutation_gap"] for name, runs in arms.items()}  # seed 0, mask removed
    _plot(arms, gaps, settings, lab.path / "positions.png")
    setup = (f"{settings.describe()} The arms differ only in `pos` (and `scale_embeddings` for the last). "
             f"Every arm is evaluated on the same {settings.eval_windows} validation windows of "
             f"{settings.longest * settings.block_size} characters; perplexity at kx is over the first "
             f"k x {settings.block_size} positions. Permutations: 2 validation windows of {settings.block_size} characters "
             f"and one random permutation, fed to each trained model with its mask removed and with it.")
    return Report(setup, {"arms": arms, "permutation_gaps": gaps}, _answer(arms, gaps, settings),
                  _tables(arms, gaps, settings),
                  [("positions.png", "loss by position (seed 0), perplexity by evaluated length, and how much a "
                                     "permutation moves the outputs")])


EXPERIMENT = Experiment("positions", "Which position encodings extrapolate past the training length, is attention "
                        "blind to order without them, and what does the sqrt(d_model) scale do?",
                        "001, 002 Q8-10", PRESETS, run, {"tiny": "15 s", "default": "6.3 min (1 thread)"})
