"""`lmlab classify` on the files people have: a CSV or JSON Lines folder with named labels, through
the command line; the names are saved in the run and printed by predict, eval and errors."""

import csv
import json

import pytest

from lmlab.cli import main

POSITIVE = ["a good film", "really great acting", "wonderful and charming", "i loved it", "great fun",
            "a fine , funny movie", "charming story , good cast", "the best film this year"]
NEGATIVE = ["a bad film", "really awful acting", "boring and dull", "i hated it", "awful mess",
            "a dull , lifeless movie", "boring story , bad cast", "the worst film this year"]
DEV = [("good and funny", "positive"), ("a bad , boring film", "negative"), ("wonderful acting", "positive"),
       ("awful and dull", "negative")]
TRAIN = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]


@pytest.fixture(scope="module")
def csv_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    for name, rows in (("train.csv", TRAIN), ("dev.csv", DEV)):
        with open(folder / name, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([["id", "text", "label"], *[[i, t, y] for i, (t, y) in enumerate(rows)]])
    return folder


def test_bow_on_a_csv_folder_with_named_labels(csv_folder, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["classify", "train", "--model", "bow", "--data", str(csv_folder), "--out", str(out),
                 "--preset", "tiny"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["labels"] == ["negative", "positive"] and config["n_labels"] == 2
    capsys.readouterr()
    assert main(["classify", "predict", str(out), "a great , charming film", "a dull , awful film"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["positive", "negative"]
    assert main(["classify", "predict", str(out), "great fun", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] == "positive"
    assert main(["classify", "eval", str(out), "--json"]) == 0  # the run's own dev.csv
    report = json.loads(capsys.readouterr().out)
    assert report["labels"] == ["negative", "positive"] and report["examples"] == len(DEV)
    assert report["accuracy"] == 1.0
    assert main(["classify", "errors", str(out), "--data", str(csv_folder / "train.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == len(TRAIN)


def test_a_resume_keeps_the_label_names(csv_folder, tmp_path, capsys):
    out = tmp_path / "run"
    start = ["classify", "train", "--model", "bow", "--data", str(csv_folder), "--out", str(out), "--preset", "tiny"]
    assert main([*start, "--max-steps", "2"]) == 0
    assert main([*start, "--max-steps", "4", "--resume"]) == 0
    assert json.loads((out / "config.json").read_text())["labels"] == ["negative", "positive"]
    capsys.readouterr()
    assert main(["classify", "predict", str(out), "great fun"]) == 0
    assert capsys.readouterr().out.split("\t")[0] in ("negative", "positive")


def test_a_jsonl_folder_with_other_field_names(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for name, rows in (("train.jsonl", TRAIN), ("dev.jsonl", DEV)):
        (data / name).write_text("".join(json.dumps({"review": t, "sentiment": y[:3]}) + "\n" for t, y in rows))
    out = tmp_path / "run"
    assert main(["classify", "train", "--model", "perceptron", "--data", str(data), "--out", str(out),
                 "--preset", "tiny", "--set", "text_column=review", "--set", "label_column=sentiment"]) == 0
    assert json.loads((out / "config.json").read_text())["labels"] == ["neg", "pos"]
    capsys.readouterr()
    assert main(["classify", "predict", str(out), "really great acting"]) == 0
    assert capsys.readouterr().out.startswith("pos\t")
    (tmp_path / "other.jsonl").write_text('{"review": "fine", "sentiment": "pos"}\n'
                                          '{"review": "so-so", "sentiment": "meh"}\n')
    assert main(["classify", "eval", str(out), "--data", str(tmp_path / "other.jsonl")]) == 2
    assert "other.jsonl:2: label 'meh' is not one of the run's labels (neg, pos)" in capsys.readouterr().err
    assert main(["classify", "train", "--model", "perceptron", "--data", str(data), "--out", str(tmp_path / "r2"),
                 "--preset", "tiny"]) == 2
    assert "train.jsonl:1: no field 'text' (the record has: review, sentiment)" in capsys.readouterr().err


def test_classify_compare_on_a_csv_folder(csv_folder, tmp_path, capsys):
    out = tmp_path / "compare"
    assert main(["classify", "compare", "--data", str(csv_folder), "--models", "perceptron,bow", "--preset", "tiny",
                 "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [row["model"] for row in rows] == ["perceptron", "bow"] and all(row["accuracy"] > 0.5 for row in rows)
