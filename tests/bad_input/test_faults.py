"""Faults: a diverging run keeps its last good checkpoint byte-identical; SIGKILL between a
checkpoint's temporary file and its rename, or during data preparation, leaves a run that resumes
exactly or is refused in one line, never a half-written file that loads; the entry point itself
(a subprocess, as a user runs it) gives one line and exit 2."""

import json
import subprocess
import sys

import pytest
from badinput import snapshot, world  # noqa: F401  (world is a fixture)
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.models.gpt import GPT
from lmlab.train.checkpoint import RunFolder


@pytest.fixture
def checkpointed(world, tmp_path):
    """A tiny GPT run stopped at its step-15 checkpoint, with its command line."""
    command = ["train", "--data", str(world["corpus"]), "--preset", "tiny", "--out", str(tmp_path / "run"),
               "--set", "log_every=1"]
    assert main([*command, "--max-steps", "15"]) == 0
    return command, tmp_path / "run"


def poison(monkeypatch):
    """From now on the GPT's loss is nan (as when a learning rate makes a run diverge)."""
    forward = GPT.forward

    def diverged(self, *args, **kwargs):
        logits, loss = forward(self, *args, **kwargs)
        return logits, None if loss is None else loss * float("nan")

    monkeypatch.setattr(GPT, "forward", diverged)


def test_a_nan_loss_keeps_the_last_checkpoint_byte_identical_and_exits_2(checkpointed, monkeypatch, capsys):
    command, run = checkpointed
    before = snapshot(run)
    poison(monkeypatch)
    capsys.readouterr()
    assert main([*command, "--resume", "--max-steps", "30"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "step 16: the loss is nan" in error and "--set lr=" in error and "on_nan=skip" in error, error
    assert snapshot(run) == before


def test_on_nan_skip_drops_the_updates_and_counts_them(checkpointed, monkeypatch, capsys):
    command, run = checkpointed
    weights = load_file(run / "model.safetensors")
    poison(monkeypatch)
    assert main([*command, "--resume", "--max-steps", "20", "--set", "on_nan=skip", "--json"]) == 2  # contradicts
    assert "train.on_nan='skip' (the run has 'stop')" in capsys.readouterr().err
    assert main([*command[:-2], "--out", str(run.parent / "skip"), "--set", "on_nan=skip", "--max-steps", "5",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped_steps"] == 5 and summary["step"] == 5
    skipped = [r for r in RunFolder(run.parent / "skip").read_metrics() if "skipped_step" in r]
    assert [r["step"] for r in skipped] == [1, 2, 3, 4, 5]
    assert weights.keys() == load_file(run.parent / "skip" / "model.safetensors").keys()


KILLER = """
import os, signal, sys
target, nth = sys.argv[1], int(sys.argv[2])
seen = 0
real_replace = os.replace
def replace(src, dst):
    global seen
    if os.path.basename(str(dst)) == target:
        seen += 1
        if seen == nth:
            os.kill(os.getpid(), signal.SIGKILL)  # the temporary file is written, the rename never happens
    real_replace(src, dst)
os.replace = replace
from lmlab.cli import main
sys.exit(main(sys.argv[3:]))
"""


def killed_at(target: str, nth: int, argv: list[str]) -> int:
    return subprocess.run([sys.executable, "-c", KILLER, target, str(nth), *argv], capture_output=True,
                          text=True, timeout=300).returncode


def losses(run) -> list[float]:
    return [r["train_loss"] for r in RunFolder(run).read_metrics() if "train_loss" in r]


@pytest.mark.parametrize("target, resumes", [("model.safetensors", True), ("trainer_state.pt", False)])
def test_sigkill_between_a_checkpoints_temporary_file_and_its_rename(target, resumes, world, tmp_path, capsys):
    """The tiny preset checkpoints at steps 15 and 30; the process dies renaming step 30's file."""
    command = ["train", "--data", str(world["corpus"]), "--preset", "tiny", "--set", "log_every=1"]
    assert main([*command, "--out", str(tmp_path / "whole")]) == 0
    run = tmp_path / "killed"
    assert killed_at(target, 2, [*command, "--out", str(run)]) == -9
    assert not any(p.name.endswith(".tmp") and p.stat().st_size == 0 for p in run.iterdir())
    capsys.readouterr()
    code = main([*command, "--out", str(run), "--resume"])
    if resumes:  # weights and state both still at step 15: the run continues exactly
        assert code == 0 and losses(run) == pytest.approx(losses(tmp_path / "whole"), abs=1e-6)
    else:  # new weights, old state: refused by name, nothing loads half
        assert code == 2 and "interrupted while checkpointing" in capsys.readouterr().err


def test_sigkill_during_data_preparation_leaves_a_folder_the_same_command_starts_again(world, tmp_path, capsys):
    run = tmp_path / "run"
    command = ["train", "--data", str(world["corpus"]), "--preset", "tiny", "--out", str(run), "--max-steps", "3"]
    assert killed_at("val.npy", 1, command) == -9
    assert (run / ".lmlab").is_file() and not (run / "config.json").exists()
    assert main([*command, "--resume"]) == 2
    assert "holds nothing to continue (no config.json)" in capsys.readouterr().err
    assert main(command) == 0 and RunFolder(run).load_state()["step"] == 3


ENTRY_POINT = [
    (["train", "--set", "lr=-1", "--out", "{root}/never"], "train.lr must be > 0"),
    (["train", "--out", "{mine}"], "is not empty and is not an lmlab run"),
    (["sample", "{classifier}"], "is a classifier run; `lmlab sample` needs a language-model run"),
    (["classify", "eval", "{classifier}", "--data", "{gbk}"], "line 2 is not UTF-8"),
    (["tokenizer", "encode", "{deep}", "x"], "nesting too deep"),
    (["eval", "{root}/nowhere"], "run folder not found"),
    (["sample", "{lm}", "--top-p", "7"], "--top-p must be in (0, 1]"),
    (["frobnicate"], "invalid choice"),
    (["train", "--max-steps", "ten"], "invalid int value"),
    (["word2vec", "train", "--resume", "--out", "{word2vec}"], "word2vec train does not resume"),
    (["train", "--data", "{corpus}", "--set", "n_embd=1000000", "--set", "n_head=1", "--out", "{root}/never"],
     "parameters: training it needs"),
    (["corpus", "download", "wikitext"], "unknown corpus 'wikitext'"),
]


def test_the_entry_point_gives_one_line_and_exit_2(world):
    """As a user runs it: `python -m lmlab ...` in subprocesses, several at once."""
    processes = [(subprocess.Popen([sys.executable, "-m", "lmlab", *[a.format(**world) for a in argv]],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), message)
                 for argv, message in ENTRY_POINT]
    for process, message in processes:
        _, err = process.communicate(timeout=300)
        lines = err.strip().splitlines()
        assert process.returncode == 2 and len(lines) == 1 and message in lines[0], (process.args, err)
        assert "Traceback" not in err
