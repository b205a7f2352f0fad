"""`lmlab distill TEACHER_RUN`: a tiny student trained on a teacher's soft targets beats the same
student trained on the data alone (same seed: same initial weights, same batches, same steps) on
each of three seeds; the student is an ordinary run; mistakes are refused in one line."""

import json

import pytest

from lmlab.cli import main
from lmlab.runs import load_run

STUDENT = ["--preset", "tiny", "--max-steps", "100", "--set", "eval_batches=8", "--temperature", "1", "--json"]


def run(argv, capsys) -> str:
    assert main([str(a) for a in argv]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A tiny GPT twice as wide as the tiny student (4x its parameters), trained 200 steps on pydoc."""
    out = tmp_path_factory.mktemp("distill") / "teacher"
    assert main(["train", "--data", "pydoc", "--preset", "tiny", "--out", str(out), "--max-steps", "200",
                 "--set", "n_embd=64", "--set", "eval_every=0", "--set", "checkpoint_every=0"]) == 0
    return out


def test_the_distilled_student_beats_the_data_only_student_on_three_seeds(teacher, tmp_path, capsys):
    losses = {}
    for seed in range(3):
        for alpha in ("0", "0.9"):  # alpha 0: the data alone, through the same code
            summary = json.loads(run(["distill", teacher, "--out", tmp_path / f"{alpha}-{seed}", "--seed", seed,
                                      "--alpha", alpha, *STUDENT], capsys))
            losses[alpha, seed] = summary["best_val_loss"]
    for seed in range(3):
        assert losses["0.9", seed] < losses["0", seed] - 0.01, losses
    student, big = load_run(tmp_path / "0.9-0"), load_run(teacher)
    assert student.model.num_parameters() < big.model.num_parameters() / 3
    assert student.config["distill"] == {"teacher": str(teacher.resolve()), "temperature": 1.0, "alpha": 0.9}
    assert student.config["data"]["tokenizer"] == str((teacher / "tokenizer.json").resolve())
    assert (tmp_path / "0.9-0" / "tokenizer.json").read_text() == (teacher / "tokenizer.json").read_text()


def test_a_student_samples_evaluates_and_resumes_like_any_run(teacher, tmp_path, capsys):
    out = tmp_path / "student"
    run(["distill", teacher, "--out", out, "--preset", "tiny", "--max-steps", "4"], capsys)
    run(["distill", teacher, "--out", out, "--preset", "tiny", "--max-steps", "6", "--resume"], capsys)
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "8"]) == 2  # its loss needs the teacher
    assert "is a distilled student: continue it with `lmlab distill" in capsys.readouterr().err
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val_loss" in r] == [4, 6]
    assert json.loads(run(["eval", out, "--json"], capsys))["tokens"] > 1000
    assert run(["sample", out, "--prompt", "The ", "--max-new-tokens", "5", "--seed", "0"], capsys).startswith("The ")


@pytest.mark.parametrize("extra, message", [
    (["--set", "block_size=64"], "exceeds the teacher's 32"),
    (["--set", "tokenizer=char"], "the student reads the teacher's tokenizer"),
    (["--alpha", "1.5"], "alpha"),
])
def test_a_student_the_teacher_cannot_teach_is_refused_in_one_line(teacher, tmp_path, capsys, extra, message):
    assert main(["distill", str(teacher), "--out", str(tmp_path / "s"), "--preset", "tiny", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "s" / "config.json").exists()


def test_a_teacher_that_is_not_a_gpt_run_is_refused_in_one_line(tmp_path, capsys):
    ngram = tmp_path / "ngram"
    run(["train", "--model", "ngram", "--data", "pydoc", "--preset", "tiny", "--out", ngram], capsys)
    for teacher, message in ((ngram, "is not a GPT run (its model: n-gram); `lmlab distill` needs a GPT teacher"),
                             (tmp_path / "nowhere", "run folder not found")):
        assert main(["distill", str(teacher), "--out", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
