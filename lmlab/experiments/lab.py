"""The lab's frame: what an experiment declares, what it is given, and what it hands back.

An experiment (one module of `lmlab.experiments`) is three things:

    EXPERIMENT = Experiment(name, question, notes, presets, run, runtime)
    run(lab, settings) -> Report      # measure, then state the answer from the numbers

`Lab` is what `run` works with: the run folder, the device, and `lab.part(key, compute)`, which
runs one sub-run (one arm, one seed) and keeps its numbers in ``parts/KEY.json``. A finished part
is never computed twice: Ctrl-C stops the experiment with the finished parts on disk, and
``--resume`` reads them back instead of running them again. The report's answer is a list of
sentences the experiment builds from its numbers by a rule stated in its code, never a fixed text.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from tqdm.auto import tqdm

from lmlab.io import atomic_write_json

PARTS = "parts"  # finished sub-runs' numbers, one JSON file each
RUNS = "runs"  # sub-runs' own folders (a trained model's run folder, say)


@dataclass(frozen=True)
class Experiment:
    """One question of the notes, answered by measurement."""

    name: str  # `lmlab experiment run NAME`
    question: str  # one line, as a student asks it
    notes: str  # where the notes ask it, e.g. "000, 002 Q4"
    presets: dict  # "tiny" and "default": the experiment's settings dataclass (with a `seeds` field)
    run: Callable[["Lab", Any], "Report"]  # measure and answer
    runtime: dict  # measured run time of each preset on a 2-core CPU, e.g. {"tiny": "5 s", "default": "4 min"}


@dataclass
class Report:
    """What an experiment found: the numbers, how they were obtained, and the answer they give."""

    setup: str  # what was measured and how (Markdown)
    numbers: dict  # every number, for results.json
    answer: list[str]  # sentences computed from the numbers
    tables: list[tuple[str, str]] = field(default_factory=list)  # (title, Markdown table)
    plots: list[tuple[str, str]] = field(default_factory=list)  # (PNG file in the run folder, caption)


class Lab:
    """The run folder of one experiment, its device, and its finished sub-runs."""

    def __init__(self, path: Path, context) -> None:
        self.path = Path(path)
        self.context = context  # `lmlab.train.distributed.Context`: one process
        self.device = context.device
        self.computed = 0  # parts computed in this session (the others came from disk)
        (self.path / PARTS).mkdir(parents=True, exist_ok=True)

    def finished_parts(self) -> list[str]:
        return sorted(p.stem for p in (self.path / PARTS).glob("*.json"))

    def part(self, key: str, compute: Callable[[Path], dict]) -> dict:
        """The numbers of sub-run `key`: read back if it finished before, else `compute(folder)`
        in a fresh folder runs/KEY and saved. An interrupted sub-run leaves no part and starts over."""
        saved = self.path / PARTS / f"{key}.json"
        if saved.is_file():
            return json.loads(saved.read_text(encoding="utf-8"))
        folder = self.path / RUNS / key
        if folder.exists():
            shutil.rmtree(folder)  # a sub-run that did not finish: its files are not trusted
        numbers = compute(folder)
        atomic_write_json(saved, numbers, indent=1)
        self.computed += 1
        return numbers

    def progress(self, items: Iterable, description: str, total: int | None = None):
        """A progress bar on stderr over a long loop."""
        return tqdm(items, desc=description, total=total, file=sys.stderr, leave=False,
                    disable=not sys.stderr.isatty())


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table: text columns left-aligned, the others right-aligned (by the first row)."""
    aligns = ["---" if isinstance(cell, str) else "---:" for cell in rows[0]] if rows else ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def report_markdown(experiment: Experiment, report: Report, command: str, footer: str) -> str:
    """report.md: the question, the set-up, the tables, the plots, the answer, the command."""
    parts = [f"# {experiment.name}\n", f"**Question** (notes {experiment.notes}): {experiment.question}\n",
             f"## Set-up\n\n{report.setup}\n", "## Results\n"]
    for title, table in report.tables:
        parts.append(f"**{title}**\n\n{table}")
    for png, caption in report.plots:
        parts.append(f"![{caption}]({png})\n\n*{caption}*\n")
    parts.append("## Answer\n\n" + "".join(f"- {sentence}\n" for sentence in report.answer))
    parts.append(f"```\n{command}\n```\n\n{footer}\n")
    return "\n".join(parts)
