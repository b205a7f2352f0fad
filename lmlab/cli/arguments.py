"""Command-line options from dataclasses: one declaration gives the flag, its type, default and help.

A command's options are a dataclass (`lmlab.recipes.options`); each field becomes one argument
and the comment after the field is its help text::

    run: str = field(metadata=positional())  # run folder written by `lmlab train`
    max_new_tokens: int = 500  # token budget

gives ``RUN`` and ``--max-new-tokens N`` with ``type=int`` and the help "token budget (default:
500)". The default printed is the dataclass's own value, and a field that only overrides a config
field (``metadata=from_config("train.seed")``, default None) prints the value of the command's
default preset, read from the config dataclass, so the help cannot drift from the code. Types
map to argparse as: ``bool`` -> a switch, ``Literal[...]`` -> choices, ``Optional[X]`` -> X,
``list[X]`` -> repeatable (or ``nargs`` for a positional).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import types
import typing
from typing import Any

from lmlab.config import check_fields, field_comments, field_range


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming the problem and pointing at --help."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse's hook
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def resolve(target: str):
    """Import ``"package.module:attribute"``."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


# --- types -------------------------------------------------------------------------------------------
def _unwrap_optional(hint):
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _argparse_type(hint) -> dict:
    hint = _unwrap_optional(hint)
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return {"choices": list(typing.get_args(hint))}
    if origin is list:
        return {"type": typing.get_args(hint)[0]}
    return {"type": hint}


# --- the default shown in the help -------------------------------------------------------------------
def config_default(cls: type, path: str) -> Any:
    """The value of config field `path` in the default preset of the options class `cls`."""
    config = resolve(cls.presets)[cls.default_preset]
    for part in path.split("."):
        config = getattr(config, part)
    return config


def documented_default(cls: type, field: dataclasses.Field) -> str | None:
    """What the help says the default is (None: say nothing), computed from the code."""
    if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
        return None  # a required argument
    if "config" in field.metadata and getattr(cls, "presets", None):
        value = config_default(cls, field.metadata["config"])
        return None if value in (None, "") else f"{value} in the {cls.default_preset} preset"
    if field.name == "preset" and getattr(cls, "default_preset", None):
        return cls.default_preset
    if field.default is dataclasses.MISSING or field.default in (None, False, "") or field.metadata.get("positional"):
        return None
    return str(field.default)


def help_text(cls: type, field: dataclasses.Field) -> str:
    """The field's comment (or its config field's), the default, and the range of allowed values."""
    text = field_comments(cls).get(field.name)
    config_field = _config_field(cls, field)
    if text is None and config_field is not None:
        text = field_comments(config_field[0]).get(config_field[1])
    text = (text or "").replace("%", "%%")
    if field.name == "preset" and getattr(cls, "presets", None):
        text += f": {', '.join(resolve(cls.presets))}"
    allowed = field_range(*config_field) if config_field is not None else field_range(cls, field.name)
    notes = [f"default: {default}" for default in [documented_default(cls, field)] if default is not None]
    notes += [str(allowed)] if allowed is not None else []
    return f"{text} ({'; '.join(notes)})" if notes else text


def _config_field(cls: type, field: dataclasses.Field) -> tuple[type, str] | None:
    """(config dataclass, field name) that an option sets, when it names one in `config_classes`."""
    if "config" not in field.metadata or not getattr(cls, "config_classes", None):
        return None
    section, _, name = field.metadata["config"].rpartition(".")
    return (resolve(cls.config_classes[section]), name) if section in cls.config_classes else None


# --- dataclass <-> argparse --------------------------------------------------------------------------
def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Declare one argument per field of the options dataclass `cls`."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint, meta = hints[field.name], field.metadata
        kwargs: dict[str, Any] = {"help": help_text(cls, field)}
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if meta.get("positional"):
            kwargs.update(_argparse_type(hint))
            if meta.get("nargs"):
                kwargs["nargs"] = meta["nargs"]
            if field.default is not dataclasses.MISSING:
                kwargs.update(nargs=kwargs.get("nargs", "?"), default=field.default)
            parser.add_argument(field.name, **kwargs)
            continue
        name = meta.get("flag") or "--" + field.name.replace("_", "-")
        if hint is bool:
            kwargs["action"] = "store_true"
        elif typing.get_origin(hint) is list:
            kwargs.update(_argparse_type(hint), action="append", default=[])
        elif field.default is dataclasses.MISSING:
            kwargs.update(_argparse_type(hint), required=True)
        else:
            kwargs.update(_argparse_type(hint), default=field.default)
        if meta.get("hidden"):
            kwargs["help"] = argparse.SUPPRESS
        parser.add_argument(name, dest=field.name, **kwargs)


def options_from_namespace(cls: type, namespace: argparse.Namespace):
    """The options dataclass filled from parsed arguments, each within its declared range."""
    options = cls(**{field.name: getattr(namespace, field.name) for field in dataclasses.fields(cls)})
    check_fields(options, prefix="--")
    return options
