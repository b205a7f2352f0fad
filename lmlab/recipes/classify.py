"""Recipe: fine-tune and use a sentence classifier (`lmlab classify train | eval | predict`).

    GLUE folder -> examples -> tokenizer ids -> dynamically padded batches -> classifier -> Trainer

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
from lmlab.data.classification import EpochBatches, encode_examples, in_order, read_tsv
from lmlab.errors import UserError
from lmlab.evaluate.classification import classification_report
from lmlab.models.bert import BertConfig, BertForPreTraining, BertForSequenceClassification
from lmlab.models.classifiers import CLASSIFIERS, build_classifier
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
    vocab_size: int = 8000  # WordPiece vocabulary trained on train.tsv for --init scratch
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


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- how each family starts a run: (model, tokenizer, where the weights came from) ----------------
def _start_bert(config: ClassifyRunConfig, init: str, train_texts: list[str], n_labels: int):
    if init == "scratch":
        say(f"training a WordPiece tokenizer ({config.data.vocab_size} entries) on the training sentences")
        tokenizer = WordPieceTokenizer().train(train_texts, vocab_size=config.data.vocab_size)
        model_config = copy.deepcopy(config.model)
        model_config.vocab_size, model_config.n_labels = tokenizer.vocab_size, n_labels
        return BertForSequenceClassification(model_config), tokenizer, "scratch"
    path = Path(init).expanduser()
    if (path / "config.json").is_file() and "format_version" in json.loads((path / "config.json").read_text()):
        return _from_pretraining_run(path, n_labels, config.model.dropout)
    from lmlab.data.pretrained import pretrained_folder
    from lmlab.interop.hf_bert import load_hf_bert, load_hf_wordpiece

    folder = pretrained_folder(init)
    model = load_hf_bert(folder, BertForSequenceClassification, n_labels=n_labels, dropout=config.model.dropout)
    return model, load_hf_wordpiece(folder), str(folder)


def _from_pretraining_run(path: Path, n_labels: int, dropout: float):
    """The encoder of an `lmlab bert pretrain` run; the MLM and NSP heads are left behind."""
    run = RunFolder(path)
    saved = run.read_config()
    if saved.get("model_type") != "bert-pretraining":
        raise UserError(f"--init {path}: not an `lmlab bert pretrain` run (model_type {saved.get('model_type')!r})")
    pretrained = BertForPreTraining(config_from_dict(BertConfig, saved["model"], str(run.config_path)))
    run.load_model(pretrained)
    model_config = copy.deepcopy(pretrained.config)
    model_config.n_labels, model_config.dropout = n_labels, dropout
    model = BertForSequenceClassification(model_config)
    model.bert.load_state_dict(pretrained.bert.state_dict())
    return model, Tokenizer.load(run.tokenizer_path), str(path)


STARTS = {"bert": _start_bert}  # one entry per family of lmlab.models.classifiers.CLASSIFIERS


# --- lmlab classify train ------------------------------------------------------------------------
def _configs_from_args(args) -> ClassifyRunConfig:
    config = preset(PRESETS, args.preset or "default")
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
    data = Path(args.data)
    out = Path(args.out or f"runs/classify-{args.model}-{data.name}")
    run = RunFolder(out)
    if run.config_path.exists():
        raise UserError(f"{out} already holds a run: choose another --out")
    config = _configs_from_args(args)
    train_examples, dev_examples = read_tsv(data / "train.tsv"), read_tsv(data / "dev.tsv")
    n_labels = max(2, 1 + max(example.label for example in train_examples + dev_examples))
    torch.manual_seed(config.train.seed)  # the same fresh head (and scratch model) every time
    model, tokenizer, source = STARTS[args.model](config, args.init, [e.text for e in train_examples], n_labels)
    model.check_tokenizer(tokenizer)
    config.model = model.config
    max_length = min(config.data.max_length, config.model.max_position)
    train_rows = encode_examples(tokenizer, train_examples, max_length)
    dev_batches = in_order(encode_examples(tokenizer, dev_examples, max_length), config.data.eval_batch_size)
    t = config.train
    sampler = EpochBatches(train_rows, t.batch_size, t.seed)
    t.max_steps = args.max_steps or config.data.epochs * sampler.steps_per_epoch
    t.warmup_steps = t.warmup_steps or max(1, t.max_steps // 10)  # BERT: warm up over the first 10%
    eval_every = t.eval_every or sampler.steps_per_epoch
    run.write_config({"model_type": args.model, "task": "classify", "init": source, "n_labels": n_labels,
                      "model": config_to_dict(config.model), "train": config_to_dict(t),
                      "data": {**config_to_dict(config.data), "folder": str(data)}})
    tokenizer.save(run.tokenizer_path)
    best = {"accuracy": -1.0, "f1": 0.0, "step": 0}
    best_run = RunFolder(out / "best")

    def evaluate(step: int, _loss: float) -> None:
        nonlocal best
        if step % eval_every and step != t.max_steps:
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

    trainer = Trainer(model, t, run, train_batches=lambda step: [sampler.batch(step)], context=context,
                      on_step_end=evaluate)
    say(f"{args.model}: {model.num_parameters() / 1e6:.1f}M parameters from {source}; {len(train_rows):,} "
        f"training / {len(dev_examples):,} dev examples; {t.max_steps} steps of {t.batch_size} "
        f"({t.max_steps / sampler.steps_per_epoch:.2f} epochs); run folder {out}")
    started = time.perf_counter()
    summary = trainer.fit()
    return {**summary, "seconds": time.perf_counter() - started, "best": best}


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


def eval_command(args) -> None:
    model, tokenizer, saved = load_classifier(args.run)
    path = Path(args.data) if args.data else Path(saved["data"]["folder"]) / "dev.tsv"
    examples = read_tsv(path / "dev.tsv" if path.is_dir() else path)
    rows = encode_examples(tokenizer, examples, min(saved["data"]["max_length"], model.config.max_position))
    predictions, _, loss = predict_batches(model, in_order(rows, saved["data"]["eval_batch_size"]), "cpu")
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

    rows = encode_examples(tokenizer, [Example(text, 0) for text in args.texts],
                           min(saved["data"]["max_length"], model.config.max_position))
    predictions, probabilities, _ = predict_batches(model, in_order(rows, 64), "cpu")
    for text, label, row in zip(args.texts, predictions, probabilities):
        if args.json:
            print(json.dumps({"text": text, "label": label, "probability": row[label].item()}))
        else:
            print(f"{label}\t{row[label].item():.3f}\t{text}")
