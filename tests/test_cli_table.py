"""The command table and the help built from the options dataclasses: every command builds, every
documented default is the code's value, and the commands that need no model stay torch-free."""

import dataclasses
import subprocess
import sys

import pytest

from lmlab.cli import build_parser, main
from lmlab.cli.arguments import resolve
from lmlab.config import field_comments
from lmlab.cli.table import COMMANDS


def command_parser(key: str):
    parser = build_parser(key)
    for word in key.split():
        parser = next(action for action in parser._actions if action.dest in ("command", "action")).choices[word]
    return parser


def expected_default(cls, field) -> str | None:
    """The default a reader should see, read straight from the dataclasses (presets included)."""
    if "config" in field.metadata and getattr(cls, "presets", ""):
        value = resolve(cls.presets)[cls.default_preset]
        for part in field.metadata["config"].split("."):
            value = getattr(value, part)
        return None if value in (None, "") else f"{value} in the {cls.default_preset} preset"
    if field.name == "preset" and getattr(cls, "default_preset", ""):
        return cls.default_preset
    if field.default in (dataclasses.MISSING, None, False, "") or field.metadata.get("positional"):
        return None
    return str(field.default)


@pytest.mark.parametrize("key", list(COMMANDS))
def test_every_documented_default_is_the_dataclass_value(key):
    cls = resolve(COMMANDS[key].options)
    actions = {action.dest: action for action in command_parser(key)._actions}
    for field in dataclasses.fields(cls):
        action = actions[field.name]
        documented = action.help.rsplit("(default: ", 1)[1][:-1].split("; ")[0] if action.help.endswith(")") \
            and "(default: " in action.help else None
        expected = expected_default(cls, field)
        if expected is not None:
            assert documented == expected, (key, field.name, action.help)
        assert field_comments(cls).get(field.name) or "config" in field.metadata, (key, field.name, "no help")


def test_the_help_of_every_command_builds(capsys):
    for key in COMMANDS:
        with pytest.raises(SystemExit) as stop:
            main([*key.split(), "--help"])
        assert stop.value.code == 0, key
        assert "usage: lmlab " + key in capsys.readouterr().out


def test_help_text_cannot_drift_from_the_presets_and_shows_the_ranges():
    help_text = " ".join(command_parser("word2vec train").format_help().split())
    assert "random seed (default: 1 in the default preset; in [0, 4294967295])" in help_text
    help_text = " ".join(command_parser("sample").format_help().split())
    assert "(default: 0.8; > 0)" in help_text and "--max-new-tokens" in help_text


@pytest.mark.parametrize("argv", [["corpus", "list"], ["tokenizer", "encode", "--help"], ["--help"],
                                  ["corpus", "show", "--help"]])
def test_commands_that_need_no_model_do_not_import_torch(argv):
    code = (f"import sys; from lmlab.cli import main\ntry: main({argv!r})\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
