"""The options of `lmlab experiment list | run`: one dataclass each, the field comments their --help.

Torch-free, like `lmlab.recipes.options`: building the arguments imports no model. Each experiment
has its own settings dataclass and presets (`lmlab.experiments`), so `--set` takes that
experiment's keys and `--seeds` overrides its preset's number of seeds.
"""

from __future__ import annotations

from dataclasses import field
from typing import ClassVar, Literal, Optional

from lmlab.config import flag, from_config, positional
from lmlab.recipes.options import OnDevice, options


@options
class ExperimentListOptions:
    """List the experiments of the lab: name, the question it answers, the notes it comes from, and
    the measured run time of each preset."""

    json: bool = False  # print one JSON array on stdout


@options
class ExperimentRunOptions(OnDevice):
    """Run one experiment (or `all`) and write a run folder of kind `experiment`: results.json (every
    number, setting, seed and version), report.md (question, set-up, tables, plots, the answer
    computed from the numbers) and PNG plots. Ctrl-C keeps the finished sub-runs; --resume skips
    them."""

    default_preset: ClassVar[str] = "default"

    name: str = field(metadata=positional())  # the experiment (see `lmlab experiment list`), or all
    preset: Optional[Literal["tiny", "default"]] = None  # tiny runs in seconds (the tests); default in minutes
    seeds: Optional[int] = field(default=None, metadata=from_config("seeds"))  # seeds per arm (default: the
    # preset's)
    out: Optional[str] = None  # run folder to write (default: runs/experiment-NAME-PRESET; with all, one
    # sub-folder per experiment)
    overrides: list[str] = field(default_factory=list, metadata=flag("--set", "KEY=VALUE"))  # override one
    # setting of the experiment, e.g. --set steps=100 (repeatable)
    json: bool = False  # print the results as one JSON object on stdout
    resume: bool = False  # continue the experiment in --out: finished sub-runs are kept, the rest run
