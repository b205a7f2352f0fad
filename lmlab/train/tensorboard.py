"""TensorBoard: the numbers of metrics.jsonl as scalars in RUN/tensorboard/ (`--set logger=tensorboard`).

metrics.jsonl is always written; this logger writes the same records a second time, as the event
files `tensorboard --logdir RUN/tensorboard` plots. Each known key of a record becomes one scalar
at the record's step:

    train_loss -> train/loss      val_loss -> val/loss        lr -> lr
    tokens_per_s -> tokens_per_s  grad_norm -> grad_norm      dev_accuracy, dev_f1 -> val/accuracy, val/f1

A resumed run appends a new event file beside the old ones, opened with ``purge_step`` = the first
step it will log: TensorBoard then drops what the old files hold from that step on, the steps that
were trained after the last checkpoint and are trained again (metrics.jsonl forgets them too).
The writer is `torch.utils.tensorboard.SummaryWriter`, which needs the ``tensorboard`` package
(``pip install lmlab[tensorboard]``); it is imported only when this logger is chosen.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

from lmlab.errors import UserError

FOLDER = "tensorboard"  # inside the run folder
TAGS = {"train_loss": "train/loss", "val_loss": "val/loss", "lr": "lr", "tokens_per_s": "tokens_per_s",
        "grad_norm": "grad_norm", "dev_accuracy": "val/accuracy", "dev_f1": "val/f1"}
MISSING = "--set logger=tensorboard needs the tensorboard package: pip install lmlab[tensorboard]"


def check_available() -> None:
    """Refuse logger=tensorboard before any work when the package is missing (nothing is imported)."""
    if importlib.util.find_spec("tensorboard") is None:
        raise UserError(MISSING)


def scalars(record: dict) -> dict[str, float]:
    """The TensorBoard tags of a metrics.jsonl record and their values (finite numbers only)."""
    return {tag: float(record[key]) for key, tag in TAGS.items()
            if isinstance(record.get(key), (int, float)) and math.isfinite(record[key])}


class TensorBoardLog:
    """Writes records as scalars into `run_path`/tensorboard; `purge_step`: the first step of a resumed run."""

    def __init__(self, run_path: Path, purge_step: int | None = None) -> None:
        check_available()
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(run_path) / FOLDER
        self.writer = SummaryWriter(str(self.folder), purge_step=purge_step)

    def write(self, record: dict) -> None:
        for tag, value in scalars(record).items():
            self.writer.add_scalar(tag, value, record["step"])

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def write_records(run_path: Path, records: list[dict]) -> None:
    """The records of a run fitted in one pass (n-gram counts, lexicon, perceptron), written at once."""
    log = TensorBoardLog(run_path)
    for record in records:
        log.write(record)
    log.close()
