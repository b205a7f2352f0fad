"""Dataclass configs: to and from JSON, typed ``--set key=value`` overrides, named presets.

Every model and trainer is configured by a plain dataclass. This module is the only place that
knows how to turn one into JSON and back, and how to apply command-line overrides with the right
types, so that `--set n_layer=4 --set lr=3e-4` works for every recipe and an unknown key is an
error that lists the valid ones. A config's field comments are its documentation: `field_comments`
reads them, and the command line prints them as help (`lmlab.cli.arguments`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import io
import math
import tokenize
import types
import typing
from dataclasses import dataclass
from typing import Any

from lmlab.errors import UserError


def config_to_dict(config) -> dict:
    return dataclasses.asdict(config)


def config_from_dict(cls, data: dict, source: str = "config"):
    """Build dataclass `cls` from a dict, refusing unknown keys and wrongly typed values."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a JSON object for {cls.__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(f"{source}: unknown {cls.__name__} keys {unknown}")
    hints = typing.get_type_hints(cls)
    legacy = getattr(cls, "LEGACY_VALUES", {})  # {field: {value older lmlabs wrote: today's value}}
    values = {}
    for key, value in data.items():
        if key in legacy and _hashable(value) and value in legacy[key]:
            value = legacy[key][value]
        values[key] = _check_type(hints[key], value, f"{source}: {cls.__name__}.{key}")
    return cls(**values)


def _hashable(value) -> bool:
    return not isinstance(value, (dict, list))


def _check_type(hint, value, where: str):
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    base = typing.get_origin(hint) or hint
    if base in (typing.Union, types.UnionType):  # Optional[X] or X | None
        if value is None:
            return None
        return _check_type(next(a for a in typing.get_args(hint) if a is not type(None)), value, where)
    if base is typing.Literal:
        if value not in typing.get_args(hint):
            raise UserError(f"{where}: {value!r} is not one of {list(typing.get_args(hint))}")
        return value
    if isinstance(base, type) and not isinstance(value, base) or (base is int and isinstance(value, bool)):
        raise UserError(f"{where}: expected {getattr(base, '__name__', base)}, got {value!r}")
    return value


def parse_value(hint, text: str, where: str) -> Any:
    """Parse the text of ``--set key=TEXT`` into the field's type."""
    base = typing.get_origin(hint) or hint
    if base in (typing.Union, types.UnionType):  # Optional[X] or X | None
        if text.lower() in ("none", "null"):
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        base = typing.get_origin(hint) or hint
    try:
        if base is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if base is int:
            return int(text)
        if base is float:
            return float(text)
        if base is typing.Literal:
            choices = typing.get_args(hint)
            if text not in choices:
                raise ValueError(text)
            return text
        return base(text)
    except ValueError:
        expected = list(typing.get_args(hint)) if base is typing.Literal else getattr(base, "__name__", base)
        raise UserError(f"--set {where}: {text!r} is not a valid {expected}") from None


def apply_overrides(configs: dict[str, Any], assignments: list[str]) -> None:
    """Apply ``key=value`` (or ``section.key=value``) strings to a dict of named dataclasses.

    A bare key must belong to exactly one section; the error for an unknown key lists them all.
    """
    fields = {
        section: {f.name: f for f in dataclasses.fields(config)} for section, config in configs.items()
    }
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set expects key=value, got {assignment!r}")
        if "." in key:
            section, _, name = key.partition(".")
            owners = [section] if section in fields and name in fields[section] else []
        else:
            name = key
            owners = [section for section in fields if name in fields[section]]
        if not owners:
            valid = ", ".join(f"{s}.{n}" for s in fields for n in fields[s])
            raise UserError(f"--set: unknown key {key!r}; valid keys: {valid}")
        if len(owners) > 1:
            raise UserError(f"--set: key {key!r} is ambiguous; write one of {[f'{s}.{name}' for s in owners]}")
        config = configs[owners[0]]
        hint = typing.get_type_hints(type(config))[name]
        setattr(config, name, parse_value(hint, text.strip(), key))


def preset(presets: dict[str, Any], name: str):
    """A fresh copy of a named preset, or a `UserError` listing the names."""
    if name not in presets:
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(presets)}")
    return copy.deepcopy(presets[name])


# --- field metadata for command options (`lmlab.cli.arguments` reads it) ---------------------------
def positional(nargs: str | None = None, metavar: str | None = None) -> dict:
    """A positional argument (RUN, TEXT, WORD ...), optionally with argparse's nargs."""
    return {"positional": True, "nargs": nargs, "metavar": metavar}


def flag(name: str, metavar: str | None = None) -> dict:
    """An option spelled differently from its field (``-n``, ``--set`` for ``overrides``)."""
    return {"flag": name, "metavar": metavar}


def from_config(path: str, **more) -> dict:
    """An option that sets the config field `path` ("train.seed"); None keeps the preset's value."""
    return {"config": path, **more}


# --- field comments ----------------------------------------------------------------------------------
@functools.cache
def field_comments(cls: type) -> dict[str, str]:
    """The comment after each field of a dataclass (and of its bases), continuation lines joined."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            comments.update(_comments_in_source(inspect.getsource(klass)))
    return comments


def _comments_in_source(source: str) -> dict[str, str]:
    comments, current, line_of_field = {}, None, -1
    tokens = list(tokenize.generate_tokens(io.StringIO(inspect.cleandoc(source) + "\n").readline))
    for index, token in enumerate(tokens):
        starts_line = index == 0 or tokens[index - 1].type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                                                                tokenize.NL)
        if (token.type == tokenize.NAME and starts_line and index + 1 < len(tokens)
                and tokens[index + 1].string == ":" and token.start[1] == 4):
            current, line_of_field = token.string, token.start[0]
        elif token.type == tokenize.COMMENT and current is not None:
            text = token.string.lstrip("#").strip()
            if token.start[0] == line_of_field:
                comments[current] = text
            elif token.start[0] == line_of_field + 1 and current in comments:  # a continuation line
                comments[current] += " " + text
                line_of_field += 1
        elif token.type == tokenize.NEWLINE and token.start[0] != line_of_field:
            current = None
    return comments


# --- constraints: declared next to each field, checked by one validate() ----------------------------
@dataclass(frozen=True)
class Range:
    """The values a numeric field may take, declared with the field: ``lr: Annotated[float, POSITIVE]``."""

    low: float | None = None  # the smallest value allowed (None: no bound)
    high: float | None = None  # the largest value allowed
    low_open: bool = False  # the bound itself is excluded: lr > 0, not lr >= 0
    high_open: bool = False

    def __contains__(self, value) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (self.high_open and value == self.high))

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {low}"
        return f"{'<' if self.high_open else '<='} {high}"


def _number(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


POSITIVE = Range(0, low_open=True)  # learning rates, temperatures
NON_NEGATIVE = Range(0)  # decays, clip norms, "every N steps" where 0 means never
AT_LEAST_ONE = Range(1)  # sizes and counts
FRACTION = Range(0, 1, high_open=True)  # dropout, label smoothing, Adam's betas: [0, 1)
SEED = Range(0, 2**32 - 1)  # what numpy and torch both accept


def field_range(cls: type, name: str) -> Range | None:
    """The Range declared on field `name` of dataclass `cls` (``Annotated[type, Range]``), if any."""
    hint = typing.get_type_hints(cls, include_extras=True)[name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # Optional[Annotated[...]]
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Range)), None)


def check_fields(config, prefix: str = "") -> None:
    """Every numeric field within its declared Range, and every float finite (no nan, no inf)."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        allowed = field_range(type(config), f.name)
        name = prefix + (f.name.replace("_", "-") if prefix == "--" else f.name)  # a flag, or a --set key
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{name} must be a finite number{f' {allowed}' if allowed else ''}, got {value}")
        if allowed is not None and value not in allowed:
            raise UserError(f"{name} must be {allowed}, got {value!r}")


def validate_config(config, prefix: str = "") -> None:
    """Any config dataclass: its fields within their Ranges, then its `check_relations()` if it has one."""
    check_fields(config, prefix)
    if hasattr(config, "check_relations"):
        config.check_relations()


class Config:
    """Base of lmlab's config dataclasses: `validate()` checks every field against the Range declared
    with it, then the relations between fields (`check_relations`, e.g. min_lr <= lr)."""

    def validate(self, prefix: str = "") -> None:
        validate_config(self, prefix)

    def check_relations(self) -> None:
        """Constraints that tie fields together; a subclass raises a UserError naming them."""
