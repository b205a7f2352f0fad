"""What every training recipe does the same way: resolve its configuration, resume, run distributed.

    preset (--preset, or the recipe's default)
      -> the command's own options that set a config field (--max-steps, --seed, --tokenizer ...)
      -> --set key=value
      -> validation
    = the run's configuration, saved in config.json

`--resume` starts from the saved configuration instead and applies the same options on top: an
option that agrees with the run (the command line that started it, repeated) changes nothing; one
that contradicts it is refused by name, except `--max-steps`, which extends or shortens a run, and
`--set logger=...`, which only says where the numbers are also written.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import sys
import typing
from dataclasses import dataclass
from typing import Any, Callable

from lmlab.config import apply_overrides, config_from_dict, preset, validate_config
from lmlab.errors import UserError
from lmlab.outputs import claim_folder

RESUMABLE = {"train.max_steps", "train.logger"}  # what --resume may change: how long the run goes on, and
# whether its numbers also go to TensorBoard


@dataclass(frozen=True)
class Family:
    """What every registry record (language models, classifiers, encoders) says of a family."""

    name: str  # --model NAME, and "family" in config.json
    display_name: str  # in tables and messages
    config_class: type  # the model's config dataclass (its fields are --set keys)
    model_class: type  # the nn.Module built from it
    presets: dict  # named run configurations

    def build(self, model_config: dict, source: str = "config"):
        """The model, from its config as saved in config.json."""
        return self.model_class(config_from_dict(self.config_class, model_config, source))


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


TEXT_KEYS = ("text_field", "text_column")  # where --data's records keep their text (`lmlab.data.text_formats`)


def text_keys(assignments: list[str]) -> tuple[dict[str, str], list[str]]:
    """({"text_field": NAME, ...} from `--set text_field=NAME text_column=NAME`, the other assignments):
    for the commands whose --set otherwise takes the keys of another config (compare: training;
    tokenizer train: the algorithm's; word2vec train: word2vec's)."""
    found, rest = {}, []
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        key = key.strip().removeprefix("data.")
        if sep and key in TEXT_KEYS:
            found[key] = value.strip()
        else:
            rest.append(assignment)
    return found, rest


def validate(config) -> None:
    """Every part checks its fields' ranges and relations (`lmlab.config.Config.validate`), before
    anything is built or written; the message names the --set key."""
    for name, part in sections(config).items():
        validate_config(part, prefix=f"{name}." if name else "")


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


def saved_run(run, options, kind: str, command: str) -> dict | None:
    """Check --out (`lmlab.outputs.claim_folder`; nothing is written yet: the recipe marks the folder
    once its configuration is valid) and say what it holds: None for a new run, the saved
    config.json with --resume. Under torchrun only rank 0 checks (the others write nothing)."""
    if os.environ.get("RANK", "0") == "0":
        claim_folder(run.path, kind, options.resume, getattr(options, "force", False),
                     command.removesuffix(" --resume"), mark=False)
    if not options.resume:
        return None
    return run.read_config(expect=kind, command=command)


def saved_config(run_config_class: type, model_config_class: type, saved: dict, source: str):
    """The typed run configuration of a config.json: each section rebuilt by its dataclass."""
    hints = typing.get_type_hints(run_config_class)
    missing = [f.name for f in dataclasses.fields(run_config_class) if f.name not in saved]
    if missing:
        raise UserError(f"{source}: not a complete run config (no {', '.join(missing)} section)")
    return run_config_class(**{f.name: config_from_dict(model_config_class if f.name == "model" else hints[f.name],
                                                        saved[f.name], source)
                               for f in dataclasses.fields(run_config_class)})


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
