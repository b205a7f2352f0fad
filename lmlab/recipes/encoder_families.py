"""The encoder families pretrained on raw text (`lmlab bert pretrain`): one record each.

BERT is the one encoder the notes build: masked language modelling (15% of tokens: 80% [MASK],
10% random, 10% unchanged) plus next-sentence prediction. A record names the config and model
classes and the presets; a new encoder (say, one trained on masked LM alone) is one more record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from lmlab.config import Config, Range
from lmlab.errors import UserError
from lmlab.models.bert import BertConfig, BertForPreTraining
from lmlab.recipes.common import Family
from lmlab.train.trainer import TrainConfig


@dataclass
class PretrainDataConfig(Config):
    """Which text, which vocabulary, how long the pairs."""

    corpus: str = "shakespeare"  # corpus name or path (as for `lmlab train`)
    text_field: str = "text"  # the field of a JSON Lines record that holds its text (--data FILE.jsonl)
    text_column: str = "text"  # the column of a CSV/TSV row or of a datasets folder that holds its text
    val_fraction: Annotated[float, Range(0, 1, low_open=True, high_open=True)] = 0.1  # the last 10% of every
    # document is held out
    vocab_size: Annotated[int, Range(2)] = 8000  # WordPiece entries, trained on the training split
    max_length: Annotated[int, Range(8)] = 128  # tokens per pair: [CLS] A [SEP] B [SEP]


@dataclass
class PretrainRunConfig:
    model: BertConfig = field(default_factory=BertConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)


PRESETS = {
    "tiny": PretrainRunConfig(BertConfig(n_layer=2, n_head=2, n_embd=32, max_position=64, dropout=0.0),
                              TrainConfig(batch_size=8, max_steps=30, lr=1e-3, min_lr=1e-4, warmup_steps=5,
                                          eval_every=15, eval_batches=2, checkpoint_every=15, log_every=5),
                              PretrainDataConfig(vocab_size=800, max_length=64)),
    "cpu": PretrainRunConfig(BertConfig(n_layer=4, n_head=4, n_embd=256, max_position=128),
                             TrainConfig(batch_size=32, max_steps=2000, lr=5e-4, min_lr=5e-5, warmup_steps=200,
                                         weight_decay=0.01, beta2=0.999, eval_every=250, eval_batches=8,
                                         checkpoint_every=250, log_every=25),
                             PretrainDataConfig()),
    "base": PretrainRunConfig(BertConfig(n_layer=12, n_head=12, n_embd=768, max_position=512),
                              TrainConfig(batch_size=32, grad_accum=8, max_steps=100_000, lr=1e-4, min_lr=0.0,
                                          warmup_steps=10_000, schedule="linear", weight_decay=0.01, beta2=0.999,
                                          eval_every=2000, eval_batches=20, checkpoint_every=2000),
                              PretrainDataConfig(vocab_size=30522, max_length=128)),
}



class EncoderFamily(Family):
    """An encoder pretrained on raw text: model(ids, segments, mlm targets, nsp labels) -> (logits, loss)."""


ENCODERS = {"bert": EncoderFamily("bert", "BERT", BertConfig, BertForPreTraining, PRESETS)}


def encoder_family(name: str, source: str = "config") -> EncoderFamily:
    if name not in ENCODERS:
        raise UserError(f"{source}: unknown encoder {name!r}; known: {', '.join(ENCODERS)}")
    return ENCODERS[name]
