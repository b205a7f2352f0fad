"""`lmlab runs` and `lmlab plot`: look at finished (or running) runs side by side.

`lmlab runs DIR` prints one row per run folder under DIR (`lmlab.run_summary`); `lmlab plot RUN ...
--metric val_loss --out curves.png` overlays one metric of several runs (`lmlab.viz.plot_curves`)
and writes the numbers it drew to curves.json, smoothed as `--smooth` says
(`lmlab.run_summary.moving_average`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from lmlab.errors import UserError
from lmlab.io import atomic_write_json
from lmlab.outputs import claim_file
from lmlab.recipes.common import say
from lmlab.recipes.options import PlotOptions, RunsOptions
from lmlab.run_summary import RunSummary, metric_curve, moving_average, summarize_runs

COLUMNS = ("path", "kind", "model", "params", "steps", "best metric", "wall time")


def runs_command(options: RunsOptions) -> None:
    rows = summarize_runs(options.dir)
    if options.json:
        print(json.dumps([dataclasses.asdict(row) for row in rows]))
        return
    if not rows:
        say(f"no run folders under {options.dir}")
        return
    print(runs_table(rows))


def runs_table(rows: list[RunSummary]) -> str:
    """The rows as aligned text columns; a folder's note follows its row, indented."""
    cells = [COLUMNS] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for index, line in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
        if index and rows[index - 1].note:
            lines.append(f"    note: {rows[index - 1].note}")
    return "\n".join(lines)


def _cells(row: RunSummary) -> tuple[str, ...]:
    best = "-" if row.best_metric is None else f"{row.best_metric}={row.best_value:.4g}"
    return (row.path, row.kind, row.model or "-", _or_dash(row.parameters, "{:,}"), _or_dash(row.steps, "{:,}"),
            best, "-" if row.wall_seconds is None else duration(row.wall_seconds))


def _or_dash(value, form: str) -> str:
    return "-" if value is None else form.format(value)


def duration(seconds: float) -> str:
    """0.5s, 12.3s, 4m05s, 2h03m: short, three significant figures at most."""
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def plot_command(options: PlotOptions) -> None:
    from lmlab.viz import plot_curves

    out = Path(options.out)
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out}: give a .png file name (the plotted numbers go beside it, as .json)")
    curves = run_curves(options.runs, options.metric, options.smooth)
    if options.log_y and any(value <= 0 for curve in curves for value in curve["values"]):
        raise UserError(f"--log-y: {options.metric} has values <= 0, which a logarithmic axis cannot show")
    data_path = claim_file(out.with_suffix(".json"), options.force)
    claim_file(out, options.force)
    plot_curves(curves, options.metric, out, options.log_y)
    atomic_write_json(data_path, {"metric": options.metric, "smooth": options.smooth, "log_y": options.log_y,
                                  "runs": curves}, indent=1)
    say(f"wrote {out} and {data_path}: {options.metric} of {len(curves)} run{'s' * (len(curves) > 1)}")


def run_curves(runs: list[str], metric: str, window: int) -> list[dict]:
    """Per run: its label (the folder's name; the path where two share a name), steps, the values drawn
    (smoothed over `window` points) and the raw values."""
    names = [Path(run).resolve().name for run in runs]
    curves = []
    for run, name in zip(runs, names):
        steps, raw = metric_curve(run, metric)
        curves.append({"run": str(run), "label": name if names.count(name) == 1 else str(run), "steps": steps,
                       "values": moving_average(raw, window), "raw": raw})
    return curves
