"""`lmlab runs`: one row per run folder, its numbers read back from the runs' own files, checked
here against those files read independently; old runs list too, and a broken folder is a row with
a note, never a crash."""

import json
import shutil

import pytest

from conftest import REPO
from lmlab.cli import main
from lmlab.recipes.run_views import duration, runs_table
from lmlab.run_summary import find_runs, summarize_runs

OLD = REPO / "tests" / "fixtures" / "runs-format-1"
SENTIMENT = {"train.tsv": [("a good film", 1), ("great fun", 1), ("i loved it", 1), ("a fine cast", 1),
                           ("charming and funny", 1), ("a bad film", 0), ("boring and dull", 0), ("i hated it", 0),
                           ("an awful cast", 0), ("dull and lifeless", 0)],
             "dev.tsv": [("good fun", 1), ("a dull film", 0), ("loved it", 1), ("bad and boring", 0)]}


def records(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny GPT (20 steps) and a classifier comparison (perceptron, bag of words) under one folder."""
    root = tmp_path_factory.mktemp("runs")
    text = root.parent / "text.txt"
    text.write_text("".join(f"Line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(150)))
    assert main(["train", "--data", text, "--preset", "tiny", "--max-steps", "20", "--out", root / "gpt",
                 "--device", "cpu"]) == 0
    glue = root.parent / "glue"
    glue.mkdir()
    for name, rows in SENTIMENT.items():
        (glue / name).write_text("sentence\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in rows))
    assert main(["classify", "compare", "--data", glue, "--models", "perceptron,bow", "--preset", "tiny",
                 "--out", root / "classifiers", "--device", "cpu"]) == 0
    return root


def gpt_parameters(config: dict) -> int:
    """GPT-2's count by hand: tied token table, positions, per block 12 C^2 + 13 C, the final norm."""
    m = config["model"]
    C = m["n_embd"]
    return m["vocab_size"] * C + m["block_size"] * C + m["n_layer"] * (12 * C * C + 13 * C) + 2 * C


def test_every_run_is_one_row_sorted_by_path(runs):
    rows = summarize_runs(runs)
    assert [row.path for row in rows] == [str(runs / name) for name in
                                          ("classifiers", "classifiers/bow", "classifiers/perceptron", "gpt")]
    assert [(row.kind, row.model) for row in rows] == [("classify-compare", "perceptron,bow"),
                                                       ("classifier", "bow"), ("classifier", "perceptron"),
                                                       ("lm", "gpt")]
    assert not any(row.note for row in rows)


def test_a_language_model_row_holds_its_metrics(runs):
    row = {r.path: r for r in summarize_runs(runs)}[str(runs / "gpt")]
    logged = records(runs / "gpt")
    config = json.loads((runs / "gpt" / "config.json").read_text())
    assert row.steps == 20 == max(r["step"] for r in logged)
    assert (row.best_metric, row.best_value) == ("val_loss", min(r["val_loss"] for r in logged if "val_loss" in r))
    assert row.wall_seconds == logged[-1]["elapsed_s"] > 0  # the last record: the end of training
    assert row.parameters == gpt_parameters(config)


def test_classifier_rows_hold_the_best_dev_accuracy_and_the_comparison_its_table(runs):
    rows = {r.path: r for r in summarize_runs(runs)}
    table = json.loads((runs / "classifiers" / "compare.json").read_text())
    for family in ("bow", "perceptron"):
        row, logged = rows[str(runs / "classifiers" / family)], records(runs / "classifiers" / family)
        assert (row.best_metric, row.best_value) == ("dev_accuracy", max(r["dev_accuracy"] for r in logged
                                                                          if "dev_accuracy" in r))
        assert row.steps == max(r["step"] for r in logged)
        assert row.parameters == next(r["parameters"] for r in table["rows"] if r["model"] == family)
    assert rows[str(runs / "classifiers" / "perceptron")].wall_seconds == records(
        runs / "classifiers" / "perceptron")[-1]["seconds"]  # fitted without the Trainer: its own seconds
    comparison = rows[str(runs / "classifiers")]
    assert (comparison.best_metric, comparison.best_value) == ("accuracy", max(r["accuracy"] for r in table["rows"]))
    assert comparison.wall_seconds == pytest.approx(sum(r["train_seconds"] for r in table["rows"]))
    assert comparison.parameters is None and comparison.steps is None


def test_the_runs_of_lmlab_0_1_0_list_without_notes():
    rows = {row.path.rsplit("/", 1)[1]: row for row in summarize_runs(OLD)}
    assert set(rows) == {"bert", "classifier", "lm", "ngram", "seq2seq", "word2vec"}
    assert not any(row.note for row in rows.values())
    assert {name: row.kind for name, row in rows.items()} == {
        "bert": "bert-pretrain", "classifier": "classifier", "lm": "lm", "ngram": "lm", "seq2seq": "seq2seq",
        "word2vec": "word2vec"}
    assert (rows["lm"].best_metric, rows["lm"].best_value) == ("val_loss", 3.745919942855835)
    assert rows["lm"].parameters == gpt_parameters(json.loads((OLD / "lm" / "config.json").read_text()))
    assert rows["lm"].wall_seconds is None  # written before lmlab logged elapsed_s: "-"
    assert rows["word2vec"].steps == 114 and rows["word2vec"].best_metric is None
    assert rows["word2vec"].parameters == 12 * 16  # the (words, dim) table
    assert rows["bert"].wall_seconds == records(OLD / "bert")[-1]["seconds"]


@pytest.mark.parametrize("damage, note", [
    (lambda run: (run / "config.json").write_text("{not json"), "corrupt config"),
    (lambda run: (run / "metrics.jsonl").write_text('[1]\n{"step": 1}\n'), "not a metrics record"),
    (lambda run: (run / "model.safetensors").write_bytes(b"\x00" * 7), "model.safetensors"),
])
def test_a_broken_folder_is_a_row_with_a_note_and_the_others_list(tmp_path, damage, note, capsys):
    shutil.copytree(OLD / "lm", tmp_path / "broken")
    shutil.copytree(OLD / "ngram", tmp_path / "fine")
    damage(tmp_path / "broken")
    broken, fine = summarize_runs(tmp_path)
    assert note in broken.note and broken.parameters is None and "\n" not in broken.note
    assert not fine.note and fine.best_value == 0.3639364540576935
    assert main(["runs", tmp_path]) == 0
    out = capsys.readouterr().out
    assert f"note: {broken.note}" in out and str(tmp_path / "fine") in out


def test_folders_that_are_not_runs_are_not_listed(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "config.json").write_text('{"someone": "else"}')
    (tmp_path / "hf-export").mkdir()
    (tmp_path / "hf-export" / "config.json").write_text('{"model_type": "gpt2"}')
    (tmp_path / "hf-export" / "model.safetensors").write_bytes(b"")
    assert find_runs(tmp_path) == []


def test_the_command_prints_a_table_or_json(runs, capsys):
    assert main(["runs", runs, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["path"] for row in listed] == [row.path for row in summarize_runs(runs)]
    assert listed[-1]["best_metric"] == "val_loss" and listed[-1]["parameters"] > 0
    assert main(["runs", runs]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["path", "kind", "model", "params", "steps", "best", "metric", "wall", "time"]
    assert runs_table(summarize_runs(runs)) == "\n".join(lines)
    gpt = lines[-1].split()
    assert gpt[:3] == [str(runs / "gpt"), "lm", "gpt"] and gpt[5].startswith("val_loss=")
    comparison = lines[1].split()
    assert comparison[3:5] == ["-", "-"]  # a comparison has no parameters or steps of its own


def test_durations_read_at_a_glance():
    assert [duration(s) for s in (0.0123, 12.34, 245, 7380)] == ["0.0123s", "12.3s", "4m05s", "2h03m"]


def test_a_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["runs", tmp_path / "nowhere"]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_the_wall_time_goes_on_across_a_resume(runs, tmp_path):
    shutil.copytree(runs / "gpt", tmp_path / "gpt")
    before = records(tmp_path / "gpt")[-1]["elapsed_s"]
    assert main(["train", "--out", tmp_path / "gpt", "--resume", "--max-steps", "25", "--device", "cpu"]) == 0
    elapsed = [r["elapsed_s"] for r in records(tmp_path / "gpt")]
    assert elapsed == sorted(elapsed) and elapsed[-1] > before
    assert summarize_runs(tmp_path)[0].wall_seconds == elapsed[-1]
