"""One run-folder contract: config.json's `kind`, `lmlab.runs.load_run` for every kind, runs written
before the kind key (tests/fixtures/runs-format-1, lmlab 0.1.0) still open and give the numbers
they gave then, and a run of the wrong kind is refused with one line naming both kinds."""

import json
import shutil

import pytest

from conftest import REPO
from lmlab.cli import main
from lmlab.errors import UserError
from lmlab.runs import load_run

OLD = REPO / "tests" / "fixtures" / "runs-format-1"


@pytest.mark.parametrize("folder, kind, family", [("lm", "lm", "gpt"), ("ngram", "lm", "ngram"),
                                                  ("classifier", "classifier", "bow"), ("seq2seq", "seq2seq", "seq2seq"),
                                                  ("bert", "bert-pretrain", "bert"), ("word2vec", "word2vec", None)])
def test_runs_written_before_the_kind_key_open_as_their_kind(folder, kind, family):
    run = load_run(OLD / folder)
    assert (run.kind, run.family) == (kind, family)
    assert "model_type" not in run.config and "task" not in run.config


@pytest.mark.parametrize("folder, loss", [("lm", 3.7413457857739423), ("ngram", 0.40412032843167106)])
def test_old_language_model_runs_evaluate_as_they_did(folder, loss, capsys):
    assert main(["eval", OLD / folder, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(loss, rel=1e-6)


def test_old_classifier_and_word2vec_runs_answer_as_they_did(capsys):
    assert main(["classify", "predict", OLD / "classifier", "a great film", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == pytest.approx({"text": "a great film", "label": 1,
                                                                 "probability": 0.6734170913696289})
    assert main(["word2vec", "similar", OLD / "word2vec", "fox", "-n", "2", "--json"]) == 0
    assert [n["word"] for n in json.loads(capsys.readouterr().out)["neighbours"]] == ["jumps", "quick"]


@pytest.mark.parametrize("argv, message", [
    (["sample", OLD / "classifier"], "is a classifier run; `lmlab sample` needs a language-model run"),
    (["eval", OLD / "seq2seq"], "is a translation run; `lmlab eval` needs a language-model run"),
    (["translate", OLD / "lm", "hello"], "is a language-model run; `lmlab translate` needs a translation run"),
    (["classify", "eval", OLD / "lm"], "is a language-model run; `lmlab classify eval` needs a classifier run"),
    (["profile", OLD / "word2vec"], "is a word2vec run; `lmlab profile` needs a language-model run"),
    (["attention", OLD / "bert", "text", "--out", "x.png"],
     "is a BERT pretraining run; `lmlab attention` needs a language-model run or a translation run"),
    (["word2vec", "similar", OLD / "lm", "fox"], "is a language-model run; `lmlab word2vec similar` needs a word2vec"),
])
def test_a_run_of_the_wrong_kind_is_refused_in_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_a_run_of_an_unknown_kind_is_refused(tmp_path):
    shutil.copytree(OLD / "lm", tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    (tmp_path / "run" / "config.json").write_text(json.dumps({**config, "kind": "hologram"}))
    with pytest.raises(UserError, match="unknown kind 'hologram'"):
        load_run(tmp_path / "run")
