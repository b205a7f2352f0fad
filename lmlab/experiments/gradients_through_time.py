"""Experiment `gradients-through-time`: does an RNN's gradient vanish with distance, and does the
LSTM's forget gate keep it alive?

Note 004 (§3.2.7) derives that backpropagation through an RNN multiplies the gradient by W_h at
every step (vanishing for |W_h| < 1, exploding for |W_h| > 1), and that the LSTM's cell gradient
is carried by the forget gate, dL/dC_{t-1} ≈ f_t dL/dC_t; 000 and 001 say the gates fight the
vanishing gradient. Measured with lmlab's own cells (`lmlab.nn.rnn`, `recorded_states` exposes
each step's state), L being the loss at the last position of a validation window only:

1. **‖dL/dh_t‖ against distance** T-1-t for an RNN, an LSTM and a GRU language model, at
   initialisation (step 0) and after training, and its per-step factor (a log-linear fit).
   For the LSTM also ‖dL/dc_t‖, the mean forget gate f_t, and how much of dL/dc_{t-1} is the
   forget-gate path f_t ⊙ dL/dc_t.
2. **Spectral radius.** RNNs whose W_hh is rescaled to spectral radius rho (`radii`), against the
   linearised RNN (h = 0, tanh' = 1), whose gradient k steps back is (W_hh^T)^k g exactly.
3. **Clipping.** The same RNNs trained with the global gradient norm clipped at 1 and unclipped:
   validation loss, the largest gradient norm met, steps skipped for a non-finite gradient.
4. **Memory: the copy task** (`lmlab.experiments.copy_task`): accuracy at recalling a key k
   steps back, for each cell and lag k.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lmlab.errors import UserError
from lmlab.experiments import copy_task
from lmlab.experiments.arms import TrainingSettings, recurrent_arm_config, train_arm, validation_batch
from lmlab.experiments.lab import RUNS, Experiment, Lab, Report
from lmlab.experiments.gradients_report import answer, plot, tables
from lmlab.models.rnn_lm import RNNLM, RNNLMConfig
from lmlab.nn.rnn import lstm_gates, recorded_states
from lmlab.recipes.families import LMFamily, like_gpt_presets, lm_family
from lmlab.train.checkpoint import RunFolder

CELLS = ("rnn", "lstm", "gru")


@dataclass
class SpectralRNNConfig(RNNLMConfig):
    spectral_radius: float = 0.0  # rescale each layer's W_hh to this largest |eigenvalue| at initialisation; 0 keeps it


class SpectralRNN(RNNLM):
    """An Elman RNN language model whose recurrent matrices start at a chosen spectral radius."""

    def __init__(self, config: SpectralRNNConfig) -> None:
        if config.cell != "rnn" and config.spectral_radius:
            raise UserError("spectral_radius rescales the Elman RNN's W_hh: use cell=rnn")
        super().__init__(config)
        if config.spectral_radius:
            for layer in range(config.n_layer):
                set_spectral_radius(getattr(self.rnn, f"weight_hh_l{layer}"), config.spectral_radius)


FAMILY = LMFamily("rnn-spectral", "RNN (W_hh at spectral radius rho)", SpectralRNNConfig, SpectralRNN,
                  like_gpt_presets(SpectralRNNConfig(cell="rnn"), SpectralRNNConfig(cell="rnn")))


@dataclass
class GradientSettings(TrainingSettings):
    n_layer: int = 1
    n_embd: int = 64
    n_hidden: int = 128  # width of every recurrent state
    measure_length: int = 50  # T of the validation windows the gradients are measured on: distances 0..T-1
    measure_batch: int = 8  # validation windows per measurement
    radii: str = "0.5,1.0,1.5"  # spectral radii of W_hh for the plain RNN, each trained with clipping at 1
    unclipped: str = "1.5"  # the radii also trained without clipping
    lags: str = "5,10,20,40"  # copy task: how far back the key is
    copy_steps: int = 1000  # training steps per copy-task model
    copy_hidden: int = 32  # state width of the copy-task models
    copy_symbols: int = 8  # the key's alphabet (chance = 1 / copy_symbols)
    copy_distractors: bool = False  # random symbols between the key and the marker instead of a blank
    copy_seeds: int = 2

    def validate(self) -> None:
        super().validate()
        if self.measure_length < 3 or min(_ints(self.lags)) < 1 or self.copy_symbols < 2:
            raise UserError("measure_length must be >= 3, every lag >= 1 and copy_symbols >= 2")


PRESETS = {
    "tiny": GradientSettings(corpus="pydoc", n_embd=16, n_hidden=32, block_size=16, batch_size=8, steps=20,
                             eval_every=10, eval_batches=2, seeds=1, measure_length=24, measure_batch=2,
                             lags="3,10", copy_steps=300, copy_hidden=16, copy_seeds=1, unclipped="1.0"),
    "default": GradientSettings(steps=300, seeds=2),
}


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


# --- the maths ----------------------------------------------------------------------------------
def spectral_radius(weight: torch.Tensor) -> float:
    """The largest |eigenvalue| of a square matrix."""
    return torch.linalg.eigvals(weight.detach().double()).abs().max().item()


def set_spectral_radius(weight: torch.Tensor, rho: float) -> None:
    """Scale a square matrix in place so that its spectral radius is `rho`."""
    with torch.no_grad():
        weight.mul_(rho / spectral_radius(weight))


def linearised_norms(weight_hh: torch.Tensor, length: int, probes: int = 8) -> list[float]:
    """||(W_hh^T)^k u|| for k = 0..length-1, averaged over random unit vectors u: the gradient k steps
    back of an RNN at h = 0 with zero inputs, where tanh' = 1 and each step back is exactly W_hh^T."""
    generator = torch.Generator().manual_seed(0)
    u = torch.randn(probes, weight_hh.size(0), generator=generator, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True)  # (P, H)
    w, norms = weight_hh.detach().double(), []
    for _ in range(length):
        norms.append(u.norm(dim=1).mean().item())
        u = u @ w  # a row vector times W is W^T times the column vector
    return norms


def per_step_factor(norms: list[float]) -> float:
    """exp of the slope of log ||g|| against distance (least squares over distances >= 1 with g > 0):
    the factor the gradient is multiplied by per step back. Distance 0 is left out: it is the
    output's own path, not a step of the recurrence."""
    points = [(d, math.log(g)) for d, g in enumerate(norms) if d >= 1 and g > 0]
    if len(points) < 2:
        return 0.0
    mean_d = sum(d for d, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    slope = (sum((d - mean_d) * (y - mean_y) for d, y in points) / sum((d - mean_d) ** 2 for d, _ in points))
    return math.exp(slope)


def by_distance(grads: torch.Tensor) -> list[float]:
    """grads (B, T, H) -> mean over the batch of ||g_t||, indexed by distance T-1-t from the last position."""
    return grads.norm(dim=2).mean(dim=0).flip(0).tolist()


def last_position_only(targets: torch.Tensor) -> torch.Tensor:
    """targets (B, T) with every position but the last ignored (-1)."""
    kept = torch.full_like(targets, -1)
    kept[:, -1] = targets[:, -1]
    return kept


def state_gradients(model: RNNLM, ids: torch.Tensor, targets: torch.Tensor) -> dict:
    """{"h": dL/dh_t (B, T, H)} (and "c", and the forget gates "f", for an LSTM) of the first layer,
    L the loss at the last position only; f_t from x_t and h_{t-1} as the cell computes it."""
    lstm = model.config.cell == "lstm"
    with torch.enable_grad(), recorded_states(model.rnn) as recorded:
        _, loss = model(ids, last_position_only(targets))
    states = recorded[0]
    hs = [s[0] for s in states] if lstm else states
    cs = [s[1] for s in states] if lstm else []
    grads = torch.autograd.grad(loss, hs + cs)
    found = {"h": torch.stack(grads[: len(hs)], dim=1)}  # (B, T, H)
    if lstm:
        found["c"] = torch.stack(grads[len(hs):], dim=1)
        weights = [getattr(model.rnn, name + "_l0") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        with torch.no_grad():
            x = model.embedding(ids)  # (B, T, n_embd): the first layer's inputs (dropout is 0)
            previous = [torch.zeros_like(hs[0])] + hs[:-1]
            found["f"] = torch.stack([lstm_gates(x[:, t], previous[t], *weights)[1] for t in range(len(hs))], dim=1)
    return found


def gradient_profile(model: RNNLM, ids: torch.Tensor, targets: torch.Tensor) -> dict:
    """The numbers of one measurement: norms by distance, per-step factors, and for an LSTM the mean
    forget gate and the share of dL/dc_{t-1} that the forget-gate path f_t ⊙ dL/dc_t leaves unexplained."""
    found = state_gradients(model, ids, targets)
    h = by_distance(found["h"])
    profile = {"h": h, "h_factor": per_step_factor(h)}
    if "c" in found:
        c, f = found["c"], found["f"]
        rest = c[:, :-1] - f[:, 1:] * c[:, 1:]  # dL/dc_{t-1} - f_t ⊙ dL/dc_t, for t = 1..T-1
        profile.update({"c": by_distance(c), "c_factor": per_step_factor(by_distance(c)),
                        "forget_mean": f.mean().item(),
                        "indirect_share": (rest.norm() / c[:, :-1].norm()).item()})
    if model.config.cell == "rnn":
        profile["spectral_radius"] = spectral_radius(model.rnn.weight_hh_l0)
        profile["linearised"] = linearised_norms(model.rnn.weight_hh_l0, ids.size(1))
        profile["linearised_factor"] = per_step_factor(profile["linearised"])
    return profile


# --- the arms -----------------------------------------------------------------------------------
def _measured(lab: Lab, key: str, settings: GradientSettings, at_start: dict):
    """(watch, measure) for `train_arm`: the gradient profile at step 0 and after training, plus the
    largest gradient norm the Trainer logged and the steps it skipped."""
    def batch(folder, model):
        return validation_batch(folder, settings.measure_length, settings.measure_batch, model.lm_head.weight.device)

    def watch(model, step: int) -> None:
        if step == 0:
            at_start.update(gradient_profile(model, *batch(lab.path / RUNS / key, model)))

    def measure(model, folder) -> dict:
        records = RunFolder(folder).read_metrics()
        curve = [[r["step"], r["grad_norm"]] for r in records if "grad_norm" in r]
        return {"init": dict(at_start), "trained": gradient_profile(model, *batch(folder, model)),
                "grad_curve": curve, "max_grad_norm": max(norm for _, norm in curve if math.isfinite(norm)),
                "skipped_steps": max([r.get("skipped_steps", 0) for r in records] + [0])}
    return watch, measure


def cell_arm(lab: Lab, settings: GradientSettings, cell: str, seed: int) -> dict:
    key = f"{cell}-seed{seed}"
    watch, measure = _measured(lab, key, settings, {})
    config = recurrent_arm_config(settings, seed, cell, settings.n_hidden, carry_state=False)
    return train_arm(lab, key, config, lm_family(cell), measure=measure, watch=watch)


def radius_arm(lab: Lab, settings: GradientSettings, rho: float, clip: bool, seed: int) -> dict:
    """An RNN started at spectral radius rho, trained with clipping at 1 or without (a non-finite
    gradient then skips its step); every step's gradient norm is logged."""
    key = f"rnn-rho{rho:g}-{'clip' if clip else 'noclip'}-seed{seed}"
    watch, measure = _measured(lab, key, settings, {})
    config = recurrent_arm_config(settings, seed, "rnn", settings.n_hidden, SpectralRNNConfig,
                                  carry_state=False, spectral_radius=rho)
    config.train.grad_clip, config.train.on_nan, config.train.log_every = (1.0 if clip else 0.0), "skip", 1
    return train_arm(lab, key, config, FAMILY, measure=measure, watch=watch)


def copy_arm(lab: Lab, settings: GradientSettings, cell: str, lag: int, seed: int) -> dict:
    task = copy_task.CopyTask(lag=lag, symbols=settings.copy_symbols, distractors=settings.copy_distractors,
                              steps=settings.copy_steps, n_hidden=settings.copy_hidden)
    return lab.part(f"copy-{cell}-k{lag}-seed{seed}",
                    lambda folder: copy_task.train_on_copy_task(task, cell, seed, folder, lab.context))


def _setup(settings: GradientSettings) -> str:
    filler = "random symbols" if settings.copy_distractors else "blanks"
    return (f"One-layer RNN, LSTM and GRU language models (n_embd {settings.n_embd}, {settings.n_hidden} units; "
            f"LSTM forget bias 1 as lmlab initialises it), {settings.steps} steps at lr {settings.lr:g}, batch "
            f"{settings.batch_size}, block {settings.block_size}, no carried state, on `{settings.corpus}` "
            f"characters, seeds 0..{settings.seeds - 1}. Gradients: L = the loss at the last position of "
            f"{settings.measure_batch} validation windows of {settings.measure_length} characters; dL/dh_t by "
            f"`torch.autograd.grad` at each step's state (`lmlab.nn.rnn.recorded_states`), ||.|| averaged over the "
            f"windows; per-step factor = exp of the slope of log||dL/dh|| over distances >= 1. RNN arms: W_hh "
            f"rescaled to spectral radius rho, trained with the gradient norm clipped at 1, and for rho = "
            f"{settings.unclipped} also unclipped (non-finite steps skipped). Copy task: key, k - 1 {filler}, marker; "
            f"{settings.copy_symbols} symbols (chance "
            f"{1 / settings.copy_symbols:.3f}), one layer of {settings.copy_hidden} units, {settings.copy_steps} "
            f"steps at lr 3e-3, seeds 0..{settings.copy_seeds - 1}, accuracy on 512 held-out sequences.")


def run(lab: Lab, settings: GradientSettings) -> Report:
    seeds = range(settings.seeds)
    cells = {cell: [cell_arm(lab, settings, cell, seed) for seed in seeds] for cell in CELLS}
    arms = [(rho, True) for rho in _floats(settings.radii)] + [(rho, False) for rho in _floats(settings.unclipped)]
    radii = {f"rho={rho:g}, {'clip' if clip else 'no clip'}": [radius_arm(lab, settings, rho, clip, seed)
                                                                 for seed in seeds] for rho, clip in arms}
    copying = {cell: {lag: [copy_arm(lab, settings, cell, lag, seed)["accuracy"] for seed in range(settings.copy_seeds)]
                      for lag in _ints(settings.lags)} for cell in CELLS}
    numbers = {"cells": cells, "radii": radii, "copy": {cell: {str(k): v for k, v in by_lag.items()}
                                                        for cell, by_lag in copying.items()}}
    plot(cells, radii, copying, settings, lab.path / "gradients-through-time.png")
    return Report(_setup(settings), numbers, answer(cells, radii, copying, settings),
                  tables(cells, radii, copying, settings),
                  [("gradients-through-time.png", "‖dL/dh_t‖ against distance for each cell at step 0 and trained; "
                    "the RNN at spectral radius rho against the linearised (W_hh^T)^k; gradient norms during training "
                    "with and without clipping; copy-task accuracy against k")])


EXPERIMENT = Experiment("gradients-through-time", "Does an RNN's gradient vanish or explode with distance, does the "
                        "LSTM's forget gate keep it, and how far back can each cell remember?", "000, 001, 004 §3.2.7",
                        PRESETS, run, {"tiny": "15 s", "default": "7.4 min loaded"})
