"""Recipe: train and use a sentence classifier (`lmlab classify train | eval | predict | errors`).

    GLUE folder -> examples -> tokenizer ids -> dynamically padded batches -> classifier -> Trainer

One recipe for every family of `lmlab.models.classifiers`; each family only says how it starts
(`STARTS`: model, tokenizer, where its weights came from) and how it is preset (`FAMILY_PRESETS`).
BERT reads WordPiece ids with [CLS]/[SEP]; the word-level families (lexicon, perceptron, bow,
textcnn, bilstm) read lowercased words from lmlab's word tokenizer trained on train.tsv. The
neural ones (bert, bow = logistic regression, textcnn, bilstm) train through the Trainer; the
lexicon scorer (a threshold) and the perceptron (mistake-driven updates) are fitted by their own
rule (`_fit_without_gradients`). Every family leaves the same run folder, so `eval`, `predict`
and `errors` work alike for all.

BERT's fine-tuning recipe (Devlin et al., 2019): start from pretrained weights (``--init minilm``,
a Hugging Face folder, or an lmlab `bert pretrain` run) or from scratch, put one linear layer on
the pooled [CLS] vector, and train everything with AdamW, linear warmup over the first 10% of the
steps and linear decay to zero, for a few epochs. The dev set is scored after every epoch (and
every ``eval_every`` steps when set); the best checkpoint by dev accuracy is kept in ``best/``,
and `eval` / `predict` use it.

The run folder is the foundation's: ``config.json`` (what to rebuild: family, model shape,
training and data settings, where the weights came from), ``tokenizer.json`` (the exact
vocabulary and normalisation), ``model.safetensors`` (the weights, and nothing executable),
``trainer_state.pt``, ``metrics.jsonl``.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lmlab.config import apply_overrides, config_from_dict, config_to_dict, preset
from lmlab.data.batching import in_order
from lmlab.data.classification import EpochBatches, collate, encode_examples, encode_words, read_tsv
from lmlab.errors import UserError
from lmlab.evaluate.classification import classification_report
from lmlab.models.bert import BertConfig, BertForPreTraining, BertForSequenceClassification
from lmlab.models.bilstm import BiLSTMConfig
from lmlab.models.bow import BowConfig, perceptron_fit
from lmlab.models.classifiers import CLASSIFIERS, build_classifier
from lmlab.models.lexicon import LexiconConfig
from lmlab.models.textcnn import TextCNNConfig, parse_widths
from lmlab.recipes import classify_words as words
from lmlab.tokenizers import Tokenizer
from lmlab.tokenizers.wordpiece import WordPieceTokenizer
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import TrainConfig, Trainer


@dataclass
class ClassifyDataConfig:
    """Which examples, how long, how many passes."""

    max_length: int = 128  # tokens per example, [CLS] and [SEP] included
    epochs: int = 3  # passes over train.tsv (--max-steps overrides)
    vocab_size: int = 8000  # WordPiece vocabulary for --init scratch; word vocabulary for word-level families
    eval_batch_size: int = 128


@dataclass
class ClassifyRunConfig:
    model: Any = field(default_factory=BertConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: ClassifyDataConfig = field(default_factory=ClassifyDataConfig)


def _fine_tuning(**changes) -> TrainConfig:
    """BERT's fine-tuning optimizer: AdamW (0.9, 0.999), weight decay 0.01, linear schedule to 0."""
    base = dict(batch_size=32, lr=1e-4, min_lr=0.0, warmup_steps=0, schedule="linear", weight_decay=0.01,
                beta2=0.999, grad_clip=1.0, eval_every=0, checkpoint_every=0, log_every=10)
    return TrainConfig(**{**base, **changes})


PRESETS = {
    "tiny": ClassifyRunConfig(BertConfig(n_layer=2, n_head=2, n_embd=32, max_position=64, dropout=0.0),
                              _fine_tuning(batch_size=16, lr=2e-3),
                              ClassifyDataConfig(max_length=64, epochs=1, vocab_size=600)),
    "default": ClassifyRunConfig(BertConfig(), _fine_tuning(), ClassifyDataConfig()),
}


def _word_level(model, train: TrainConfig, epochs: int, vocab_size: int = 30_000) -> ClassifyRunConfig:
    return ClassifyRunConfig(model, train, ClassifyDataConfig(max_length=128, epochs=epochs, vocab_size=vocab_size))


# Defaults sized for SST-2 (67k sentences) in a few minutes on one CPU thread; tiny: seconds.
FAMILY_PRESETS = {
    "bert": PRESETS,
    "lexicon": {"tiny": _word_level(LexiconConfig(min_count=1), _fine_tuning(), 1, 100_000),
                "default": _word_level(LexiconConfig(), _fine_tuning(), 1, 100_000)},
    "perceptron": {"tiny": _word_level(BowConfig(algorithm="perceptron", min_count=1), _fine_tuning(), 5),
                   "default": _word_level(BowConfig(algorithm="perceptron"), _fine_tuning(), 5)},
    "bow": {"tiny": _word_level(BowConfig(min_count=1), _fine_tuning(batch_size=8, lr=0.1, weight_decay=0.0), 10),
            "default": _word_level(BowConfig(), _fine_tuning(batch_size=64, lr=5e-3, weight_decay=0.0, grad_clip=0.0),
                                   3)},
    "textcnn": {"tiny": _word_level(TextCNNConfig(n_embd=16, n_filters=8, dropout=0.0),
                                    _fine_tuning(batch_size=4, lr=1e-2, weight_decay=0.0), 8),
                "default": _word_level(TextCNNConfig(), _fine_tuning(batch_size=50, lr=1e-3, weight_decay=1e-4,
                                                                     grad_clip=5.0), 3)},
    "bilstm": {"tiny": _word_level(BiLSTMConfig(n_embd=16, n_hidden=16, dropout=0.0),
                                   _fine_tuning(batch_size=4, lr=1e-2, weight_decay=0.0), 8),
               "default": _word_level(BiLSTMConfig(), _fine_tuning(batch_size=64, lr=2e-3, weight_decay=1e-4,
                                                                   grad_clip=5.0), 4)},
}
DEFAULT_INIT = {"bert": "minilm", "textcnn": "random", "bilstm": "random"}  # families that take --init


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- how each family starts a run: (model, tokenizer, where the weights came from) ----------------
def _start_bert(config: ClassifyRunConfig, init: str, train_examples: list, n_labels: int):
    train_texts = [e.text for e in train_examples]
    if init == "scratch":
        say(f"training a WordPiece tokenizer ({config.data.vocab_size} entries) on the training sentences")
        tokenizer = WordPieceTokenizer().train(train_texts, vocab_size=config.data.vocab_size)
        model_config = copy.deepcopy(config.model)
        model_config.vocab_size, model_config.n_labels = tokenizer.vocab_size, n_labels
        return BertForSequenceClassification(model_config), tokenizer, "scratch"
    path = Path(init).expanduser()
    if (path / "config.json").is_file() and "format_version" in json.loads((path / "config.json").read_text()):
        return _from_pretraining_run(path, n_labels, config.model)
    from lmlab.data.pretrained import pretrained_folder
    from lmlab.interop.hf_bert import load_hf_bert, load_hf_wordpiece

    folder = pretrained_folder(init)
    model = load_hf_bert(folder, BertForSequenceClassification, n_labels=n_labels, dropout=config.model.dropout,
                         pooling=config.model.pooling)
    return model, load_hf_wordpiece(folder), str(folder)


def _from_pretraining_run(path: Path, n_labels: int, fine_tuning: BertConfig):
    """The encoder of an `lmlab bert pretrain` run; the MLM and NSP heads are left behind."""
    run = RunFolder(path)
    saved = run.read_config()
    if saved.get("model_type") != "bert-pretraining":
        raise UserError(f"--init {path}: not an `lmlab bert pretrain` run (model_type {saved.get('model_type')!r})")
    pretrained = BertForPreTraining(config_from_dict(BertConfig, saved["model"], str(run.config_path)))
    run.load_model(pretrained)
    model_config = copy.deepcopy(pretrained.config)
    model_config.n_labels, model_config.dropout, model_config.pooling = n_labels, fine_tuning.dropout, fine_tuning.pooling
    model = BertForSequenceClassification(model_config)
    model.bert.load_state_dict(pretrained.bert.state_dict())
    return model, Tokenizer.load(run.tokenizer_path), str(path)


STARTS = {"bert": _start_bert, **words.STARTS}  # one entry per family of lmlab.models.classifiers.CLASSIFIERS


def encode(family: str, tokenizer, examples: list, max_length: int) -> list:
    """BERT: [CLS] a [SEP] (b [SEP]) in WordPiece ids; the word-level families: lowercased word ids."""
    if family == "bert":
        return encode_examples(tokenizer, examples, max_length)
    return encode_words(tokenizer, examples, max_length)


def max_length(model, data_max_length: int) -> int:
    return min(data_max_length, getattr(model.config, "max_position", data_max_length))


# --- lmlab classify train ------------------------------------------------------------------------
def _configs_from_args(args) -> ClassifyRunConfig:
    config = preset(FAMILY_PRESETS[args.model], args.preset or "default")
    apply_overrides({"model": config.model, "train": config.train, "data": config.data}, args.overrides)
    if args.seed is not None:
        config.train.seed = args.seed
    if config.data.epochs < 1 or config.train.batch_size < 1 or config.train.lr <= 0:
        raise UserError("epochs and batch_size must be >= 1 and lr > 0")
    return config


@torch.no_grad()
def predict_batches(model, batches, device) -> tuple[list[int], torch.Tensor, float]:
    """(predicted labels, probabilities (N, n_labels), mean loss) over padded batches."""
    model.eval()
    predictions, probabilities, total_loss, count = [], [], 0.0, 0
    for ids, segments, labels in batches:
        logits, loss = model(ids.to(device), segments.to(device), labels.to(device))
        probabilities.append(torch.softmax(logits.float(), dim=-1).cpu())
        predictions += logits.argmax(dim=-1).tolist()
        total_loss, count = total_loss + loss.item() * len(labels), count + len(labels)
    return predictions, torch.cat(probabilities), total_loss / max(count, 1)


def train_command(args) -> None:
    context = distributed.setup(args.device)
    try:
        summary = train(args, context)
    finally:
        distributed.cleanup(context)
    if context.is_main:
        say(f"done: step {summary['step']}, best dev accuracy {summary['best']['accuracy']:.4f} "
            f"(F1 {summary['best']['f1']:.4f}) at step {summary['best']['step']}, {summary['seconds']:.0f}s")
        if args.json:
            print(json.dumps(summary))


def train(args, context: distributed.Context) -> dict:
    if args.model not in STARTS:
        raise UserError(f"--model {args.model!r}: known classifiers are {', '.join(STARTS)}")
    init = getattr(args, "init", None)
    if args.model in DEFAULT_INIT:
        init = init or DEFAULT_INIT[args.model]
    elif init is not None:
        raise UserError(f"--init is for {', '.join(DEFAULT_INIT)}; the {args.model} classifier starts from "
                        f"its data (the lexicon's file: --set lexicon=PATH|induce)")
    data = Path(args.data)
    out = Path(args.out or f"runs/classify-{args.model}-{data.name}")
    run = RunFolder(out)
    if run.config_path.exists():
        raise UserError(f"{out} already holds a run: choose another --out")
    distributed.barrier(context)  # every rank has looked before rank 0 writes
    config = _configs_from_args(args)
    if args.model == "textcnn":
        parse_widths(config.model.widths)  # refuse a bad value before any work
    if args.model in ("textcnn", "bilstm") and init not in ("random", "scratch") and not Path(init).expanduser().exists():
        raise UserError(f"--init {init}: not found; give an `lmlab word2vec` run folder or a word2vec text "
                        f"file, or --init random")
    train_examples, dev_examples = read_tsv(data / "train.tsv"), read_tsv(data / "dev.tsv")
    n_labels = max(2, 1 + max(example.label for example in train_examples + dev_examples))
    torch.manual_seed(config.train.seed)  # the same fresh head (and scratch model) every time
    model, tokenizer, source = STARTS[args.model](config, init, train_examples, n_labels)
    model.check_tokenizer(tokenizer)
    config.model = model.config
    length = max_length(model, config.data.max_length)
    train_rows = encode(args.model, tokenizer, train_examples, length)
    dev_batches = in_order(encode(args.model, tokenizer, dev_examples, length), config.data.eval_batch_size,
                           collate)
    t = config.train
    if not getattr(model, "trained_by_gradients", True):
        return _fit_without_gradients(args, model, tokenizer, source, config, run, train_rows, dev_batches,
                                      [e.label for e in dev_examples], n_labels)
    sampler = EpochBatches(train_rows, t.batch_size * t.grad_accum * context.world_size, t.seed)
    t.max_steps = args.max_steps or config.data.epochs * sampler.steps_per_epoch
    t.warmup_steps = t.warmup_steps or max(1, t.max_steps // 10)  # BERT: warm up over the first 10%
    eval_every = t.eval_every or sampler.steps_per_epoch
    if context.is_main:
        run.write_config({"model_type": args.model, "task": "classify", "init": source, "n_labels": n_labels,
                          "model": config_to_dict(config.model), "train": config_to_dict(t),
                          "data": {**config_to_dict(config.data), "folder": str(data)}})
        tokenizer.save(run.tokenizer_path)
    best = {"accuracy": -1.0, "f1": 0.0, "step": 0}
    best_run = RunFolder(out / "best")

    def evaluate(step: int, _loss: float) -> None:
        nonlocal best
        if not context.is_main or (step % eval_every and step != t.max_steps):
            return
        predictions, _, dev_loss = predict_batches(model, dev_batches, context.device)
        report = classification_report(predictions, [e.label for e in dev_examples], n_labels)
        model.train()
        run.append_metrics({"step": step, "val_loss": dev_loss, "dev_accuracy": report["accuracy"],
                            "dev_f1": report["f1"]})
        say(f"step {step}: dev accuracy {report['accuracy']:.4f}, F1 {report['f1']:.4f}, loss {dev_loss:.4f}")
        if report["accuracy"] > best["accuracy"]:
            best = {"accuracy": report["accuracy"], "f1": report["f1"], "step": step}
            best_run.path.mkdir(exist_ok=True)
            best_run.save_model(model, step)
            (out / "best" / "metrics.json").write_text(json.dumps({**report, "step": step}, indent=2) + "\n")

    trainer = Trainer(model, t, run, train_batches=lambda step: sampler.step_batches(
                          step, t.batch_size, t.grad_accum, context.rank, context.world_size),
                      context=context, on_step_end=evaluate)
    say(f"{args.model}: {model.num_parameters() / 1e6:.1f}M parameters from {source}; {len(train_rows):,} "
        f"training / {len(dev_examples):,} dev examples; {t.max_steps} steps of {t.batch_size} "
        f"({t.max_steps / sampler.steps_per_epoch:.2f} epochs); run folder {out}")
    started = time.perf_counter()
    summary = trainer.fit()
    seconds = time.perf_counter() - started
    summary = {**summary, "seconds": seconds, "best": best, "parameters": model.num_parameters()}
    if hasattr(model, "top_features") and best_run.model_path.is_file():
        best_run.load_model(model)
        summary["top_features"] = _show_top_features(model, tokenizer)
    return summary


def _show_top_features(model, tokenizer, k: int = 10) -> dict:
    top = model.top_features(tokenizer.id_to_token, k)
    for side in ("positive", "negative"):
        say(f"top {side} features: " + ", ".join(f"{name} ({weight:+.2f})" for name, weight in top[side]))
    return top


def _fit_without_gradients(args, model, tokenizer, source, config, run, train_rows, dev_batches, dev_labels,
                           n_labels) -> dict:
    """The lexicon scorer (tune its threshold) and the perceptron (mistake-driven updates): no Trainer."""
    run.write_config({"model_type": args.model, "task": "classify", "init": source, "n_labels": n_labels,
                      "model": config_to_dict(model.config), "train": config_to_dict(config.train),
                      "data": {**config_to_dict(config.data), "folder": str(args.data)}})
    tokenizer.save(run.tokenizer_path)
    say(f"{args.model}: fitting on {len(train_rows):,} training examples without gradients")
    started = time.perf_counter()
    if args.model == "lexicon":
        fitted = model.fit(in_order(train_rows, 1024, collate))
        say(f"threshold {fitted['threshold']:+.4f} (training accuracy {fitted['train_accuracy']:.4f})")
    else:
        fitted = perceptron_fit(model, train_rows, config.data.epochs, config.train.seed, args.max_steps)
        say(f"perceptron mistakes per epoch: {fitted['mistakes_per_epoch']}")
    seconds = time.perf_counter() - started
    run.save_model(model, fitted.get("examples_seen", 0))
    predictions, _, dev_loss = predict_batches(model, dev_batches, "cpu")
    report = classification_report(predictions, dev_labels, n_labels)
    run.append_metrics({"step": 0, "val_loss": dev_loss, "dev_accuracy": report["accuracy"], "dev_f1": report["f1"],
                        **fitted})
    say(f"dev accuracy {report['accuracy']:.4f}, F1 {report['f1']:.4f}")
    summary = {"step": fitted.get("examples_seen", 0), "seconds": seconds, "fit": fitted,
               "parameters": model.num_parameters(),
               "best": {"accuracy": report["accuracy"], "f1": report["f1"], "step": 0}}
    if hasattr(model, "top_features"):
        summary["top_features"] = _show_top_features(model, tokenizer)
    return summary


# --- lmlab classify eval / predict ---------------------------------------------------------------
def load_classifier(path, device="cpu"):
    """(model in eval mode with the best weights, tokenizer, config dict) of a classify run."""
    run = RunFolder(path)
    saved = run.read_config()
    if saved.get("task") != "classify":
        raise UserError(f"{run.path} is not a `lmlab classify train` run")
    model = build_classifier(saved["model_type"], saved["model"], str(run.config_path))
    tokenizer = Tokenizer.load(run.tokenizer_path)
    model.check_tokenizer(tokenizer)
    best = RunFolder(run.path / "best")
    (best if best.model_path.is_file() else run).load_model(model)
    return model.to(device).eval(), tokenizer, saved


def _examples(data: str | None, saved: dict) -> list:
    path = Path(data) if data else Path(saved["data"]["folder"]) / "dev.tsv"
    return read_tsv(path / "dev.tsv" if path.is_dir() else path)


def eval_command(args) -> None:
    model, tokenizer, saved = load_classifier(args.run)
    examples = _examples(args.data, saved)
    rows = encode(saved["model_type"], tokenizer, examples, max_length(model, saved["data"]["max_length"]))
    predictions, _, loss = predict_batches(model, in_order(rows, saved["data"]["eval_batch_size"], collate), "cpu")
    report = {**classification_report(predictions, [e.label for e in examples], saved["n_labels"]), "loss": loss}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"accuracy {report['accuracy']:.4f}  F1 {report['f1']:.4f}  precision {report['precision']:.4f}  "
              f"recall {report['recall']:.4f}  on {report['examples']} examples\nconfusion (rows: true, "
              f"columns: predicted): {report['confusion']}")


def predict_command(args) -> None:
    model, tokenizer, saved = load_classifier(args.run)
    from lmlab.data.classification import Example

    rows = encode(saved["model_type"], tokenizer, [Example(text, 0) for text in args.texts],
                  max_length(model, saved["data"]["max_length"]))
    predictions, probabilities, _ = predict_batches(model, in_order(rows, 64, collate), "cpu")
    for text, label, row in zip(args.texts, predictions, probabilities):
        if args.json:
            print(json.dumps({"text": text, "label": label, "probability": row[label].item()}))
        else:
            print(f"{label}\t{row[label].item():.3f}\t{text}")


# --- lmlab classify errors ------------------------------------------------------------------------
def errors_command(args) -> None:
    """Sort the mistakes on a labelled file by cause (`lmlab.evaluate.errors`)."""
    from lmlab.evaluate.errors import error_report, format_report

    model, tokenizer, saved = load_classifier(args.run)
    examples = _examples(args.data, saved)
    rows = encode(saved["model_type"], tokenizer, examples, max_length(model, saved["data"]["max_length"]))
    predictions, _, _ = predict_batches(model, in_order(rows, saved["data"]["eval_batch_size"], collate), "cpu")
    if hasattr(model, "is_known"):  # the lexicon: a sentence none of whose words it can score
        unknown = [not bool(model.is_known(torch.tensor(ids)).any()) for ids, _, _ in rows]
    else:  # a vocabulary: a sentence with an out-of-vocabulary word
        unk = tokenizer.token_id(tokenizer.unk_token)
        unknown = [unk in ids for ids, _, _ in rows]
    report = error_report([e.text for e in examples], [e.label for e in examples], predictions, unknown,
                          args.examples)
    report["model_type"] = saved["model_type"]
    print(json.dumps(report) if args.json else format_report(report))
