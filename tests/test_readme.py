"""The README's two commands stay true: CI runs the test one, and the main one works (tiny form)."""

import re
import shlex
import subprocess
import sys

import pytest

from conftest import REPO
from lmlab.train.checkpoint import RunFolder


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    return [blocks[0].strip(), blocks[1].strip()]


def test_ci_runs_the_readme_test_command():
    _, test_command = readme_commands()
    assert "pytest" in test_command
    assert test_command in (REPO / ".ci" / "run").read_text()


def test_the_readme_main_command_in_its_tiny_form(tmp_path):
    main_command, _ = readme_commands()
    train = main_command.split("&&")[-1].strip()
    words = shlex.split(train)
    assert words[0].endswith("lmlab") and words[1] == "train"
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "lmlab", *words[1:], "--preset", "tiny", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    if result.returncode == 2 and "could not download" in result.stderr:
        pytest.skip(f"the default corpus cannot be downloaded here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr[-2000:]
    config = RunFolder(out).read_config()
    assert config["data"]["corpus"] == "shakespeare" and config["data_split"]["documents"] == 42
    assert RunFolder(out).load_state()["step"] == 30


def documented_commands(path) -> list[list[str]]:
    """Every `lmlab ...` line of the bash blocks of a page, as argument lists (comments dropped)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.S):
        for line in block.splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and words[0].endswith("lmlab") and len(words) > 1:
                    commands.append(words[1:])
    return commands


@pytest.mark.parametrize("page", ["README.md", "docs/architecture.md"])
def test_every_documented_command_parses(page):
    """The commands of the README and of the architecture page name real commands and options."""
    from lmlab.cli import build_parser, chosen_command

    commands = documented_commands(REPO / page)
    assert commands, page
    for argv in commands:
        try:
            build_parser(chosen_command(argv)).parse_args(argv)
        except SystemExit as stop:
            pytest.fail(f"{page}: `lmlab {' '.join(argv)}` does not parse (exit {stop.code})")


def test_the_architecture_page_lists_every_recipe_module_and_layer():
    from test_layering import LAYERS

    page = (REPO / "docs" / "architecture.md").read_text()
    for path in sorted((REPO / "lmlab" / "recipes").glob("*.py")):
        assert path.stem == "__init__" or f"{path.stem}.py" in page or path.stem in page, path.name
    for layer in LAYERS:
        for name in layer:
            assert name.removeprefix("lmlab.").lstrip("_") in page, name


def test_the_commands_of_the_architecture_page_run_as_written(tmp_path):
    for argv in documented_commands(REPO / "docs" / "architecture.md"):
        result = subprocess.run([sys.executable, "-m", "lmlab", *argv], capture_output=True, text=True,
                                timeout=300, cwd=tmp_path)
        assert result.returncode == 0, (argv, result.stderr[-2000:])
    assert RunFolder(tmp_path / "runs" / "tiny-pydoc").load_state()["step"] == 60
