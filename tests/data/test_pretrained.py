"""Files lmlab fetches with pip: the VADER lexicon from the vaderSentiment source distribution, and the
word2vec evaluation sets from gensim's wheel."""

import dataclasses
import hashlib
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import shared_data

from lmlab.data import pretrained
from lmlab.errors import UserError
from lmlab.recipes.classify_words import lexicon_file


@pytest.fixture
def fake_vader_sdist(tmp_path):
    """A vaderSentiment-3.3.2.tar.gz holding a two-word vader_lexicon.txt, and its bytes."""
    member = tmp_path / "sdist" / pretrained.VADER_MEMBER
    member.parent.mkdir(parents=True)
    member.write_text("good\t1.9\t0.9\t[2, 2]\nbad\t-2.5\t0.7\t[-3, -2]\n", encoding="utf-8")
    archive = tmp_path / pretrained.VADER.filename
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(member, arcname=pretrained.VADER_MEMBER)
    return archive.read_bytes()


def pip_that_saves(monkeypatch, archive: bytes | None, calls: list, filename: str = pretrained.VADER.filename):
    """Replace `subprocess.run` in pretrained by a pip that saves `archive` as `filename` (None: fails,
    offline)."""
    def run(command, **kwargs):
        calls.append(command)
        if archive is None:
            return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found\n")
        (Path(command[command.index("--dest") + 1]) / filename).write_bytes(archive)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(pretrained.subprocess, "run", run)


def test_vader_is_fetched_verified_and_unpacked_once(tmp_path, monkeypatch, fake_vader_sdist):
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path / "cache"))
    fake = dataclasses.replace(pretrained.VADER, sha256=hashlib.sha256(fake_vader_sdist).hexdigest())
    monkeypatch.setattr(pretrained, "VADER", fake)
    calls = []
    pip_that_saves(monkeypatch, fake_vader_sdist, calls)
    path = pretrained.vader_lexicon()
    assert path.read_text(encoding="utf-8").startswith("good\t1.9")
    assert "--no-binary" in calls[0] and calls[0][-1] == "vaderSentiment==3.3.2"
    assert pretrained.vader_lexicon() == path and len(calls) == 1  # the second time from the cache


def test_a_vader_sdist_with_another_sha256_is_refused_and_not_kept(tmp_path, monkeypatch, fake_vader_sdist):
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path / "cache"))
    pip_that_saves(monkeypatch, fake_vader_sdist, [])
    with pytest.raises(UserError, match=f"has sha256 .* not {pretrained.VADER.sha256}: it was deleted"):
        pretrained.vader_lexicon()
    assert list((tmp_path / "cache" / "sdists").iterdir()) == []


def test_offline_the_error_names_the_options_and_auto_induces(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path / "cache"))
    pip_that_saves(monkeypatch, None, [])
    with pytest.raises(UserError, match="--set lexicon=PATH with a local vader_lexicon.txt, or --set lexicon=induce"):
        lexicon_file("vader")
    assert lexicon_file("auto") == "induce"
    assert "inducing a lexicon" in capsys.readouterr().err


def test_real_vader_lexicon_is_the_one_vadersentiment_ships():
    """Downloads ~2.5 MB once into the default cache, then reads it from there."""
    reference = shared_data("lexicons/vader_lexicon.txt")
    try:
        path = pretrained.vader_lexicon()
    except UserError as error:
        if "could not download" in str(error):
            pytest.skip(f"the package index is unreachable: {error}")
        raise
    assert path.read_bytes() == reference.read_bytes()


def test_the_embedding_eval_sets_come_from_one_platform_wheel_of_gensim(tmp_path, monkeypatch):
    """Whatever the machine, pip is asked for the same x86-64 CPython 3.11 wheel (one sha256 holds)."""
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path / "cache"))
    wheel = tmp_path / "gensim.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(pretrained.GENSIM_MEMBER + "questions-words.txt", ": capital\nAthens Greece Baghdad Iraq\n")
        archive.writestr(pretrained.GENSIM_MEMBER + "wordsim353.tsv", "# header\n# header\ntiger\tcat\t7.35\n")
    fake = dataclasses.replace(pretrained.GENSIM, sha256=hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setattr(pretrained, "GENSIM", fake)
    calls = []
    pip_that_saves(monkeypatch, wheel.read_bytes(), calls, pretrained.GENSIM.filename)
    folder = pretrained.embedding_eval_folder()
    assert (folder / "wordsim353.tsv").read_text(encoding="utf-8").endswith("tiger\tcat\t7.35\n")
    command = calls[0]
    assert command[command.index("--platform") + 1] == "manylinux_2_28_x86_64" and "--only-binary" in command
    assert command[command.index("--python-version") + 1] == "3.11" and command[-1] == "gensim==4.4.0"
    assert pretrained.embedding_eval_folder() == folder and len(calls) == 1


def test_real_embedding_eval_sets_are_the_ones_gensim_ships():
    """Downloads the 28 MB gensim wheel once into the default cache, then reads the two files from it."""
    reference = shared_data("embedding-eval")
    try:
        folder = pretrained.embedding_eval_folder()
    except UserError as error:
        if "could not download" in str(error):
            pytest.skip(f"the package index is unreachable: {error}")
        raise
    for name in pretrained.EMBEDDING_EVAL_FILES:
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name
