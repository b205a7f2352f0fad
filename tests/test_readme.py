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


SHELL_BLOCK = re.compile(r"```(?:bash|sh|shell|console)\n(.*?)```", flags=re.S)
SKIPPED_FOLDERS = {".venv", ".git", "runs", "node_modules"}


def documented_commands(path) -> list[list[str]]:
    """Every `lmlab ...` line of the shell blocks of a page, as argument lists (comments and a
    leading `$ ` prompt dropped, `a && b` split into its commands)."""
    commands = []
    for block in SHELL_BLOCK.findall(path.read_text(encoding="utf-8")):
        for line in block.splitlines():
            for part in line.removeprefix("$ ").split("&&"):
                words = shlex.split(part, comments=True)
                if words and words[0].endswith("lmlab") and len(words) > 1:
                    commands.append(words[1:])
    return commands


def documented_pages() -> list:
    """README.md, README.zh-CN.md and every page under docs/: the pages whose commands users copy."""
    pages = [REPO / "README.md", REPO / "README.zh-CN.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [page for page in pages if not SKIPPED_FOLDERS & set(page.relative_to(REPO).parts)]


def test_the_command_finder_reads_every_shell_block_and_skips_prose(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("run `lmlab nope` here\n```bash\nlmlab train --preset tiny  # a comment\n```\n"
                    "```console\n$ lmlab eval runs/x && lmlab sample runs/x\n```\n"
                    "```python\nlmlab.train()\n```\n", encoding="utf-8")
    assert documented_commands(page) == [["train", "--preset", "tiny"], ["eval", "runs/x"], ["sample", "runs/x"]]


def test_the_documented_pages_include_the_course_and_the_chinese_readmes():
    names = {str(page.relative_to(REPO)) for page in documented_pages()}
    assert {"README.md", "README.zh-CN.md", "docs/README.md", "docs/zh/README.md", "docs/lab/README.md"} <= names
    for page in ("README.md", "README.zh-CN.md", "docs/README.md", "docs/zh/README.md"):
        assert documented_commands(REPO / page), f"{page} shows no lmlab command"


@pytest.mark.parametrize("page", documented_pages(), ids=lambda path: str(path.relative_to(REPO)))
def test_every_documented_command_parses(page):
    """Every `lmlab` command of every page users read names a real command and real options."""
    from lmlab.cli import build_parser, chosen_command

    for argv in documented_commands(page):
        try:
            build_parser(chosen_command(argv)).parse_args(argv)
        except SystemExit as stop:
            pytest.fail(f"{page.relative_to(REPO)}: `lmlab {' '.join(argv)}` does not parse (exit {stop.code})")


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
