"""The language-model families: one record each, the only place a family is declared.

A record says everything the commands need to know about a family: its name (``--model NAME``),
how tables and messages call it, its config dataclass and model class, its named presets, and
how it trains and decodes. `lmlab train`, `sample`, `eval`, `profile` and `compare` all read this
table, so adding a family is one model file and one `register(LMFamily(...))`. The n-gram model
is counted in one pass; every other family takes gradient steps through the Trainer (recurrent
ones carry their hidden state across windows, truncated BPTT, when their config says
`carry_state`); only the Transformer has attention maps and a decoding state that follows beams.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from lmlab.config import Config, Range
from lmlab.errors import UserError
from lmlab.models.cnn_lm import CNNLM, CNNLMConfig
from lmlab.models.ffnn_lm import FFNNLM, FFNNLMConfig
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.models.ngram import NGramConfig, NGramLM
from lmlab.models.rnn_lm import RNNLM, RNNLMConfig
from lmlab.recipes.common import Family
from lmlab.tokenizers import TOKENIZERS
from lmlab.tokenizers.sampling import check_sampling
from lmlab.train.trainer import TrainConfig


@dataclass
class DataConfig(Config):
    """Which text to train on and how to tokenize it."""

    corpus: str = "shakespeare"  # corpus name or path: .txt, .jsonl, .csv, .tsv (or .gz of them), a folder of
    # .txt files or one saved by datasets
    text_field: str = "text"  # the field of a JSON Lines record that holds its text (--data FILE.jsonl)
    text_column: str = "text"  # the column of a CSV/TSV row or of a datasets folder that holds its text
    val_fraction: Annotated[float, Range(0, 1, low_open=True, high_open=True)] = 0.1  # the last 10% of every
    # document is held out
    tokenizer: str = "bpe"  # tokenizer algorithm to train on the training split, or a tokenizer.json path
    vocab_size: Optional[Annotated[int, Range(2)]] = 1024  # vocabulary size for trained subword tokenizers (ignored by char)
    bpe_dropout: Annotated[float, Range(0, 1)] = 0.0  # tokenizer=bpe: BPE-dropout (Provilkov et al. 2020) on the
    # training split, one sampled segmentation (named so because `dropout` is the model's); validation stays plain
    sample_alpha: Annotated[float, Range(0)] = 0.0  # tokenizer=unigram: the training split read with a sampled
    # segmentation, P ~ P(pieces)^alpha (Kudo 2018); 0 = the best one

    def check_relations(self) -> None:
        if self.tokenizer not in TOKENIZERS and not Path(self.tokenizer).is_file():
            raise UserError(f"--tokenizer {self.tokenizer!r} is neither an algorithm ({', '.join(TOKENIZERS)}) "
                            f"nor an existing tokenizer.json file")
        if self.tokenizer in TOKENIZERS:
            check_sampling(self.tokenizer, self.bpe_dropout, self.sample_alpha)


@dataclass
class LMRunConfig:
    """Everything `lmlab train` needs: the model's config, the training and the data settings."""

    model: Any = field(default_factory=GPTConfig)  # the family's config dataclass
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)


@dataclass(frozen=True)
class LMFamily(Family):
    """A language model: model(ids, targets) -> (logits, loss), new_cache(batch); presets tiny and cpu."""

    training: Literal["trainer", "counted"] = "trainer"  # gradient steps, or one counting pass
    attention: bool = False  # a Transformer: attention maps (`lmlab attention`) and a KV cache that can
    # follow beams (`lmlab sample --strategy beam`)


LM_FAMILIES: dict[str, LMFamily] = {}


def register(family: LMFamily) -> LMFamily:
    LM_FAMILIES[family.name] = family
    return family


def lm_family(name: str, source: str = "--model") -> LMFamily:
    if name not in LM_FAMILIES:
        raise UserError(f"{source}: unknown model family {name!r}; choose one of: {', '.join(LM_FAMILIES)}")
    return LM_FAMILIES[name]


# --- the presets ---------------------------------------------------------------------------------------
GPT_PRESETS = {
    "tiny": LMRunConfig(
        GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=32),
        TrainConfig(batch_size=8, max_steps=30, lr=3e-3, min_lr=3e-4, warmup_steps=5, eval_every=15,
                    eval_batches=2, checkpoint_every=15, log_every=5),
        DataConfig(tokenizer="char"),  # seconds, for tests and first looks
    ),
    "cpu": LMRunConfig(
        GPTConfig(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.05),
        TrainConfig(batch_size=32, max_steps=1500, lr=2e-3, min_lr=2e-4, warmup_steps=100, eval_every=250,
                    eval_batches=8, checkpoint_every=250, log_every=25),
    ),
    "gpt2-small": LMRunConfig(
        GPTConfig(block_size=1024, n_layer=12, n_head=12, n_embd=768, dropout=0.0),
        TrainConfig(batch_size=16, grad_accum=4, max_steps=5000, lr=6e-4, min_lr=6e-5, warmup_steps=200,
                    beta2=0.95, eval_every=500, eval_batches=20, checkpoint_every=500),
    ),
}


def like_gpt_presets(tiny, cpu) -> dict[str, LMRunConfig]:
    """A family's `tiny` and `cpu` presets: its model shapes, trained like the GPT presets of the same name."""
    return {name: LMRunConfig(model, copy.deepcopy(GPT_PRESETS[name].train), copy.deepcopy(GPT_PRESETS[name].data))
            for name, model in (("tiny", tiny), ("cpu", cpu))}


def _recurrent(cell: str, display_name: str) -> LMFamily:
    presets = like_gpt_presets(RNNLMConfig(cell=cell, block_size=32, n_embd=32, n_hidden=64, n_layer=1),
                               RNNLMConfig(cell=cell, block_size=128, n_embd=128, n_hidden=256, n_layer=2,
                                           dropout=0.05))
    return LMFamily(cell, display_name, RNNLMConfig, RNNLM, presets)


# from counting to attention, as the notes go (the order of `lmlab compare`'s table)
register(LMFamily("ngram", "n-gram", NGramConfig, NGramLM,
                  like_gpt_presets(NGramConfig(order=3, block_size=32), NGramConfig(order=5, block_size=128)),
                  training="counted"))
register(LMFamily("ffnn", "FFNN", FFNNLMConfig, FFNNLM,
                  like_gpt_presets(FFNNLMConfig(context=4, block_size=32, n_embd=16, n_hidden=64),
                                   FFNNLMConfig(context=8, block_size=128, n_embd=64, n_hidden=512, dropout=0.05))))
register(_recurrent("rnn", "RNN"))
register(_recurrent("lstm", "LSTM"))
register(_recurrent("gru", "GRU"))
register(LMFamily("cnn", "CNN", CNNLMConfig, CNNLM,
                  like_gpt_presets(CNNLMConfig(block_size=32, n_embd=32, n_layer=3),
                                   CNNLMConfig(block_size=128, n_embd=128, n_layer=6, dropout=0.05))))
register(LMFamily("gpt", "GPT", GPTConfig, GPT, GPT_PRESETS, attention=True))
DEFAULT_FAMILY = "gpt"
