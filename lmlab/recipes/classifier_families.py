"""The sentence-classifier families: one record each, the only place a family is declared.

Every family follows one model contract: ``model(ids (B, T), segments (B, T), labels (B,) or
None)`` returns ``(logits (B, n_labels), loss or None)``, with -1 padding. A record adds what
`lmlab classify` needs around it: how the family starts a run (`start`: model, tokenizer, where
its numbers came from), how it reads a sentence (`encode`), its presets, whether it takes gradient
steps through the Trainer or is fitted by its own rule, and what else it can show:

    bert        Transformer encoder, fine-tuned; [CLS] a [SEP] in WordPiece ids   --init minilm|PATH|scratch
    lexicon     sentiment lexicon + negation/intensifier/contrast rules, tuned threshold (fitted)
    perceptron  bag of words and bigrams, Rosenblatt's mistake-driven updates (fitted)
    bow         the same features, logistic regression
    textcnn     Kim (2014) CNN over word vectors                                 --init random|WORD2VEC
    bilstm      bidirectional LSTM with pooling                                  --init random|WORD2VEC
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal, Optional

import torch

from lmlab.config import AT_LEAST_ONE, Config, Range
from lmlab.data.classification import encode_examples, encode_words
from lmlab.errors import UserError
from lmlab.models.bert import BertConfig, BertForSequenceClassification
from lmlab.models.bilstm import BiLSTM, BiLSTMConfig
from lmlab.models.bow import BowClassifier, BowConfig
from lmlab.models.lexicon import LexiconClassifier, LexiconConfig
from lmlab.models.textcnn import TextCNN, TextCNNConfig
from lmlab.recipes import classify_bert, classify_words
from lmlab.recipes.common import Family
from lmlab.tokenizers.sampling import check_sampling
from lmlab.train.trainer import TrainConfig


@dataclass
class ClassifyDataConfig(Config):
    """Which examples, how long, how many passes."""

    max_length: Annotated[int, Range(3)] = 128  # tokens per example, [CLS] and [SEP] included
    epochs: Annotated[int, AT_LEAST_ONE] = 3  # passes over train.tsv (--max-steps overrides)
    vocab_size: Annotated[int, Range(2)] = 8000  # WordPiece vocabulary for --init scratch; word vocabulary for
    # word-level families
    eval_batch_size: Annotated[int, AT_LEAST_ONE] = 128
    text_column: str = "text"  # the column (CSV, TSV) or field (JSON Lines) of the sentence; a GLUE file's
    # 'sentence' (and 'sentence2') when it has no such column
    label_column: str = "label"  # the column or field of the label: integers (the class ids) or names
    tokenizer: str = "word"  # what the word-level families (perceptron, bow, textcnn, bilstm) read: word, or bpe or
    # unigram pieces (trained on the lowercased training sentences, vocab_size entries)
    bpe_dropout: Annotated[float, Range(0, 1)] = 0.0  # tokenizer=bpe: BPE-dropout on the training sentences,
    # resampled every epoch (named so because `dropout` is the model's); dev and the saved tokenizer stay plain
    sample_alpha: Annotated[float, Range(0)] = 0.0  # tokenizer=unigram: sample a segmentation of each training
    # sentence, P ~ P(pieces)^alpha, afresh every epoch (Kudo 2018); 0 = the best one

    def check_relations(self) -> None:
        if self.tokenizer not in SUBWORD_TOKENIZERS:
            raise UserError(f"--set tokenizer={self.tokenizer}: choose one of {', '.join(SUBWORD_TOKENIZERS)}")
        check_sampling(self.tokenizer, self.bpe_dropout, self.sample_alpha)


SUBWORD_TOKENIZERS = ("word", "bpe", "unigram")  # ClassifyDataConfig.tokenizer


@dataclass
class ClassifyRunConfig:
    model: Any = field(default_factory=BertConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: ClassifyDataConfig = field(default_factory=ClassifyDataConfig)


def has_unknown_word(model, tokenizer, rows) -> list[bool]:
    """A vocabulary's blind spot: a sentence with an out-of-vocabulary word (subword pieces have none)."""
    if getattr(tokenizer, "unk_token", None) is None:
        return [False] * len(rows)
    unk = tokenizer.token_id(tokenizer.unk_token)
    return [unk in ids for ids, _, _ in rows]


def knows_no_word(model, tokenizer, rows) -> list[bool]:
    """A lexicon's blind spot: a sentence none of whose words it can score."""
    return [not bool(model.is_known(torch.tensor(ids)).any()) for ids, _, _ in rows]


@dataclass(frozen=True)
class ClassifierFamily(Family):
    """A sentence classifier (presets tiny and default), and how a run of it starts and reads text."""

    start: Callable  # (this record, run config, init, training examples, n_labels) -> (model, tokenizer, source)
    encode: Callable = encode_words  # (tokenizer, examples, max_length) -> rows of (ids, segments, label)
    training: Literal["trainer", "fitted"] = "trainer"  # gradient steps, or its own fitting rule
    default_init: Optional[str] = None  # families that take --init: what they start from by default
    top_features: bool = False  # it can list the features that weigh most (bag of words)
    unknown: Callable = has_unknown_word  # (model, tokenizer, rows) -> per sentence: could it read none of it?
    # (`lmlab classify errors`; default: the sentence has an out-of-vocabulary word)


def fine_tuning(**changes) -> TrainConfig:
    """BERT's fine-tuning optimizer: AdamW (0.9, 0.999), weight decay 0.01, linear schedule to 0."""
    base = dict(batch_size=32, lr=1e-4, min_lr=0.0, warmup_steps=0, schedule="linear", weight_decay=0.01,
                beta2=0.999, grad_clip=1.0, eval_every=0, checkpoint_every=0, log_every=10)
    return TrainConfig(**{**base, **changes})


def _word_level(model, train: TrainConfig, epochs: int, vocab_size: int = 30_000) -> ClassifyRunConfig:
    return ClassifyRunConfig(model, train, ClassifyDataConfig(max_length=128, epochs=epochs, vocab_size=vocab_size))


BERT_PRESETS = {
    "tiny": ClassifyRunConfig(BertConfig(n_layer=2, n_head=2, n_embd=32, max_position=64, dropout=0.0),
                              fine_tuning(batch_size=16, lr=2e-3),
                              ClassifyDataConfig(max_length=64, epochs=1, vocab_size=600)),
    "default": ClassifyRunConfig(BertConfig(), fine_tuning(), ClassifyDataConfig()),
}

# Defaults sized for SST-2 (67k sentences) in a few minutes on one CPU thread; tiny: seconds.
CLASSIFIERS: dict[str, ClassifierFamily] = {family.name: family for family in [
    ClassifierFamily("bert", "BERT", BertConfig, BertForSequenceClassification, BERT_PRESETS,
                     classify_bert.start_bert, encode=encode_examples, default_init="minilm"),
    ClassifierFamily("lexicon", "lexicon", LexiconConfig, LexiconClassifier, {
        "tiny": _word_level(LexiconConfig(min_count=1), fine_tuning(), 1, 100_000),
        "default": _word_level(LexiconConfig(), fine_tuning(), 1, 100_000)},
        classify_words.start_lexicon, training="fitted", unknown=knows_no_word),
    ClassifierFamily("perceptron", "perceptron", BowConfig, BowClassifier, {
        "tiny": _word_level(BowConfig(algorithm="perceptron", min_count=1), fine_tuning(), 5),
        "default": _word_level(BowConfig(algorithm="perceptron"), fine_tuning(), 5)},
        classify_words.start_bow, training="fitted", top_features=True),
    ClassifierFamily("bow", "bag of words", BowConfig, BowClassifier, {
        "tiny": _word_level(BowConfig(min_count=1), fine_tuning(batch_size=8, lr=0.1, weight_decay=0.0), 10),
        "default": _word_level(BowConfig(), fine_tuning(batch_size=64, lr=5e-3, weight_decay=0.0, grad_clip=0.0),
                               3)},
        classify_words.start_bow, top_features=True),
    ClassifierFamily("textcnn", "TextCNN", TextCNNConfig, TextCNN, {
        "tiny": _word_level(TextCNNConfig(n_embd=16, n_filters=8, dropout=0.0),
                            fine_tuning(batch_size=4, lr=1e-2, weight_decay=0.0), 8),
        "default": _word_level(TextCNNConfig(), fine_tuning(batch_size=50, lr=1e-3, weight_decay=1e-4,
                                                            grad_clip=5.0), 3)},
        classify_words.start_neural, default_init="random"),
    ClassifierFamily("bilstm", "BiLSTM", BiLSTMConfig, BiLSTM, {
        "tiny": _word_level(BiLSTMConfig(n_embd=16, n_hidden=16, dropout=0.0),
                            fine_tuning(batch_size=4, lr=1e-2, weight_decay=0.0), 8),
        "default": _word_level(BiLSTMConfig(), fine_tuning(batch_size=64, lr=2e-3, weight_decay=1e-4,
                                                           grad_clip=5.0), 4)},
        classify_words.start_neural, default_init="random"),
]}


def classifier_family(name: str, source: str = "--model") -> ClassifierFamily:
    if name not in CLASSIFIERS:
        raise UserError(f"{source}: unknown classifier {name!r}; choose one of: {', '.join(CLASSIFIERS)}")
    return CLASSIFIERS[name]
