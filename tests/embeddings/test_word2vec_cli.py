"""`lmlab word2vec train | similar | analogy | eval | map` end to end on a tiny text, and user mistakes."""

import json
import subprocess

import pytest
import torch

from conftest import shared_data
from lmlab.cli import main
from lmlab.embeddings.vectors import load_vectors
from lmlab.embeddings.word2vec import Word2Vec
from lmlab.train.checkpoint import RunFolder


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def run(tmp_path, text_file):
    out = tmp_path / "run"
    assert main(["word2vec", "train", "--data", str(text_file), "--out", str(out), "--preset", "tiny",
                 "--threads", "1", "--set", "epochs=3"]) == 0
    return out


def test_train_writes_a_run_folder_and_reports_memory(tmp_path, text_file, capsys):
    out = tmp_path / "run"
    code = main(["word2vec", "train", "--data", str(text_file), "--out", str(out), "--preset", "tiny", "--arch",
                 "cbow", "--dim", "8", "--window", "2", "--negative", "2", "--min-count", "2", "--epochs", "2",
                 "--threads", "1", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    summary = json.loads(captured.out)
    assert summary["arch"] == "cbow" and summary["dim"] == 8 and summary["words"] == 2 * 120 * 13  # 2 epochs x 120 lines x 13 words
    assert "one-hot" in captured.err and "dense" in captured.err
    V = summary["vocab_size"]
    assert summary["memory"]["one_hot_bytes"] == V * V * 4 and summary["memory"]["dense_bytes"] == V * 8 * 4
    config = RunFolder(out).read_config()
    assert config["word2vec"]["arch"] == "cbow" and config["word2vec"]["window"] == 2
    vectors = load_vectors(out)
    assert vectors.vectors.shape == (V, 8) and RunFolder(out).read_metrics()[0]["steps"] == summary["steps"]


def test_similar_analogy_eval_and_map(run, tmp_path, capsys):
    assert main(["word2vec", "similar", str(run), "fox", "-n", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["word"] == "fox" and len(result["neighbours"]) == 3
    assert all(-1 <= n["cosine"] <= 1 and n["word"] != "fox" for n in result["neighbours"])
    assert main(["word2vec", "analogy", str(run), "quick", "brown", "lazy", "--method", "mul", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "mul" and {"quick", "brown", "lazy"}.isdisjoint(a["word"] for a in result["answers"])
    questions = tmp_path / "q.txt"
    questions.write_text(": family\nquick brown lazy dog\nquick brown cat dog\n")
    wordsim = tmp_path / "ws.tsv"
    wordsim.write_text("# w1\tw2\tscore\nquick\tbrown\t5\nfox\tdog\t7\nlazy\tvoice\t1\n")
    assert main(["word2vec", "eval", str(run), "--analogies", str(questions), "--wordsim", str(wordsim), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["analogies"]["total"]["covered"] == 1 and report["analogies"]["total"]["coverage"] == 0.5
    assert report["wordsim"]["covered"] == 3 and -1 <= report["wordsim"]["spearman"] <= 1
    picture = tmp_path / "map.png"
    assert main(["word2vec", "map", str(run), "quick", "brown", "fox", "dog", "--out", str(picture)]) == 0
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_finds_the_shared_files_by_environment(run, capsys, monkeypatch):
    folder = shared_data("embedding-eval")
    monkeypatch.setenv("LMLAB_EMBEDDING_EVAL", str(folder))
    assert main(["word2vec", "eval", str(run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["analogies"]["total"]["total"] == 19544 and report["wordsim"]["total"] == 353


def test_user_mistakes_exit_2_with_one_line(run, tmp_path, capsys, monkeypatch):
    cases = [
        (["word2vec", "similar", str(run), "zebra"], "'zebra'"),
        (["word2vec", "analogy", str(run), "quick", "brown", "zebra"], "'zebra'"),
        (["word2vec", "map", str(run), "fox", "zebra", "--out", str(tmp_path / "m.png")], "'zebra'"),
        (["word2vec", "similar", str(tmp_path / "nothing"), "fox"], "neither"),
        (["word2vec", "train", "--data", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "x")], "missing.txt"),
        (["word2vec", "train", "--data", str(run / "config.json"), "--set", "nope=1"], "unknown key 'nope'"),
        (["word2vec", "eval", str(run), "--analogies", str(tmp_path / "none.txt")], "none.txt"),
        (["word2vec", "train", "--data", str(run / "config.json"), "--out", str(run)], "already holds a run"),
        (["word2vec", "train", "--preset", "huge"], "unknown preset 'huge'"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1, (argv, err)
    # no files given, offline: the message says what to pass instead
    monkeypatch.delenv("LMLAB_EMBEDDING_EVAL", raising=False)
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path / "cache"))
    offline = subprocess.CompletedProcess([], 1, "", "ERROR: No matching distribution found\n")
    monkeypatch.setattr("lmlab.data.pretrained.subprocess.run", lambda command, **kwargs: offline)
    assert main(["word2vec", "eval", str(run)]) == 2
    assert "--analogies questions-words.txt and --wordsim wordsim353.tsv" in capsys.readouterr().err
    # a folder named by the environment that lacks a file
    monkeypatch.setenv("LMLAB_EMBEDDING_EVAL", str(tmp_path))
    assert main(["word2vec", "eval", str(run)]) == 2
    assert "lacks questions-words.txt, wordsim353.tsv" in capsys.readouterr().err


def test_ctrl_c_saves_the_vectors_trained_so_far(tmp_path, text_file, monkeypatch, capsys):
    chunks = []
    original = Word2Vec._train_chunk

    def interrupted_after_one_chunk(self, *args):
        if chunks:
            raise KeyboardInterrupt
        chunks.append(1)
        return original(self, *args)

    monkeypatch.setattr(Word2Vec, "_train_chunk", interrupted_after_one_chunk)
    out = tmp_path / "run"
    code = main(["word2vec", "train", "--data", str(text_file), "--out", str(out), "--preset", "tiny",
                 "--threads", "1", "--set", "chunk_words=200"])
    assert code == 130 and "saved the vectors trained so far" in capsys.readouterr().err
    assert RunFolder(out).read_metrics()[0]["interrupted"] is True
    assert len(load_vectors(out)) > 10
