"""Claiming an output path before anything is written to it: a new folder, lmlab's own run, or no.

Every command that writes asks here first, so that no command writes into a folder that holds
someone's own files, replaces a file lmlab did not write, or fails halfway with a traceback
because the path is a file, read-only, or under /sys:

    --out DIR    new or empty               -> claimed: a marker `.lmlab` records the kind
                 a run of this kind          -> only with --resume (the recipe continues it)
                 a run of another kind       -> refused, naming both kinds
                 lmlab's, never finished     -> claimed again (the marker says lmlab made it)
                 anything else               -> refused; --force writes beside those files,
                                                never over one of them
    --out FILE   new                         -> claimed
                 existing                    -> refused; --force replaces it
                 part of a run folder        -> refused: replacing it would break the run

Torch-free: it reads config.json and the marker as JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lmlab.errors import UserError
from lmlab.io import atomic_write_json

MARKER = ".lmlab"  # {"kind": ...}: lmlab made this folder (written before any other file)
# config.json's (or the marker's) "kind": what a folder is, how to say it, the command that makes one
KINDS = {
    "lm": ("a language-model run", "lmlab train"),
    "seq2seq": ("a translation run", "lmlab seq2seq train"),
    "classifier": ("a classifier run", "lmlab classify train"),
    "bert-pretrain": ("a BERT pretraining run", "lmlab bert pretrain"),
    "word2vec": ("a word2vec run", "lmlab word2vec train"),
    "compare": ("a comparison of language models", "lmlab compare"),
    "classify-compare": ("a comparison of classifiers", "lmlab classify compare"),
    "experiment": ("an experiment run", "lmlab experiment run"),
    "hf-export": ("a Hugging Face folder exported by lmlab", "lmlab export"),
}
# what a run folder (or an exported Hugging Face folder) may hold: --force never writes into a folder that
# has one of these already
RUN_FILES = {"config.json", "tokenizer.json", "source_tokenizer.json", "model.safetensors", "trainer_state.pt",
             "metrics.jsonl", "loss.png", "data", "best", "vectors.safetensors", "vocab.json", "compare.json",
             "compare.md", "compare.png", "tokenizer_config.json", "generation_config.json", "vocab.txt"}


def kind_name(kind: str) -> str:
    return KINDS.get(kind, (f"a {kind} run",))[0]


def with_kind(config: dict) -> dict:
    """config.json with its `kind` and `family`; runs written before those keys (lmlab 0.1.0 said
    `model_type` and, for classifiers, `task`) get them from what they did say."""
    if "kind" in config:
        return config
    config = dict(config)
    family = config.pop("model_type", "gpt")
    if config.pop("task", None) == "classify":
        kind = "classifier"
    else:
        kind = {"bert-pretraining": "bert-pretrain", "seq2seq": "seq2seq"}.get(family, "lm")
    config["kind"], config["family"] = kind, {"bert-pretraining": "bert"}.get(family, family)
    return config


def folder_kind(path: Path) -> str | None:
    """The kind of lmlab folder `path` is (config.json's kind, else the marker's), or None."""
    for name in ("config.json", MARKER):
        try:
            document = json.loads((path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and ("format_version" in document or name == MARKER):
            return with_kind(document)["kind"]
    return None


def _make_folder(path: Path, flag: str) -> None:
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"{flag} {path}: cannot create the folder ({error.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: the folder is not writable")


def claim_folder(path, kind: str, resume: bool = False, force: bool = False, command: str = "this command",
                 flag: str = "--out", mark: bool = True) -> Path:
    """Make `path` the output folder of a `kind` run, or refuse it with one line saying why. With
    `mark=False` only check: the recipe calls `mark_folder` once its configuration is valid."""
    path = Path(path)
    found = folder_kind(path) if path.is_dir() else None
    if found is not None and found != kind:
        raise UserError(f"{path} is {kind_name(found)}; `{command}` writes {kind_name(kind)}: choose another "
                        f"{flag}")
    if resume:
        if found is None or not (path / "config.json").is_file():
            raise UserError(f"--resume: {path} holds nothing to continue (no config.json): start it without --resume")
        return path
    if found is not None and (path / "config.json").is_file():
        raise UserError(f"{path} already holds a run: continue it with --resume or choose another {flag}")
    if found is None and path.is_dir():
        _refuse_foreign_files(path, force, flag)
    if mark:
        mark_folder(path, kind, flag)
    else:
        _check_creatable(path, flag)
    return path


def _check_creatable(path: Path, flag: str) -> None:
    """Create the folders `path` needs and take away the new ones again: what cannot be created is
    refused now, before minutes of work, and nothing is left behind."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    _make_folder(path, flag)
    for folder in missing:  # deepest first
        folder.rmdir()


def mark_folder(path, kind: str, flag: str = "--out") -> Path:
    """Create the claimed folder and its marker: from here on, lmlab knows the folder is its own."""
    path = Path(path)
    _make_folder(path, flag)
    if not (path / MARKER).exists() and not (path / "config.json").exists():
        atomic_write_json(path / MARKER, {"kind": kind})
    return path


def _refuse_foreign_files(path: Path, force: bool, flag: str) -> None:
    names = sorted(entry.name for entry in path.iterdir())
    if not names:
        return
    if not force:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise UserError(f"{flag} {path} is not empty and is not an lmlab run (it holds {shown}): choose a new "
                        f"folder, or add --force to write beside those files")
    clashes = sorted(set(names) & RUN_FILES)
    if clashes:
        raise UserError(f"--force writes beside your files, never over them: {path} already has "
                        f"{', '.join(clashes)}")


def claim_file(path, force: bool = False, flag: str = "--out") -> Path:
    """Make `path` an output file (its folder created), or refuse it with one line saying why."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a folder; give a file name")
    if folder_kind(path.parent) is not None and path.name in RUN_FILES:
        raise UserError(f"{flag} {path}: belongs to the run in {path.parent}; replacing it would break the run")
    if path.exists() and not force:
        raise UserError(f"{flag} {path} already exists: add --force to replace it")
    _make_folder(path.parent, flag)
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{flag} {path}: the file is not writable")
    return path
