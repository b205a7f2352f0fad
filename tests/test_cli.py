"""The command line, end to end on a tiny corpus: train, resume, Ctrl-C, sample, eval, and errors."""

import json
import math
import shutil
import signal
import subprocess
import sys
import time

import pytest

from lmlab.cli import main
from lmlab.train.checkpoint import RunFolder

TINY = ["--preset", "tiny", "--set", "log_every=1"]


def lmlab(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmlab", *map(str, args)], capture_output=True, text=True,
                          timeout=300, **kwargs)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny run shared by the read-only tests (tests that change a run copy it first)."""
    folder = tmp_path_factory.mktemp("cli")
    text = folder / "corpus.txt"
    text.write_text("".join(f"Line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(120)))
    out = folder / "run"
    assert main(["train", "--data", str(text), "--out", str(out), *TINY]) == 0
    return out


def test_train_writes_a_complete_run_folder(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.json", "tokenizer.json", "model.safetensors", "trainer_state.pt", "metrics.jsonl",
            "loss.png"} <= names
    config = RunFolder(trained_run).read_config()
    assert (config["kind"], config["family"]) == ("lm", "gpt") and config["train"]["max_steps"] == 30
    assert config["data_split"]["val_chars"] > 0 and "rule" in config["data_split"]
    records = RunFolder(trained_run).read_metrics()
    train_losses = [r["train_loss"] for r in records if "train_loss" in r]
    assert len(train_losses) == 30 and train_losses[-1] < train_losses[0] - 0.5  # it learns


def test_eval_json_reports_loss_perplexity_and_tokens(trained_run, capsys):
    assert main(["eval", str(trained_run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"loss", "perplexity", "tokens"}
    assert math.isclose(result["perplexity"], math.exp(result["loss"]), rel_tol=1e-9)
    val_tokens = len(__import__("numpy").load(trained_run / "data" / "val.npy"))
    assert result["tokens"] == val_tokens - 1  # every validation token but the first is predicted once
    assert result["loss"] < math.log(RunFolder(trained_run).read_config()["model"]["vocab_size"])


def test_seeded_samples_are_reproducible_and_start_with_the_prompt(trained_run, capsys):
    args = ["sample", str(trained_run), "--prompt", "Line 3", "--max-new-tokens", "30", "--seed", "5"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert first == capsys.readouterr().out and first.startswith("Line 3") and len(first) > len("Line 3")
    long_prompt = "the quick brown fox " * 10  # longer than block_size=32: cropped, not an error
    assert main(["sample", str(trained_run), "--prompt", long_prompt, "--max-new-tokens", "5",
                 "--strategy", "greedy"]) == 0


def test_resume_continues_a_finished_run_to_more_steps(trained_run, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    assert main(["train", "--out", str(run), "--resume", "--max-steps", "40"]) == 0
    steps = [r["step"] for r in RunFolder(run).read_metrics() if "train_loss" in r]
    assert steps == list(range(1, 41))
    assert RunFolder(run).load_state()["step"] == 40


def test_ctrl_c_checkpoints_and_exits_cleanly(tmp_path, text_file):
    out = tmp_path / "interrupted"
    process = subprocess.Popen([sys.executable, "-m", "lmlab", "train", "--data", str(text_file), "--out", str(out),
                                *TINY, "--max-steps", "100000"], stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and metrics.stat().st_size > 200):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "saving a checkpoint" in stderr and "Traceback" not in stderr
    step = RunFolder(out).load_state()["step"]
    assert step >= 1 and RunFolder(out).model_step() == step


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "/no/such/file.txt"], "/no/such/file.txt"),
    (["train", "--preset", "huge"], "unknown preset 'huge'"),
    (["train", "--data", "pydoc", "--set", "n_layers=2"], "unknown key 'n_layers'"),
    (["train", "--data", "pydoc", "--device", "cuda"], "no CUDA GPU"),
    (["train", "--data", "pydoc", "--tokenizer", "nope"], "neither an algorithm"),
    (["train", "--max-steps", "ten"], "invalid int value"),
    (["sample", "/no/such/run"], "run folder not found"),
    (["eval", "/no/such/run", "--json"], "run folder not found"),
    (["frobnicate"], "invalid choice"),
])
def test_user_mistakes_exit_2_with_one_line(args, message, tmp_path):
    if "--device" in args and __import__("torch").cuda.is_available():
        pytest.skip("a GPU is present")
    result = lmlab(*args, "--out", tmp_path / "x") if args[0] == "train" else lmlab(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_sample_options_are_validated(trained_run):
    result = lmlab("sample", trained_run, "--temperature", "0")
    assert result.returncode == 2 and "--temperature must be > 0" in result.stderr


def test_an_existing_run_is_not_overwritten(trained_run):
    result = lmlab("train", "--data", "pydoc", "--out", trained_run, "--preset", "tiny")
    assert result.returncode == 2 and "already holds a run" in result.stderr


def test_every_command_documents_every_option():
    for command, options in {
        "train": ["--data", "--out", "--preset", "--max-steps", "--seed", "--device", "--resume", "--set",
                  "--tokenizer", "--compile"],
        "sample": ["--prompt", "--max-new-tokens", "--strategy", "--temperature", "--top-k", "--top-p", "--seed"],
        "eval": ["--data", "--json", "--split"],
        "corpus": ["list", "download", "show"],
    }.items():
        result = lmlab(command, "--help")
        assert result.returncode == 0
        for option in options:
            assert option in result.stdout, (command, option)


def test_commands_that_need_no_model_do_not_import_torch():
    code = ("import sys; from lmlab.cli import main; main(['corpus', 'list']); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
