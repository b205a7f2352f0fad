"""`--resume` means one thing everywhere: the saved configuration, with the options of the command
line applied on top. Repeating the command that started a run (and adding --resume) is accepted;
an option that contradicts the run is refused by name; --max-steps extends a run."""

import pytest

from lmlab.cli import main
from lmlab.train.checkpoint import RunFolder


@pytest.fixture
def tiny_run(tmp_path, text_file):
    command = ["train", "--data", str(text_file), "--preset", "tiny", "--out", str(tmp_path / "run"),
               "--max-steps", "4", "--set", "n_embd=16"]
    assert main(command) == 0
    return command, tmp_path / "run"


def test_the_command_that_started_a_run_resumes_it(tiny_run):
    command, out = tiny_run
    assert main([*command, "--resume", "--max-steps", "6"]) == 0
    assert RunFolder(out).load_state()["step"] == 6
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "8"]) == 0  # --out alone, as before
    assert RunFolder(out).load_state()["step"] == 8


@pytest.mark.parametrize("extra, message", [
    (["--set", "lr=0.5"], "train.lr=0.5 (the run has 0.003) contradicts"),
    (["--set", "n_embd=32"], "model.n_embd=32 (the run has 16)"),
    (["--preset", "cpu"], "--preset cpu contradicts"),
    (["--model", "lstm"], "--model lstm contradicts"),
    (["--seed", "7"], "train.seed=7 (the run has 1337)"),
    (["--data", "pydoc"], "data.corpus='pydoc'"),
])
def test_options_that_contradict_the_run_are_refused_by_name(tiny_run, extra, message, capsys):
    _, out = tiny_run
    before = (out / "model.safetensors").read_bytes()
    assert main(["train", "--out", str(out), "--resume", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert (out / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "ngram", "--preset", "tiny"], "counted in one pass, there is nothing to resume"),
    (["word2vec", "train", "--preset", "tiny"], "word2vec train does not resume"),
])
def test_runs_trained_in_one_pass_say_why_they_do_not_resume(argv, message, tmp_path, text_file, capsys):
    out = tmp_path / "one-pass"
    assert main([*argv, "--data", str(text_file), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main([*argv, "--data", str(text_file), "--out", str(out), "--resume"]) == 2
    assert message in capsys.readouterr().err
