"""The tables, the figure and the answer of `gradients-through-time`, from its numbers.

Every arm (`gradients_through_time`) holds, for each seed, its gradient profile at step 0
("init") and after training ("trained"): ‖dL/dh_t‖ by distance ("h") with its per-step factor
("h_factor"), and for the LSTM the cell state's ("c", "c_factor"), the mean forget gate and the
share of dL/dc_{t-1} the forget-gate path leaves unexplained; for the RNN the spectral radius of
W_hh and the linearised norms ||(W_hh^T)^k u||.
"""

from __future__ import annotations

from lmlab.experiments.lab import markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread, verdict

NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
REMEMBERS = 0.9  # copy-task accuracy at which a cell is said to remember the key k steps back
GROWS = 1.0  # a per-step factor above this grows with distance (explodes), below it vanishes


def _mean(runs: list, stage: str, key: str) -> float:
    return mean_std([run[stage][key] for run in runs])[0]


def _left(runs: list, stage: str, key: str = "h") -> float:
    """Mean over seeds of ||g|| at the farthest distance over ||g|| at distance 1."""
    return mean_std([run[stage][key][-1] / run[stage][key][1] for run in runs])[0]


def clipped_share(runs: list, clip: float = 1.0) -> float:
    """The fraction of training steps (all seeds) whose gradient norm exceeded `clip`: where clipping acts."""
    norms = [norm for run in runs for _, norm in run["grad_curve"]]
    return sum(not norm <= clip for norm in norms) / len(norms)  # a nan or inf norm counts as exceeding


def _kind(factor: float) -> str:
    return "grows (explodes)" if factor > GROWS else "shrinks (vanishes)"


def remembered(by_lag: dict) -> int | None:
    """The largest lag k whose mean accuracy reaches REMEMBERS, with every shorter lag reaching it too."""
    best = None
    for lag in sorted(by_lag):
        if mean_std(by_lag[lag])[0] < REMEMBERS:
            break
        best = lag
    return best


def _cell_answer(cells: dict, settings) -> list[str]:
    D = settings.measure_length - 1
    parts = {stage: ", ".join(f"{NAMES[c]} {_mean(runs, stage, 'h_factor'):.3f} ({_left(runs, stage):.1e} left at "
                              f"distance {D})" for c, runs in cells.items()) for stage in ("init", "trained")}
    order = sorted(cells, key=lambda c: _mean(cells[c], "trained", "h_factor"))
    answer = [f"Per step back, ‖dL/dh_t‖ is multiplied by: at step 0 {parts['init']}; after {settings.steps} steps "
              f"{parts['trained']}. Trained, the {NAMES[order[0]]}'s gradient fades fastest and the "
              f"{NAMES[order[-1]]}'s slowest on average; the most is left at distance {D} in the "
              f"{NAMES[max(cells, key=lambda c: _left(cells[c], 'trained'))]}'s (the fit averages over distances)."]
    rnn = cells["rnn"]
    rho, trained_rho = _mean(rnn, "init", "spectral_radius"), _mean(rnn, "trained", "spectral_radius")
    answer.append(f"PyTorch's initialisation U(±1/sqrt(H)) gives the RNN's W_hh a spectral radius of {rho:.2f} "
                  f"(H = {settings.n_hidden}): the plain RNN starts in the vanishing regime (< 1). Training takes it "
                  f"to {trained_rho:.2f}, where the linearised RNN's gradient would grow "
                  f"{_mean(rnn, 'trained', 'linearised_factor'):.2f}x per step, yet on text it "
                  f"{_kind(_mean(rnn, 'trained', 'h_factor'))} ({_mean(rnn, 'trained', 'h_factor'):.3f} per step): "
                  f"the tanh derivatives diag(1 - h^2), not W_hh alone, set the rate.")
    lstm = cells["lstm"]
    f_init, f_trained = _mean(lstm, "init", "forget_mean"), _mean(lstm, "trained", "forget_mean")
    c_trained, rest = _mean(lstm, "trained", "c_factor"), _mean(lstm, "trained", "indirect_share")
    answer.append(f"LSTM: the mean forget gate is {f_init:.3f} at step 0 (forget bias 1) and {f_trained:.3f} trained; "
                  f"the cell gradient ‖dL/dc_t‖ is multiplied by {c_trained:.3f} per step (trained). The forget-gate "
                  f"path f_t ⊙ dL/dc_t leaves {rest:.0%} of dL/dc_(t-1) unexplained, so the notes' "
                  f"dL/dC_(t-1) ≈ f_t "
                  + ("holds to a good approximation." if rest < 0.25 else "is only a rough approximation here."))
    return answer


def _radius_answer(radii: dict) -> list[str]:
    clipped = {name: runs for name, runs in radii.items() if name.endswith(", clip")}
    linear = ", ".join(f"{name.split(',')[0]}: {_mean(runs, 'init', 'linearised_factor'):.3f}"
                       for name, runs in clipped.items())
    on_text = {name.split(",")[0]: _mean(runs, "init", "h_factor") for name, runs in clipped.items()}
    text = ", ".join(f"{rho}: {factor:.3f} ({_kind(factor)})" for rho, factor in on_text.items())
    answer = [f"Linearised (h = 0, tanh' = 1) the gradient's per-step factor is the spectral radius: {linear}. On "
              f"text at step 0, where tanh saturates and each step also multiplies by diag(1 - h^2) < 1: {text}."]
    for name, runs in clipped.items():
        rho = name.split(",")[0]
        if f"{rho}, no clip" not in radii:
            continue
        free = radii[f"{rho}, no clip"]
        answer.append(verdict("clipped", [r["val_loss"] for r in runs], "unclipped", [r["val_loss"] for r in free],
                              f"{rho}, validation loss clipped at 1 vs unclipped")
                      + f" Clipping acted on {clipped_share(runs):.0%} of the steps; largest gradient norm met: "
                        f"{max(r['max_grad_norm'] for r in free):.3g} unclipped, {max(r['max_grad_norm'] for r in runs):.3g} "
                        f"clipped (before clipping); steps skipped for a non-finite gradient: "
                        f"{sum(r['skipped_steps'] for r in free)} unclipped.")
    return answer


def _copy_answer(copying: dict, settings) -> list[str]:
    reach = {cell: remembered(by_lag) for cell, by_lag in copying.items()}
    longest = max(next(iter(copying.values())))
    said = ", ".join(f"{NAMES[c]} {'none' if k is None else f'k = {k}'}" for c, k in reach.items())
    at_longest = ", ".join(f"{NAMES[c]} {spread(by_lag[longest], 2)}" for c, by_lag in copying.items())
    gated = max((reach[c] or 0) for c in ("lstm", "gru"))
    return [f"Copy task: the longest lag recalled with accuracy >= {REMEMBERS} (mean over seeds, every shorter lag "
            f"too): {said}; at k = {longest}: {at_longest} (chance {1 / settings.copy_symbols:.3f}). "
            + ("A gated cell remembers further back than the plain RNN." if gated > (reach["rnn"] or 0)
               else "No gated cell remembered further back than the plain RNN in this budget.")]


def answer(cells: dict, radii: dict, copying: dict, settings) -> list[str]:
    return _cell_answer(cells, settings) + _radius_answer(radii) + _copy_answer(copying, settings)


def tables(cells: dict, radii: dict, copying: dict, settings) -> list[tuple[str, str]]:
    D = settings.measure_length - 1
    cell_rows = [[NAMES[c], f"{_mean(runs, 'init', 'h_factor'):.3f}", f"{_mean(runs, 'trained', 'h_factor'):.3f}",
                  f"{_left(runs, 'init'):.1e}", f"{_left(runs, 'trained'):.1e}", spread([r["val_loss"] for r in runs])]
                 for c, runs in cells.items()]
    lstm = cells["lstm"]
    lstm_rows = [[stage, f"{_mean(lstm, stage, 'forget_mean'):.3f}", f"{_mean(lstm, stage, 'c_factor'):.3f}",
                  f"{_left(lstm, stage, 'c'):.1e}", f"{_mean(lstm, stage, 'indirect_share'):.0%}"]
                 for stage in ("init", "trained")]
    radius_rows = [[name, f"{_mean(runs, 'init', 'spectral_radius'):.2f} -> "
                          f"{_mean(runs, 'trained', 'spectral_radius'):.2f}",
                    f"{_mean(runs, 'init', 'linearised_factor'):.3f}",
                    f"{_mean(runs, 'init', 'h_factor'):.3f}", f"{_mean(runs, 'trained', 'h_factor'):.3f}",
                    f"{max(r['max_grad_norm'] for r in runs):.3g}", f"{clipped_share(runs):.0%}",
                    str(sum(r["skipped_steps"] for r in runs)),
                    spread([r["val_loss"] for r in runs])] for name, runs in radii.items()]
    lags = sorted(next(iter(copying.values())))
    copy_rows = [[NAMES[c]] + [spread(by_lag[k], 2) for k in lags] for c, by_lag in copying.items()]
    return [(f"‖dL/dh_t‖ per step back (mean over seeds): factor, and what is left at distance {D} over distance 1",
             markdown_table(["cell", "factor, step 0", "factor, trained", f"left at {D}, step 0",
                             f"left at {D}, trained", "validation loss"], cell_rows)),
            ("LSTM cell state: the forget gate and dL/dc_t",
             markdown_table(["LSTM", "mean forget gate", "‖dL/dc‖ factor", f"left at {D}",
                             "dL/dc_(t-1) not explained by f_t dL/dc_t"], lstm_rows)),
            ("RNN at spectral radius rho, trained clipped at 1 or unclipped (gradient norms before clipping)",
             markdown_table(["arm", "spectral radius, step 0 -> trained", "factor, linearised (step 0)", "factor on text, step 0",
                             "factor, trained", "largest gradient norm", "steps with norm > 1", "skipped steps",
                             "validation loss"],
                            radius_rows)),
            ("Copy task: accuracy at recalling the key k steps back (mean ± std over seeds)",
             markdown_table(["cell"] + [f"k = {k}" for k in lags], copy_rows))]


def plot(cells: dict, radii: dict, copying: dict, settings, path) -> None:
    fig, axes = figure(1, 4, size=(4.2, 3.6))
    for cell, runs in cells.items():
        line, = axes[0, 0].plot(runs[0]["trained"]["h"], label=f"{NAMES[cell]}, trained")
        axes[0, 0].plot(runs[0]["init"]["h"], "--", color=line.get_color(), label=f"{NAMES[cell]}, step 0")
    axes[0, 0].set(yscale="log", xlabel="distance from the last position", ylabel="‖dL/dh_t‖", title="the cells (seed 0)")
    for name, runs in radii.items():
        if not name.endswith(", clip"):
            continue
        rho = name.split(",")[0]
        text, linear = runs[0]["init"]["h"], runs[0]["init"]["linearised"]
        line, = axes[0, 1].plot([g / text[0] for g in text], label=f"{rho}, on text")
        axes[0, 1].plot([g / linear[0] for g in linear], ":", color=line.get_color(), label=f"{rho}, linearised")
        axes[0, 2].plot(*zip(*runs[0]["grad_curve"]), "-", color=line.get_color(), label=name)
        if f"{rho}, no clip" in radii:
            axes[0, 2].plot(*zip(*radii[f"{rho}, no clip"][0]["grad_curve"]), "--", color=line.get_color(),
                            label=f"{rho}, no clip")
    axes[0, 1].set(yscale="log", xlabel="distance", ylabel="‖dL/dh_t‖ / its value at distance 0 (RNN, step 0)",
                   title="spectral radius of W_hh")
    axes[0, 2].set(yscale="log", xlabel="step", ylabel="gradient norm before clipping", title="clipping at 1 (seed 0)")
    for cell, by_lag in copying.items():
        lags = sorted(by_lag)
        means = [mean_std(by_lag[k]) for k in lags]
        axes[0, 3].errorbar(lags, [m for m, _ in means], yerr=[s for _, s in means], fmt="o-", capsize=3,
                            label=NAMES[cell])
    axes[0, 3].axhline(1 / settings.copy_symbols, color="black", linestyle=":", label="chance")
    axes[0, 3].set(xscale="log", xlabel="lag k", ylabel="accuracy", title="copy task", ylim=(0, 1.05))
    axes[0, 3].set_xticks(lags, labels=[str(k) for k in lags])
    axes[0, 3].tick_params(which="minor", labelbottom=False)
    save_figure(fig, axes, path)
