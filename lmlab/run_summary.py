"""What each run folder holds, in one row (`lmlab runs`), and one metric's curve (`lmlab plot`).

Every kind keeps its numbers in its own files; a row reads them the same way for all:

    kind              model              best metric                        wall time
    lm, seq2seq,      the family         min val_loss         metrics.jsonl  elapsed_s of the last record
    bert-pretrain                                                            (n-gram: count_seconds)
    classifier        the family         max dev_accuracy     metrics.jsonl  elapsed_s (lexicon, perceptron:
                                                                             seconds)
    word2vec          its architecture   - (nothing held out)                seconds
    experiment        the experiment     - (see its report)                  seconds in results.json
    compare           the families       min val_perplexity   compare.json   seconds in compare.json
    classify-compare  the families       max accuracy         compare.json   the families' train_seconds

Parameters are the model's own count (`num_parameters`: what `lmlab profile` and `lmlab compare`
report; the n-gram model's is its distinct n-grams), word vectors count their table. A value a
folder does not hold is None ("-" in the table). A folder that cannot be read is still a row,
with a one-line note saying why, so one broken run never hides the others.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from lmlab.errors import UserError
from lmlab.outputs import MARKER, folder_kind
from lmlab.runs import load_run
from lmlab.train.checkpoint import RunFolder

# the best validation metric of each kind that trains a model: (metrics.jsonl key, best = min or max)
BEST = {"lm": ("val_loss", min), "seq2seq": ("val_loss", min), "bert-pretrain": ("val_loss", min),
        "classifier": ("dev_accuracy", max)}
WALL_KEYS = ("elapsed_s", "seconds", "count_seconds")  # metrics.jsonl keys that hold seconds of training
TABLES = {"compare": ("compare.json", "family", "val_perplexity", min),  # file, model key, best key, best
          "classify-compare": ("compare.json", "model", "accuracy", max)}


@dataclass
class RunSummary:
    """One run folder, as `lmlab runs` lists it; None where the folder does not hold the value."""

    path: str  # the folder, as found under the searched one
    kind: str  # config.json's kind (or the marker's); "?" when neither can be read
    model: str | None = None  # the family (gpt, bow, ...), word2vec's architecture, the experiment, the compared
    parameters: int | None = None  # the model's own count (`num_parameters`)
    steps: int | None = None  # the last step in metrics.jsonl
    best_metric: str | None = None  # e.g. "val_loss"
    best_value: float | None = None  # its best value over the run (the lowest loss, the highest accuracy)
    wall_seconds: float | None = None  # seconds of training (or of the whole comparison or experiment)
    note: str = ""  # why a value is missing: a file that is absent or cannot be read


def find_runs(root) -> list[Path]:
    """Every lmlab folder under `root` (itself included), sorted by path; hidden folders are skipped."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        path = Path(folder)
        if folder_kind(path) is not None or _corrupt_run(path, files):
            found.append(path)
    return sorted(found)


def _corrupt_run(path: Path, files: list[str]) -> bool:
    """A config.json that is not JSON, beside the weights or the metrics: a run, broken."""
    if "config.json" not in files or not {"model.safetensors", "metrics.jsonl", MARKER} & set(files):
        return False
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return False


def summarize_runs(root) -> list[RunSummary]:
    """One row per run folder under `root`, sorted by path."""
    return [summarize(path) for path in find_runs(root)]


def summarize(path) -> RunSummary:
    """The row of one folder; what cannot be read is left None and said in `note`."""
    path = Path(path)
    row = RunSummary(str(path), folder_kind(path) or "?")
    reader = _table_folder if row.kind in TABLES else _experiment if row.kind == "experiment" else _model_run
    try:
        reader(path, row)
    except (UserError, OSError, ValueError, KeyError, TypeError, AttributeError) as error:  # a folder
        # with a broken or foreign file (a section missing, of the wrong type) is a row with a note, never a crash
        row.note = " ".join(str(error).split())[:160]
    return row


def _model_run(path: Path, row: RunSummary) -> None:
    folder = RunFolder(path)
    records = folder.read_metrics()
    _from_metrics(row, records)  # first: a run whose config.json is broken still shows its numbers
    config = folder.read_config()
    row.kind = config["kind"]
    row.model = config.get("family") or config.get("word2vec", {}).get("arch")
    _from_metrics(row, records)  # again with the kind config.json says (runs of lmlab 0.1.0 have no marker)
    row.parameters = _parameters(load_run(path))  # last: a run whose weights are broken keeps its numbers


def _from_metrics(row: RunSummary, records: list[dict]) -> None:
    """Steps, wall time and the best validation metric of the kind, from metrics.jsonl's records."""
    steps = [r["step"] for r in records if _is_number(r.get("step"))] or \
            [r["steps"] for r in records if _is_number(r.get("steps"))]  # word2vec: one record of its batches
    row.steps = max(steps) if steps else None
    row.wall_seconds = max((r[k] for r in records for k in WALL_KEYS if _is_number(r.get(k))), default=None)
    if row.kind in BEST:
        key, best = BEST[row.kind]
        values = [r[key] for r in records if _is_number(r.get(key))]
        if values:
            row.best_metric, row.best_value = key, best(values)


def _parameters(run) -> int:
    if run.kind == "word2vec":
        return run.model.vectors.numel()  # the (words, dim) table
    return run.model.num_parameters()


def _experiment(path: Path, row: RunSummary) -> None:
    row.model = RunFolder(path).read_config(expect="experiment")["experiment"]
    results = _read_json(path / "results.json")
    row.wall_seconds = results.get("seconds")


def _table_folder(path: Path, row: RunSummary) -> None:
    """A comparison: its folder holds one sub-run per family (each listed as its own row) and a table."""
    name, model_key, key, best = TABLES[row.kind]
    table = _read_json(path / name)
    rows = [r for r in table.get("rows", []) if isinstance(r, dict)]
    row.model = ",".join(str(r.get(model_key)) for r in rows)
    values = [r[key] for r in rows if _is_number(r.get(key))]
    if values:
        row.best_metric, row.best_value = key, best(values)
    seconds = [r["train_seconds"] for r in rows if _is_number(r.get("train_seconds"))]
    row.wall_seconds = table["seconds"] if _is_number(table.get("seconds")) else sum(seconds) if seconds else None


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"{path.name} is missing (unfinished, or still running)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path.name}: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise UserError(f"{path.name}: not a JSON object")
    return document


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- curves: one metric of one run against the step ----------------------------------------------------
def metric_names(records: list[dict]) -> list[str]:
    """The numeric keys of metrics.jsonl records that have a step: what `lmlab plot --metric` can draw."""
    return sorted({key for r in records if _is_number(r.get("step")) for key, value in r.items()
                   if key != "step" and _is_number(value)})


def metric_curve(path, metric: str) -> tuple[list[int], list[float]]:
    """(steps, values) of `metric` in the run's metrics.jsonl, in the order logged; a metric the run
    does not have is refused with the list of those it has."""
    folder = RunFolder(path)
    folder.read_config()  # a missing or foreign folder is refused here, by name
    records = folder.read_metrics()
    points = [(r["step"], r[metric]) for r in records if _is_number(r.get("step")) and _is_number(r.get(metric))]
    if not points:
        have = metric_names(records)
        raise UserError(f"--metric {metric}: {folder.path} has no such metric in metrics.jsonl (it has "
                        f"{', '.join(have) if have else 'no metrics with a step'})")
    steps, values = zip(*points)
    return list(steps), list(values)


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing moving average: point i is the mean of the last `window` values up to i (fewer at
    the start, where fewer exist), so a curve keeps its length and never looks ahead. window=1: as is.

    >>> moving_average([1.0, 2.0, 3.0, 4.0], 2)
    [1.0, 1.5, 2.5, 3.5]
    """
    if window < 1:
        raise UserError(f"--smooth must be at least 1, got {window}")
    return [sum(values[max(0, i + 1 - window):i + 1]) / min(i + 1, window) for i in range(len(values))]
