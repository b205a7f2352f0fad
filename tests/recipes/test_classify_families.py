"""`lmlab classify train | eval | predict | errors | compare` for the word-level families, on a tiny TSV."""

import json

import pytest

import dataclasses

from lmlab.cli import main
from lmlab.errors import UserError
from lmlab.recipes import classifier_families

POSITIVE = ["a good film", "really great acting", "wonderful and charming", "i loved it", "a fine , funny movie",
            "great fun", "charming story , good cast", "the best film this year", "funny and wonderful",
            "a great , moving story"]
NEGATIVE = ["a bad film", "really awful acting", "boring and dull", "i hated it", "a dull , lifeless movie",
            "awful mess", "boring story , bad cast", "the worst film this year", "dull and awful", "not good at all"]
DEV = [("good and funny", 1), ("not great", 0), ("a bad , boring film", 0), ("wonderful acting", 1),
       ("good but dull", 0), ("great cast but awful", 0), ("a zorblax film", 1)]


def write_tsv(path, rows):
    path.write_text("sentence\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-sentiment")
    write_tsv(folder / "train.tsv", [(t, 1) for t in POSITIVE] + [(t, 0) for t in NEGATIVE])
    write_tsv(folder / "dev.tsv", DEV)
    return folder


def test_every_family_has_tiny_and_default_presets_of_its_own_config():
    for family in classifier_families.CLASSIFIERS.values():
        assert {"tiny", "default"} <= set(family.presets), family.name
        assert all(isinstance(p.model, family.config_class) for p in family.presets.values()), family.name


@pytest.mark.parametrize("family", ["lexicon", "perceptron", "bow", "textcnn", "bilstm"])
def test_train_eval_predict(family, tiny, tmp_path, capsys):
    out = tmp_path / family
    extra = ["--set", "lexicon=induce"] if family == "lexicon" else []  # no dependence on ../shared
    assert main(["classify", "train", "--model", family, "--data", str(tiny), "--out", str(out), "--preset", "tiny",
                 "--device", "cpu", "--json", *extra]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"config.json", "tokenizer.json", "model.safetensors"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "config.json").read_text())["family"] == family
    assert summary["parameters"] > 0 and summary["seconds"] >= 0
    assert main(["classify", "eval", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sum(map(sum, report["confusion"])) == len(DEV)
    assert report["accuracy"] == pytest.approx(summary["best"]["accuracy"])  # eval sees the kept model
    assert report["accuracy"] >= 4 / 7  # the words of dev all but one are in train
    assert main(["classify", "predict", str(out), "A GOOD FILM", "a bad film", "--json"]) == 0
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["label"] for p in predictions] == [1, 0]  # training sentences, lowercased
    assert all(0.5 <= p["probability"] <= 1 for p in predictions)
    if family in ("perceptron", "bow"):
        assert "bad" in [name for name, _ in summary["top_features"]["negative"]]


def test_lexicon_errors_are_bucketed_by_cause(tiny, tmp_path, capsys):
    out = tmp_path / "lexicon"
    lexicon = tmp_path / "tiny-lexicon.txt"
    lexicon.write_text("good\t1.9\ngreat\t3.1\nwonderful\t2.7\nbad\t-2.5\nawful\t-2.0\nboring\t-1.3\n"
                       "dull\t-1.7\nfunny\t1.9\n")
    assert main(["classify", "train", "--model", "lexicon", "--data", str(tiny), "--out", str(out),
                 "--set", f"lexicon={lexicon}", "--preset", "tiny"]) == 0
    capsys.readouterr()
    mistakes = tmp_path / "mistakes.tsv"  # one sure mistake per cause, whatever the tuned threshold near 0
    write_tsv(mistakes, [("a zorblax film", 1), ("a zorblax movie", 0),  # no lexicon word: score 0, one is wrong
                         ("not good", 1), ("good but awful", 1), ("great", 0), ("a great film", 1)])
    assert main(["classify", "errors", str(out), "--data", str(mistakes), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    buckets = report["buckets"]
    assert report["errors"] == 4 and report["examples"] == 6
    assert {name: bucket["count"] for name, bucket in buckets.items()} == {"negation": 1, "contrast": 1,
                                                                         "unknown": 1, "other": 1}
    assert buckets["negation"]["examples"][0] == {"text": "not good", "label": 1, "predicted": 0}
    assert buckets["unknown"]["sentences_with_cue"] == 2 and buckets["unknown"]["error_rate_with_cue"] == 0.5
    assert main(["classify", "errors", str(out)]) == 0  # the run's dev.tsv, human-readable
    assert "by first cause" in capsys.readouterr().out


def test_compare_writes_one_table_and_skips_what_cannot_start(tiny, tmp_path, capsys, monkeypatch):
    def no_bert(*args):
        raise UserError("--init minilm: no network here")

    bert = classifier_families.CLASSIFIERS["bert"]
    monkeypatch.setitem(classifier_families.CLASSIFIERS, "bert", dataclasses.replace(bert, start=no_bert))
    out = tmp_path / "compare"
    assert main(["classify", "compare", "--data", str(tiny), "--models", "perceptron,textcnn,bert",
                 "--preset", "tiny", "--max-steps", "20", "--out", str(out), "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    rows = {row["model"]: row for row in table["rows"]}
    assert list(rows) == ["perceptron", "textcnn", "bert"]
    assert "no network" in rows["bert"]["skipped"]
    for name in ("perceptron", "textcnn"):
        assert 0 <= rows[name]["accuracy"] <= 1 and rows[name]["parameters"] > 0
        assert rows[name]["sentences_per_s"] > 0 and rows[name]["train_seconds"] >= 0
    markdown = (out / "compare.md").read_text()
    assert "| perceptron |" in markdown and "skipped" in markdown


def test_user_mistakes_exit_2_with_one_line(tiny, tmp_path, capsys):
    cases = [
        (["classify", "train", "--model", "lexicon", "--data", str(tiny), "--out", str(tmp_path / "a"),
          "--set", f"lexicon={tmp_path / 'missing.txt'}"], "not found"),
        (["classify", "train", "--model", "bow", "--init", "minilm", "--data", str(tiny), "--out",
          str(tmp_path / "b")], "--init is for"),
        (["classify", "train", "--model", "textcnn", "--init", str(tmp_path / "no-vectors"), "--data", str(tiny),
          "--out", str(tmp_path / "c")], "no-vectors"),
        (["classify", "train", "--model", "textcnn", "--set", "widths=a,b", "--data", str(tiny), "--out",
          str(tmp_path / "d")], "widths"),
        (["classify", "compare", "--data", str(tiny), "--models", "lexicon,nonesuch"], "unknown classifier 'nonesuch'"),
        (["classify", "train", "--model", "nonesuch", "--data", str(tiny), "--out", str(tmp_path / "e")],
         "unknown classifier 'nonesuch'; choose one of: bert, lexicon"),
        (["classify", "errors", str(tmp_path / "no-run")], "not found"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, (argv, err)


def test_textcnn_starts_from_word2vec_vectors(tiny, tmp_path, capsys):
    pytest.importorskip("lmlab.embeddings.vectors")
    from safetensors.torch import load_file

    from lmlab.tokenizers import Tokenizer

    vectors = {"good": [1.0, 2.0, 3.0, 4.0], "bad": [-1.0, -2.0, -3.0, -4.0], "unused": [9.0, 9.0, 9.0, 9.0]}
    path = tmp_path / "vectors.txt"
    path.write_text(f"{len(vectors)} 4\n" + "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()))
    out = tmp_path / "textcnn-w2v"
    assert main(["classify", "train", "--model", "textcnn", "--init", str(path), "--data", str(tiny), "--out",
                 str(out), "--preset", "tiny", "--max-steps", "1", "--set", "lr=1e-9"]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["model"]["n_embd"] == 4 and str(path) in saved["init"]  # the vectors' size and source
    tokenizer = Tokenizer.load(out / "tokenizer.json")
    table = load_file(str(out / "model.safetensors"))["embedding.weight"]
    for word in ("good", "bad"):  # copied (a learning rate of 1e-9 leaves them where they started)
        assert table[tokenizer.word_to_id[word]].tolist() == pytest.approx(vectors[word], abs=1e-4)
