"""What every training recipe does the same way: resolve its configuration, resume, run distributed.

    preset (--preset, or the recipe's default)
      -> the command's own options that set a config field (--max-steps, --seed, --tokenizer ...)
      -> --set key=value
      -> validation
    = the run's configuration, saved in config.json

`--resume` starts from the saved configuration instead and applies the same options on top: an
option that agrees with the run (the command line that started it, repeated) changes nothing; one
that contradicts it is refused by name, except `--max-steps`, which extends or shortens a run.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
from typing import Any, Callable

from lmlab.config import apply_overrides, preset
from lmlab.errors import UserError

RESUMABLE = {"train.max_steps"}  # what --resume may change: how long the run goes on


def say(message: str) -> None:
    """Human-readable progress goes to stderr; stdout stays for results."""
    print(message, file=sys.stderr, flush=True)


def sections(config) -> dict[str, Any]:
    """The named parts of a run configuration (model, train, data), or the one config dataclass."""
    parts = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    if all(dataclasses.is_dataclass(part) for part in parts.values()):
        return parts
    return {"": config}


def _set_path(config, path: str, value) -> None:
    *parents, name = [part for part in path.split(".") if part]
    for part in parents:
        config = getattr(config, part)
    setattr(config, name, value)


def apply_options(config, options) -> None:
    """Set the config fields that the command's own options name (`from_config`), where given."""
    for option in dataclasses.fields(options):
        path = option.metadata.get("config")
        value = getattr(options, option.name)
        if path and value is not None:
            _set_path(config, path, value)


def _apply_overrides(config, assignments: list[str]) -> None:
    parts = sections(config)
    if "" in parts:  # one flat config: keys have no section
        apply_overrides({"config": parts[""]}, [a.removeprefix("config.") for a in assignments])
    else:
        apply_overrides(parts, assignments)


def validate(config) -> None:
    """Every part that knows its constraints checks them (`validate()` raises a UserError)."""
    for part in sections(config).values():
        if hasattr(part, "validate"):
            part.validate()


def resolve_config(presets: dict, options, default_preset: str,
                   adjust: Callable[[Any, Any], None] | None = None):
    """preset -> the command's options -> `adjust(config, options)` -> --set -> validation."""
    config = preset(presets, options.preset or default_preset)
    apply_options(config, options)
    if adjust is not None:
        adjust(config, options)
    _apply_overrides(config, getattr(options, "overrides", []))
    validate(config)
    return config


def _leaves(config, prefix: str = "") -> dict[str, Any]:
    if not dataclasses.is_dataclass(config):
        return {prefix: config}
    found = {}
    for f in dataclasses.fields(config):
        found.update(_leaves(getattr(config, f.name), f"{prefix}.{f.name}" if prefix else f.name))
    return found


def resume_config(saved, options, where: str, saved_preset: str | None = None):
    """The saved configuration with the command's options applied; contradictions are refused."""
    if options.preset and saved_preset and options.preset != saved_preset:
        raise UserError(f"--resume: --preset {options.preset} contradicts {where}, which was started with "
                        f"--preset {saved_preset}")
    requested = copy.deepcopy(saved)
    apply_options(requested, options)
    _apply_overrides(requested, getattr(options, "overrides", []))
    before, after = _leaves(saved), _leaves(requested)
    contradictions = [f"{path}={after[path]!r} (the run has {before[path]!r})"
                      for path in after if after[path] != before[path] and path not in RESUMABLE]
    if contradictions:
        raise UserError(f"--resume: {'; '.join(contradictions)} contradict{'s' * (len(contradictions) == 1)} "
                        f"{where}: drop {'them' if len(contradictions) > 1 else 'it'}, or start a new --out")
    validate(requested)
    return requested


def run_distributed(train: Callable, options) -> dict | None:
    """`train(options, context)` as one rank of a torchrun job (or as the only process): join the
    process group, train, leave it. Returns the summary on rank 0, None on the other ranks."""
    from lmlab.train import distributed

    context = distributed.setup(options.device)
    try:
        summary = train(options, context)
    finally:
        distributed.cleanup(context)
    return summary if context.is_main else None


def print_summary(summary: dict | None, options) -> None:
    """--json: the summary as one JSON object on stdout (rank 0 only)."""
    if summary is not None and getattr(options, "json", False):
        print(json.dumps(summary, default=str))
