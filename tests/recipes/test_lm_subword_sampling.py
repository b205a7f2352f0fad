"""`lmlab train --set bpe_dropout=P` / `--set sample_alpha=A`: the training split is read with a
sampled segmentation (more, smaller pieces); validation and the saved tokenizer stay plain."""

import json

import numpy as np
import pytest

from lmlab.cli import main
from lmlab.tokenizers import load_tokenizer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("sampling") / "corpus.txt"
    path.write_text("".join(f"Line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(80)))
    return path


def train(corpus, out, tokenizer, *assignments):
    sets = [word for assignment in assignments for word in ("--set", assignment)]
    return main(["train", "--model", "gpt", "--data", str(corpus), "--out", str(out), "--preset", "tiny",
                 "--tokenizer", tokenizer, "--vocab-size", "400", "--max-steps", "1", *sets])


@pytest.mark.parametrize("tokenizer, sampling", [("bpe", "bpe_dropout=0.3"), ("unigram", "sample_alpha=0.2")])
def test_only_the_training_split_is_sampled(tokenizer, sampling, corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "plain", tokenizer) == 0
    assert train(corpus, tmp_path / "sampled", tokenizer, sampling) == 0
    ids = {run: {split: np.load(tmp_path / run / "data" / f"{split}.npy") for split in ("train", "val")}
           for run in ("plain", "sampled")}
    assert len(ids["sampled"]["train"]) > len(ids["plain"]["train"])  # sampled pieces are smaller
    assert np.array_equal(ids["sampled"]["val"], ids["plain"]["val"])
    saved = load_tokenizer(tmp_path / "sampled" / "tokenizer.json")
    assert saved.decode(ids["sampled"]["train"].tolist()) == saved.decode(ids["plain"]["train"].tolist())
    assert not json.loads((tmp_path / "sampled" / "tokenizer.json").read_text())["model"].get("dropout")


def test_sampling_for_the_wrong_tokenizer_is_refused(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "x", "unigram", "bpe_dropout=0.1") == 2
    assert "tokenizer=bpe" in capsys.readouterr().err
