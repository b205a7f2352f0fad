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
