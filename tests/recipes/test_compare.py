"""`lmlab compare --preset tiny`: every family on one text, one table in Markdown, JSON and PNG."""

import json
import math

from lmlab.cli import main


def test_compare_tiny_runs_end_to_end_and_writes_the_table(tmp_path, text_file, capsys):
    out = tmp_path / "compare"
    assert main(["compare", "--preset", "tiny", "--data", str(text_file), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    families = [row["family"] for row in report["rows"]]
    assert families == ["ngram", "ffnn", "rnn", "lstm", "gru", "cnn", "gpt"]
    tokenizers = {(out / family / "tokenizer.json").read_text() for family in families}
    assert len(tokenizers) == 1  # one tokenizer for all
    for row in report["rows"]:
        assert math.isfinite(row["val_perplexity"]) and row["val_perplexity"] == math.exp(row["val_loss"])
        assert row["parameters"] > 0 and row["train_tokens_per_s"] > 0 and row["generation_tokens_per_s"] > 0
        assert row["steps"] == (1 if row["family"] == "ngram" else 15)
        assert row["val_tokens"] == report["rows"][0]["val_tokens"]  # the same targets for everyone
    assert report["command"].startswith("lmlab compare --preset tiny")
    table = (out / "compare.md").read_text()
    assert report["command"] in table and table.count("\n| ") == 8  # header + 7 families
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(report["curves"]["gpt"]) >= 2 and len(report["curves"]["ngram"]) == 1


def test_compare_mistakes_are_one_line(tmp_path, capsys):
    for args, message in [(["--models", "gpt,transformer"], "unknown model family 'transformer'"),
                          (["--set", "n_layer=2"], "not a training setting shared by every family"),
                          (["--max-steps", "3", "--budget-seconds", "2"], "not both")]:
        assert main(["compare", "--preset", "tiny", "--out", str(tmp_path / "x"), *args]) == 2
        assert message in capsys.readouterr().err
