"""Adding a language-model family is one registry record and one model class: a toy bigram model,
declared here and nowhere else, trains, samples, evaluates, profiles and is compared."""

import json
from dataclasses import dataclass

import pytest
import torch.nn as nn
import torch.nn.functional as F

from lmlab.cli import main
from lmlab.models.base import NeuralLM
from lmlab.nn.history import TokenHistory
from lmlab.recipes import families
from lmlab.recipes.families import LMFamily, like_gpt_presets


@dataclass
class BigramConfig:
    vocab_size: int = 0
    block_size: int = 16  # positions per training window


class BigramLM(NeuralLM):
    """logits(next | current) = a learned table row: the smallest neural language model."""

    def __init__(self, config: BigramConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.vocab_size)

    def new_cache(self, batch_size: int, max_length: int | None = None) -> TokenHistory:
        return TokenHistory(batch_size, 0, self.embedding.weight.device)

    def forward(self, ids, targets=None, cache=None):
        logits = self.embedding(ids)  # (B, T, V)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-1)
        return logits, loss


@pytest.fixture
def toy_family(monkeypatch):
    record = LMFamily("bigram", "bigram", BigramConfig, BigramLM,
                      like_gpt_presets(BigramConfig(block_size=16), BigramConfig(block_size=32)))
    monkeypatch.setitem(families.LM_FAMILIES, "bigram", record)
    return record


def test_a_new_family_works_in_every_language_model_command(toy_family, tmp_path, text_file, capsys):
    run = tmp_path / "bigram"
    common = ["--data", str(text_file), "--preset", "tiny"]
    assert main(["train", "--model", "bigram", *common, "--out", run, "--max-steps", "30", "--set", "lr=0.1"]) == 0
    assert json.loads((run / "config.json").read_text())["family"] == "bigram"
    first_loss = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])["train_loss"]
    capsys.readouterr()
    assert main(["eval", run, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] < first_loss - 0.5  # it learned
    assert main(["sample", run, "--prompt", "Line", "--max-new-tokens", "8", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("Line")
    assert main(["profile", run, "--batch-sizes", "1", "--steps", "1", "--new-tokens", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] > 0
    assert main(["compare", "--preset", "tiny", *common[:2], "--models", "bigram,ngram", "--max-steps", "3",
                 "--out", tmp_path / "compare", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [row["family"] for row in rows] == ["ngram", "bigram"]  # registry order: counting first
