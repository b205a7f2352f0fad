"""Recipe: `lmlab experiment list | run`, the lab's command line.

    NAME -> its settings (preset, then --seeds, then --set; or the saved ones with --resume)
         -> config.json (kind `experiment`) -> experiment.run(lab, settings) -> Report
         -> results.json, report.md (and the PNG plots the experiment drew)

config.json is written before anything runs, so an interrupted experiment can be resumed: its
finished sub-runs are in parts/ and `--resume` reads them back instead of running them again.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from pathlib import Path

from lmlab import __version__
from lmlab.config import config_from_dict, config_to_dict
from lmlab.errors import UserError
from lmlab.experiments import CATALOG, experiment, experiments
from lmlab.experiments.lab import Experiment, Lab, report_markdown
from lmlab.io import atomic_write_json, atomic_write_text
from lmlab.recipes.common import resolve_config, resume_config, saved_run, say
from lmlab.recipes.experiment_options import ExperimentListOptions, ExperimentRunOptions
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder


def list_command(options: ExperimentListOptions) -> None:
    rows = [{"name": e.name, "question": e.question, "notes": e.notes, "runtime": e.runtime} for e in experiments()]
    if options.json:
        print(json.dumps(rows))
        return
    for row in rows:
        times = ", ".join(f"{preset} {seconds}" for preset, seconds in row["runtime"].items())
        print(f"{row['name']:<20} {row['question']}\n{'':<20} notes {row['notes']}; run time: {times}")


def _settings(chosen: Experiment, options: ExperimentRunOptions, run: RunFolder):
    """(settings, preset): from the preset and the options, or the saved run's with --resume."""
    saved = saved_run(run, options, "experiment", "lmlab experiment run --resume")
    if saved is None:
        return resolve_config(chosen.presets, options, ExperimentRunOptions.default_preset), \
            options.preset or ExperimentRunOptions.default_preset
    if saved["experiment"] != chosen.name:
        raise UserError(f"--resume: {run.path} holds the experiment {saved['experiment']!r}, not {chosen.name!r}")
    settings_class = type(chosen.presets[saved["preset"]])
    settings = config_from_dict(settings_class, saved["settings"], str(run.config_path))
    return resume_config(settings, options, str(run.path), saved["preset"]), saved["preset"]


def _command_line(name: str, preset: str, options: ExperimentRunOptions, out: Path) -> str:
    words = [f"lmlab experiment run {name} --preset {preset}", f"--out {out}"]
    words += [f"--seeds {options.seeds}"] if options.seeds else []
    return " ".join(words + [f"--set {a}" for a in options.overrides])


def run_experiment(chosen: Experiment, options: ExperimentRunOptions, out: Path, context) -> dict:
    """Run one experiment into `out`; its results (what results.json holds)."""
    import torch

    run = RunFolder(out)
    settings, preset = _settings(chosen, options, run)
    if not options.resume:
        run.write_config({"kind": "experiment", "experiment": chosen.name, "preset": preset,
                          "settings": config_to_dict(settings)})
    lab, started, cpu_started = Lab(out, context), time.perf_counter(), time.process_time()
    say(f"--- experiment {chosen.name} ({preset} preset) into {out}"
        f"{f', {len(lab.finished_parts())} finished sub-runs kept' if options.resume else ''}")
    try:
        report = chosen.run(lab, settings)
    except KeyboardInterrupt:
        say(f"interrupted: {len(lab.finished_parts())} finished sub-runs kept in {out / 'parts'}; continue with "
            f"{_command_line(chosen.name, preset, options, out)} --resume")
        raise
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started  # on one thread, what a quiet core takes
    command = _command_line(chosen.name, preset, options, out)
    results = {"experiment": chosen.name, "question": chosen.question, "notes": chosen.notes, "command": command,
               "preset": preset, "settings": dataclasses.asdict(settings), "seeds": list(range(settings.seeds)),
               "versions": {"lmlab": __version__, "torch": torch.__version__, "python": platform.python_version()},
               "device": str(context.device), "threads": torch.get_num_threads(), "seconds": seconds,
               "cpu_seconds": cpu_seconds, "sub_runs_computed": lab.computed, "numbers": report.numbers, "answer": report.answer}
    footer = (f"lmlab {__version__}, torch {torch.__version__}, device `{context.device}` with "
              f"{torch.get_num_threads()} thread(s); {seconds:.0f} s, {cpu_seconds:.0f} s of CPU time ({lab.computed} "
              f"sub-runs computed in this session).")
    atomic_write_json(out / "results.json", results, indent=1)
    atomic_write_text(out / "report.md", report_markdown(chosen, report, command, footer))
    say(f"wrote {out / 'report.md'} and results.json; the answer:\n" + "\n".join(f"  {a}" for a in report.answer))
    return results


def run_command(options: ExperimentRunOptions) -> None:
    names = list(CATALOG) if options.name == "all" else [options.name]
    chosen = [experiment(name) for name in names]
    if options.name == "all" and options.overrides:
        raise UserError("--set names the settings of one experiment: give its NAME instead of all")
    if options.seeds is not None and options.seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {options.seeds}")
    preset = options.preset or ExperimentRunOptions.default_preset
    root = Path(options.out) if options.out else None
    context = distributed.setup(options.device)
    if context.distributed:
        raise UserError("lmlab experiment runs in one process: start it without torchrun")
    results = []
    for one in chosen:
        out = root / one.name if root and len(chosen) > 1 else root or Path(f"runs/experiment-{one.name}-{preset}")
        results.append(run_experiment(one, options, out, context))
    if options.json:
        print(json.dumps(results[0] if len(results) == 1 else results))
