"""`lmlab classify` and `lmlab bert pretrain` end to end, on tiny configurations."""

import json

import pytest
from conftest import shared_data

from lmlab.cli import main
from lmlab.evaluate.classification import classification_report


def test_report_by_hand():
    report = classification_report([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert report["confusion"] == [[1, 1], [1, 2]]  # rows: true 0, true 1; columns: predicted
    assert report["accuracy"] == 3 / 5 and report["precision"] == 2 / 3 and report["recall"] == 2 / 3
    assert report["f1"] == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def sst2_slice(tmp_path_factory):
    sst2 = shared_data("sst2")
    folder = tmp_path_factory.mktemp("sst2")
    for name, rows in (("train.tsv", 2000), ("dev.tsv", 200)):
        lines = (sst2 / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (folder / name).write_text("".join(lines[:rows + 1]), encoding="utf-8")
    return folder


def test_a_tiny_bert_fine_tuned_on_sst2_beats_the_majority_class(sst2_slice, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["classify", "train", "--model", "bert", "--init", "scratch", "--data", str(sst2_slice),
                 "--out", str(out), "--preset", "tiny", "--set", "epochs=2", "--set", "batch_size=32",
                 "--set", "lr=3e-3"]) == 0
    assert {"config.json", "tokenizer.json", "model.safetensors", "metrics.jsonl"} <= {p.name for p in out.iterdir()}
    assert (out / "best" / "model.safetensors").is_file()
    capsys.readouterr()
    assert main(["classify", "eval", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    labels = [int(line.rsplit("\t", 1)[1]) for line in (sst2_slice / "dev.tsv").read_text().splitlines()[1:]]
    majority = max(labels.count(0), labels.count(1)) / len(labels)
    assert report["accuracy"] > majority
    assert sum(map(sum, report["confusion"])) == len(labels)
    assert main(["classify", "predict", str(out), "a charming , funny film", "--json"]) == 0
    prediction = json.loads(capsys.readouterr().out)
    assert prediction["label"] in (0, 1) and 0.5 <= prediction["probability"] <= 1


def test_user_mistakes_are_one_line_and_exit_code_2(tmp_path, capsys):
    assert main(["classify", "train", "--data", str(tmp_path), "--init", "scratch", "--out", str(tmp_path / "r")]) == 2
    assert "train.tsv not found" in capsys.readouterr().err
    assert main(["classify", "eval", str(tmp_path / "nothing")]) == 2
    capsys.readouterr()
    for name in ("train.tsv", "dev.tsv"):
        (tmp_path / name).write_text("sentence\tlabel\ngood\t1\nbad\t0\n")
    assert main(["classify", "train", "--data", str(tmp_path), "--init", str(tmp_path / "no-such-model"),
                 "--out", str(tmp_path / "r2")]) == 2
    assert "not a pretrained model name" in capsys.readouterr().err


def test_bert_pretrain_reports_held_out_mlm_and_nsp_accuracy(tmp_path, capsys):
    out = tmp_path / "bert"
    assert main(["bert", "pretrain", "--data", "pydoc", "--preset", "tiny", "--max-steps", "4", "--out", str(out),
                 "--set", "eval_every=0", "--set", "checkpoint_every=0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 <= result["mlm_accuracy"] <= 1 and 0 <= result["nsp_accuracy"] <= 1 and result["masked_positions"] > 0
    assert json.loads((out / "config.json").read_text())["kind"] == "bert-pretrain"
