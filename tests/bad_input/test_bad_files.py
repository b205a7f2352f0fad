"""Bad paths, bad encodings, corrupted and foreign run folders, runs of the wrong kind, malicious
pickles: each refused in one line naming the file, and nothing that existed before is changed."""

import os
import pickle

import pytest
import torch
from badinput import corrupted_copy, edit_json, refused, world  # noqa: F401  (world is a fixture)

KIND_COMMANDS = {  # a command that takes a RUN, the kinds it accepts, and the rest of its arguments
    "sample": ({"lm"}, []), "eval": ({"lm"}, []), "profile": ({"lm"}, ["--steps", "1"]),
    "translate": ({"seq2seq"}, ["hello"]), "seq2seq eval": ({"seq2seq"}, []),
    "attention": ({"lm", "seq2seq"}, ["text", "--out", "{root}/maps/a.png"]),
    "classify eval": ({"classifier"}, []), "classify predict": ({"classifier"}, ["good"]),
    "classify errors": ({"classifier"}, []), "word2vec similar": ({"word2vec"}, ["fox"]),
    "word2vec analogy": ({"word2vec"}, ["a", "b", "c"]), "word2vec eval": ({"word2vec"}, []),
    "word2vec map": ({"word2vec"}, ["fox", "dog", "--out", "{root}/maps/m.png"]),
    "export": ({"lm", "classifier", "bert"}, ["{root}/exported"]),
}
KIND_NAMES = {"lm": "a language-model run", "seq2seq": "a translation run", "classifier": "a classifier run",
              "bert": "a BERT pretraining run", "word2vec": "a word2vec run"}
WRONG_KINDS = [(command, kind) for command, (accepted, _) in KIND_COMMANDS.items() for kind in KIND_NAMES
               if kind not in accepted]


@pytest.mark.parametrize("command, kind", WRONG_KINDS)
def test_a_run_of_the_wrong_kind_is_refused_naming_both(command, kind, world, capsys):
    _, extra = KIND_COMMANDS[command]
    argv = [*command.split(), world[kind], *[a.format(**world) for a in extra]]
    refused(argv, f"is {KIND_NAMES[kind]}; `lmlab {command}` needs", capsys, world["root"])


TRAINERS = {"train": ["train", "--data", "{corpus}", "--preset", "tiny"],
            "seq2seq": ["seq2seq", "train", "--data", "{root}/parallel", "--preset", "tiny"],
            "classify": ["classify", "train", "--model", "bow", "--data", "{glue}", "--preset", "tiny"],
            "bert": ["bert", "pretrain", "--data", "{corpus}", "--preset", "tiny"],
            "word2vec": ["word2vec", "train", "--data", "{corpus}", "--preset", "tiny"]}
OUT_PATHS = [("{mine}", "is not empty and is not an lmlab run (it holds notes.txt)"),
             ("{mine}/notes.txt", "is a file, not a folder"),
             ("/sys/lmlab-run", "cannot create the folder"),
             ("{corpus}/run", "cannot create the folder"),
             ("{lm}", None), ("{classifier}", None), ("{word2vec}", None)]


def _other_kind(command: str, path: str) -> str | None:
    kinds = {"train": "lm", "classify": "classifier", "bert": "bert", "word2vec": "word2vec", "seq2seq": "seq2seq"}
    for kind in ("lm", "classifier", "word2vec"):
        if path == "{" + kind + "}":
            return "already holds a run" if kinds[command] == kind else f"is {KIND_NAMES[kind]};"
    return None


@pytest.mark.parametrize("command", TRAINERS)
@pytest.mark.parametrize("out, message", OUT_PATHS)
def test_output_folders_that_are_not_ours_are_refused(command, out, message, world, capsys):
    message = message or _other_kind(command, out)
    refused([*[a.format(**world) for a in TRAINERS[command]], "--out", out.format(**world)], message, capsys,
            world["root"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(world, capsys):
    refused(["train", "--data", world["corpus"], "--out", world["readonly"] / "run"], "cannot create", capsys,
            world["root"])


FILE_OUTPUTS = [
    (["tokenizer", "train", "--data", "{corpus}", "--algo", "char", "--out", "{lm}/tokenizer.json"],
     "belongs to the run in"),
    (["tokenizer", "train", "--data", "{corpus}", "--algo", "char", "--out", "{mine}/notes.txt"], "already exists"),
    (["tokenizer", "train", "--data", "{corpus}", "--algo", "char", "--out", "{mine}"], "is a folder"),
    (["attention", "{lm}", "text", "--out", "{mine}/notes.txt"], "already exists: add --force"),
    (["word2vec", "map", "{word2vec}", "fox", "dog", "--out", "{mine}/notes.txt"], "already exists"),
    (["seq2seq", "eval", "{seq2seq}", "--out", "{mine}/notes.txt"], "already exists"),
    (["compare", "--preset", "tiny", "--out", "{lm}"], "is a language-model run; `lmlab compare` writes"),
    (["compare", "--preset", "tiny", "--out", "{mine}"], "is not empty"),
    (["classify", "compare", "--data", "{glue}", "--models", "bow", "--out", "{mine}"], "is not empty"),
]


@pytest.mark.parametrize("argv, message", FILE_OUTPUTS)
def test_output_files_are_never_written_over_without_force(argv, message, world, capsys):
    refused([a.format(**world) for a in argv], message, capsys, world["root"])


ENCODINGS = [
    (["classify", "eval", "{classifier}", "--data", "{gbk}"], "line 2 is not UTF-8 (convert the file first"),
    (["classify", "errors", "{classifier}", "--data", "{gbk}"], "line 2 is not UTF-8"),
    (["classify", "train", "--model", "bow", "--data", "{root}/gbk-glue", "--out", "{root}/never"], "is not UTF-8"),
    (["train", "--data", "{latin1}", "--preset", "tiny", "--out", "{root}/never"], "is not valid UTF-8"),
    (["train", "--data", "{binary}", "--preset", "tiny", "--out", "{root}/never"], "is binary"),
    (["tokenizer", "train", "--data", "{latin1}", "--out", "{root}/never.json"], "UTF-8"),
    (["word2vec", "train", "--data", "{binary}", "--out", "{root}/never"], "is binary"),
    (["tokenizer", "encode", "{lm}/tokenizer.json", "--file", "{latin1}"], "line 1 is not UTF-8"),
    (["translate", "{seq2seq}", "--file", "{latin1}"], "line 1 is not UTF-8"),
    (["tokenizer", "encode", "{deep}", "hello"], "not a tokenizer.json (nesting too deep)"),
    (["tokenizer", "encode", "{not_json}", "hello"], "not valid tokenizer.json"),
    (["tokenizer", "encode", "{corpus}", "hello"], "not valid tokenizer.json"),
    (["tokenizer", "decode", "{binary}", "1"], "is not UTF-8"),
    (["word2vec", "similar", "{latin1}", "fox"], "line 1 is not UTF-8"),
    (["word2vec", "eval", "{word2vec}", "--analogies", "{binary}"], "is not UTF-8"),
    (["classify", "eval", "{classifier}", "--data", "{root}/no/such.tsv"], "not found"),
    (["train", "--data", "{root}/no/such/corpus", "--out", "{root}/never-lm"], "no/such/corpus"),
]


@pytest.mark.parametrize("argv, message", ENCODINGS)
def test_files_that_are_not_utf8_text_or_not_what_they_claim_are_refused_by_name(argv, message, world, capsys):
    gbk_glue = world["root"] / "gbk-glue"
    if not gbk_glue.exists():
        gbk_glue.mkdir()
        for name in ("train.tsv", "dev.tsv"):
            (gbk_glue / name).write_bytes(world["gbk"].read_bytes())
    refused([a.format(**world) for a in argv], message, capsys, world["root"])


def _empty(path):
    path.write_bytes(b"")


def _garbage(path):
    path.write_bytes(b"\x00not what it should be\xff" * 10)


def _binary_line(path):
    path.write_bytes(path.read_bytes() + b"\xff\xfe\x00\n{\"step\": 99}\n")


def _list_line(path):
    path.write_text(path.read_text() + "[1, 2]\n{\"step\": 99}\n")


def _huge_ids(path):
    import numpy as np
    ids = np.load(path)
    ids[0] = 65000
    with open(path, "wb") as handle:
        np.save(handle, ids)


def _pickled_object(path):
    import numpy as np
    with open(path, "wb") as handle:
        np.save(handle, np.array([{"a": 1}], dtype=object), allow_pickle=True)


def _another_models_state(path):
    """The trainer state of a wider GPT, saved in this run's place (its step made to match)."""
    import shutil

    from lmlab.cli import main
    from lmlab.train.checkpoint import RunFolder

    other = path.parent.parent / f"{path.parent.name}-other"
    assert main(["train", "--data", str(path.parent.parent.parent / "corpus.txt"), "--preset", "tiny", "--out",
                 str(other), "--max-steps", "2", "--set", "n_embd=64"]) == 0
    shutil.copy(other / "trainer_state.pt", path)
    state = torch.load(path, weights_only=True)
    state["step"] = RunFolder(path.parent).model_step()
    torch.save(state, path)


def no_model(config):
    del config["model"]


def model_is_a_list(config):
    config["model"] = [1, 2]


def unknown_family(config):
    config["model_type"] = "hologram"


def future_format(config):
    config["format_version"] = 99


def wrong_shape(config):
    config["model"]["n_embd"] = 64


CORRUPTIONS = [
    ("lm", "config.json", _empty, "eval", "corrupt config"),
    ("lm", "config.json", _garbage, "eval", "config"),
    ("lm", "config.json", edit_json(no_model), "eval", "not a complete config"),
    ("lm", "config.json", edit_json(model_is_a_list), "eval", "expected a JSON object"),
    ("lm", "config.json", edit_json(unknown_family), "eval", "unknown model family 'hologram'"),
    ("lm", "config.json", edit_json(future_format), "eval", "run format version 99 is not supported"),
    ("lm", "config.json", edit_json(wrong_shape), "eval", "weights do not fit the model"),
    ("lm", "model.safetensors", _garbage, "eval", "not a readable safetensors file"),
    ("lm", "model.safetensors", _empty, "sample", "not a readable safetensors file"),
    ("lm", "tokenizer.json", _garbage, "eval", "tokenizer.json"),
    ("lm", "data/val.npy", _huge_ids, "eval", "holds token id 65000"),
    ("lm", "data/val.npy", _pickled_object, "eval", "not a valid token-id array"),
    ("lm", "data/val.npy", _garbage, "eval", "not a valid token-id array"),
    ("classifier", "config.json", edit_json(no_model), "classify eval", "not a complete config"),
    ("classifier", "best/model.safetensors", _garbage, "classify predict", "not a readable safetensors"),
    ("seq2seq", "tokenizer.json", _empty, "translate", "tokenizer.json"),
    ("trained", "metrics.jsonl", _binary_line, "train --resume --out", "metrics.jsonl: line 3 is not UTF-8"),
    ("trained", "metrics.jsonl", _list_line, "train --resume --out", "metrics.jsonl:3: not a metrics record"),
    ("trained", "trainer_state.pt", _empty, "train --resume --out", "corrupt or foreign trainer state (EOFError"),
    ("trained", "trainer_state.pt", _garbage, "train --resume --out", "corrupt or foreign trainer state"),
    ("trained", "trainer_state.pt", _another_models_state, "train --resume --out",
     "the optimizer state belongs to another model"),
    ("word2vec", "vocab.json", _garbage, "word2vec similar", "vocab.json"),
    ("word2vec", "vectors.safetensors", _garbage, "word2vec similar", "vectors.safetensors"),
]


@pytest.mark.parametrize("kind, name, damage, command, message", CORRUPTIONS,
                         ids=[f"{k}-{n}-{d.__name__}" for k, n, d, _, _ in CORRUPTIONS])
def test_corrupted_run_files_are_refused_by_name(kind, name, damage, command, message, world, capsys):
    folder = corrupted_copy(world, kind, name, damage)
    extra = {"translate": ["hello"], "classify predict": ["good"], "word2vec similar": ["fox"],
             "train --resume --out": ["--max-steps", "40"]}.get(command, [])
    refused([*command.split(), folder, *extra], message, capsys, world["root"], any_line=True)


class Payload:
    """Unpickling this would run a shell command: lmlab must never do it."""

    def __reduce__(self):
        return os.system, ("touch " + os.environ.get("LMLAB_PWNED", "/tmp/lmlab-pwned"),)


def test_a_malicious_trainer_state_is_refused_and_never_run(world, capsys, tmp_path, monkeypatch):
    from lmlab.cli import main

    run = tmp_path / "run"
    assert main(["train", "--data", world["corpus"], "--preset", "tiny", "--out", run, "--max-steps", "2"]) == 0
    marker = tmp_path / "pwned"
    monkeypatch.setenv("LMLAB_PWNED", str(marker))
    with open(run / "trainer_state.pt", "wb") as handle:
        pickle.dump({"format_version": 1, "step": 2, "evil": Payload()}, handle)
    capsys.readouterr()
    refused(["train", "--out", run, "--resume", "--max-steps", "4"], "corrupt or foreign trainer state", capsys,
            tmp_path, any_line=True)
    assert not marker.exists()
    torch.save({"format_version": 1, "step": 2}, run / "trainer_state.pt")  # a plain, foreign dict
    refused(["train", "--out", run, "--resume", "--max-steps", "4"], "trainer_state.pt", capsys, tmp_path,
            any_line=True)
