"""`lmlab classify train --set tokenizer=bpe|unigram` for the word-level families, and subword
regularisation where training reads the sentences: bpe_dropout / sample_alpha resample each epoch."""

import json

import pytest
from test_classify_families import tiny  # noqa: F401  (the fixture: a tiny sentiment folder)

from lmlab.cli import main
from lmlab.data.classification import Example
from lmlab.recipes import classify
from lmlab.recipes.classifier_families import classifier_family
from lmlab.tokenizers import load_tokenizer


def sets(*assignments):
    return [word for assignment in assignments for word in ("--set", assignment)]


@pytest.mark.parametrize("tokenizer", ["bpe", "unigram"])
def test_bow_reads_pieces_and_the_run_keeps_a_plain_tokenizer(tokenizer, tiny, tmp_path, capsys):
    out = tmp_path / tokenizer
    sampling = "bpe_dropout=0.2" if tokenizer == "bpe" else "sample_alpha=0.3"
    assert main(["classify", "train", "--model", "bow", "--data", str(tiny), "--out", str(out), "--preset", "tiny",
                 *sets(f"tokenizer={tokenizer}", "data.vocab_size=300", sampling), "--json"]) == 0
    capsys.readouterr()
    saved = json.loads((out / "tokenizer.json").read_text())
    assert saved["model"]["lmlab"]["type"] == tokenizer and not saved["model"].get("dropout")
    plain = load_tokenizer(out / "tokenizer.json")
    assert len({tuple(plain.encode("wonderful and charming")) for _ in range(10)}) == 1  # deterministic
    assert main(["classify", "predict", str(out), "A GOOD FILM", "a bad film", "--json"]) == 0
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(predictions) == 2 and all(0.5 <= p["probability"] <= 1 for p in predictions)


def test_the_training_rows_are_resampled_each_epoch_and_pure_in_the_epoch(tiny, tmp_path, capsys):
    family = classifier_family("bow")
    config = family.presets["tiny"]
    config.data.tokenizer, config.data.vocab_size, config.data.bpe_dropout = "bpe", 300, 0.3
    examples = [Example("really wonderful and charming acting", 1), Example("boring and lifeless", 0)] * 5
    from lmlab.recipes.classify_words import word_tokenizer

    tokenizer = word_tokenizer(config, [e.text for e in examples])
    plain = family.encode(tokenizer, examples, 64)
    resample = classify._resampler(family, tokenizer, examples, 64, config)
    first, again, second = resample(0), resample(0), resample(1)
    assert first == again and first != second  # a pure function of the epoch, another segmentation each epoch
    assert family.encode(tokenizer, examples, 64) == plain  # and the tokenizer is plain again afterwards
    for rows in (first, second):
        assert [tokenizer.decode(ids) for ids, _, _ in rows] == [e.text for e in examples]
        assert sum(len(ids) for ids, _, _ in rows) > sum(len(ids) for ids, _, _ in plain)  # dropout splits
    config.data.bpe_dropout = 0.0
    assert classify._resampler(family, tokenizer, examples, 64, config) is None


@pytest.mark.parametrize("flags, message", [
    (["--model", "bert", *sets("tokenizer=bpe")], "WordPiece"),
    (["--model", "bow", *sets("tokenizer=unigram", "bpe_dropout=0.1")], "tokenizer=bpe"),
    (["--model", "bow", *sets("tokenizer=bpe", "sample_alpha=0.1")], "tokenizer=unigram"),
    (["--model", "perceptron", *sets("tokenizer=bpe", "data.vocab_size=300", "bpe_dropout=0.1")], "one pass"),
    (["--model", "bow", *sets("tokenizer=sentencepiece")], "word, bpe, unigram"),
])
def test_mistakes_are_one_line(flags, message, tiny, tmp_path, capsys):
    assert main(["classify", "train", "--data", str(tiny), "--out", str(tmp_path / "x"), "--preset", "tiny",
                 *flags]) == 2
    assert message in capsys.readouterr().err
