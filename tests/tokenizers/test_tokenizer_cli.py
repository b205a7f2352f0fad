"""`lmlab tokenizer train | encode | decode | inspect` (lmlab/recipes/tokenizer.py), through the CLI."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest
from conftest import REPO, shared_data

from lmlab.tokenizers import load_tokenizer
from lmlab.recipes.tokenizer import DEFAULT_SAMPLE
from lmlab.tokenizers.bpe import GPT4_PATTERN


def lmlab(*args, cwd, extra_options=()):
    """Run `python [OPTIONS] -m lmlab ARGS` in `cwd` with its own cache; return the finished process."""
    return subprocess.run([sys.executable, *extra_options, "-m", "lmlab", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LMLAB_CACHE": str(cwd / "cache")})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A BPE tokenizer trained by the CLI on a small corpus file: (folder, tokenizer path)."""
    folder = tmp_path_factory.mktemp("cli")
    corpus = folder / "corpus.txt"
    corpus.write_text("".join(f"Line {i}: the quick brown fox jumps over the lazy dog, {i % 7} times.\n"
                              for i in range(200)), encoding="utf-8")
    result = lmlab("tokenizer", "train", "--algo", "bpe", "--vocab-size", 300, "--data", corpus,
                   "--out", "out/bpe.json", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote out/bpe.json: bpe, 300 tokens")
    return folder, folder / "out" / "bpe.json"


@pytest.mark.parametrize("algo, options", [("char", []), ("word", ["--set", "min_freq=2"]),
                                           ("wordpiece", ["--set", "lowercase=false"]), ("unigram", [])])
def test_train_every_algorithm(trained, algo, options):
    folder, _ = trained
    result = lmlab("tokenizer", "train", "--algo", algo, "--vocab-size", 300, "--data", folder / "corpus.txt",
                   "--out", f"{algo}.json", *options, cwd=folder)
    assert result.returncode == 0, result.stderr
    tokenizer = load_tokenizer(folder / f"{algo}.json")
    assert tokenizer.type_name == algo and tokenizer.vocab_size <= 300
    assert "training split" in result.stderr


def test_set_passes_typed_options_to_the_algorithm(trained):
    folder, _ = trained
    for algo, options in [("wordpiece", ["lowercase=false", "strip_accents=true"]), ("bpe", ["pattern=gpt4"])]:
        result = lmlab("tokenizer", "train", "--algo", algo, "--vocab-size", 300, "--data", folder / "corpus.txt",
                       "--out", "options.json", "--force", *[word for o in options for word in ("--set", o)], cwd=folder)
        assert result.returncode == 0, result.stderr
        tokenizer = load_tokenizer(folder / "options.json")
        if algo == "wordpiece":
            assert (tokenizer.normalizer.lowercase, tokenizer.normalizer.strip_accents) == (False, True)
        else:
            assert tokenizer.pattern == GPT4_PATTERN


def test_encode_text_then_decode_the_ids(trained):
    folder, path = trained
    result = lmlab("tokenizer", "encode", path, "the lazy dog", cwd=folder)
    assert result.returncode == 0, result.stderr
    ids_line, tokens_line = result.stdout.splitlines()
    ids = [int(i) for i in ids_line.removeprefix("ids:").split()]
    assert ids == load_tokenizer(path).encode("the lazy dog")
    assert "".join(json.loads(tokens_line.removeprefix("tokens:"))) == "the lazy dog"
    decoded = lmlab("tokenizer", "decode", path, *ids, cwd=folder)
    assert decoded.returncode == 0 and decoded.stdout == "the lazy dog\n"


def test_encode_a_file_as_json_lines_one_per_line_without_the_newlines(trained):
    folder, path = trained
    (folder / "lines.txt").write_bytes(b"the fox\r\n\n<|endoftext|> dog\n")
    result = lmlab("tokenizer", "encode", path, "--file", folder / "lines.txt", "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    tokenizer = load_tokenizer(path)
    assert [row["ids"] for row in rows] == [tokenizer.encode(t) for t in ["the fox", "", "<|endoftext|> dog"]]
    assert all(row["tokens"] == [tokenizer.id_to_token(i) for i in row["ids"]] for row in rows)
    special = lmlab("tokenizer", "encode", path, "<|endoftext|>", "--json", "--allow-special", cwd=folder)
    assert json.loads(special.stdout)["ids"] == [tokenizer.eot_id]


def test_inspect_reports_size_specials_longest_tokens_and_tokens_per_word(trained):
    folder, path = trained
    result = lmlab("tokenizer", "inspect", path, "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["vocab_size"] == 300 and report["special_tokens"] == {"<|endoftext|>": 299}
    assert len(report["longest_tokens"]) == 10
    assert report["tokens_per_word"] == round(report["sample_tokens"] / report["sample_words"], 3) > 1
    with_data = lmlab("tokenizer", "inspect", path, "--data", folder / "corpus.txt", cwd=folder)
    assert with_data.returncode == 0 and "validation split" in with_data.stdout


def test_inspect_shows_how_a_chinese_sentence_is_cut_also_for_a_sentencepiece_model(trained):
    folder, path = trained
    report = json.loads(lmlab("tokenizer", "inspect", path, "--json", cwd=folder).stdout)
    tokenizer = load_tokenizer(path)  # byte-level BPE trained on English: Chinese falls to bytes
    assert report["chinese_cut"].replace(" | ", "") == "迈向充满希望的新世纪——一九九八年新年讲话"
    assert report["chinese_cut"].count(" | ") + 1 == len(tokenizer.encode("迈向充满希望的新世纪——一九九八年新年讲话"))
    assert report["chars_per_token"] == round(len(DEFAULT_SAMPLE) / report["sample_tokens"], 3)
    model = shared_data("sentencepiece/botchan_en_unigram_1000.model")
    result = lmlab("tokenizer", "inspect", model, cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "vocab size       1000" in result.stdout and "sample cut       A |  to | k | en" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["encode", "missing.json", "hi"], "tokenizer file not found: missing.json"),
    (["encode", "{path}", "hi", "--file", "x.txt"], "give either TEXT or --file PATH"),
    (["encode", "{path}", "--file", "nope.txt"], "--file nope.txt: no such file"),
    (["decode", "{path}", "5", "300"], "id 300 is not in this tokenizer's vocabulary"),
    (["train", "--algo", "bpe", "--vocab-size", "100", "--data", "corpus.txt"], "at least 257"),
    (["train", "--algo", "bpe", "--set", "colour=red", "--data", "corpus.txt"], "pattern, min_frequency"),
])
def test_user_mistakes_exit_2_with_one_line(trained, args, message):
    folder, path = trained
    result = lmlab("tokenizer", *[a.format(path=path) for a in args], cwd=folder)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    error = result.stderr.splitlines()[-1]  # any line before it is progress ("training a bpe tokenizer on ...")
    assert error.startswith(f"lmlab tokenizer {args[0]}: error:") and message in error


@pytest.mark.parametrize("args", [["encode", "{path}", "hello"], ["inspect", "{path}"],
                                  ["train", "--algo", "unigram", "--vocab-size", "300", "--data", "corpus.txt",
                                   "--out", "u.json"]])
def test_tokenizer_commands_import_neither_torch_nor_numpy(trained, args):
    folder, path = trained
    result = lmlab("tokenizer", *[a.format(path=path) for a in args], cwd=folder, extra_options=["-X", "importtime"])
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "lmlab" in imported and not imported & {"torch", "numpy"}


def test_the_commands_of_the_tokenizer_chapter_run_as_written(tmp_path):
    chapter = (REPO / "docs" / "tokenizers.md").read_text(encoding="utf-8")
    (commands,) = re.findall(r"```bash\n(.*?)```", chapter, flags=re.S)
    outputs = []
    for line in commands.strip().splitlines():
        words = shlex.split(line)
        assert words[0] == "lmlab"
        result = lmlab(*words[1:], cwd=tmp_path)
        assert result.returncode == 0, (line, result.stderr[-2000:])
        outputs.append(result.stdout)
    assert "Hi!\n" in outputs  # the decode line, as the chapter says
    (python,) = re.findall(r"```python\n(.*?)```", chapter, flags=re.S)
    result = subprocess.run([sys.executable, "-c", python], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3, result.stderr
