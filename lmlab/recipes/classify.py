"""Recipe: train a sentence classifier (`lmlab classify train`).

    data folder (train + dev: GLUE's TSV, CSV or JSON Lines) -> examples -> tokenizer ids
      -> length-bucketed padded batches -> classifier -> Trainer

One recipe for every family of `lmlab.recipes.classifier_families`; a family's record says how it
starts (model, tokenizer, where its weights came from), how it reads a sentence and how it is
preset. BERT reads WordPiece ids with [CLS]/[SEP]; the word-level families (lexicon, perceptron,
bow, textcnn, bilstm) read lowercased words from lmlab's word tokenizer trained on the training file.
Labels written as names are numbered in sorted order, and the names are saved in config.json
(``labels``) for `eval`, `predict` and `errors`.
The families trained by gradient (bert, bow = logistic regression, textcnn, bilstm) go through
the Trainer: AdamW, linear warmup over the first 10% of the steps and linear decay to zero, a few
epochs (Devlin et al., 2019, for BERT), `grad_accum` and DDP like every other task. The dev set is
scored after every epoch (and every ``eval_every`` steps when set); the best checkpoint by dev
accuracy is kept in ``best/``, which `eval`, `predict` and `errors` use. The lexicon scorer (a
threshold) and the perceptron (mistake-driven updates) are fitted by their own rule.

`--resume` continues a gradient-trained run from its last checkpoint (Ctrl-C, or the end of a
run to extend with --max-steps), with its saved model, tokenizer and best score.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from lmlab.config import config_to_dict
from lmlab.data.batching import in_order
from lmlab.data.classification import (EpochBatches, collate, label_names, labelled_data, read_labelled, split_file,
                                       to_examples)
from lmlab.errors import UserError
from lmlab.evaluate.classification import classification_report
from lmlab.io import atomic_write_json
from lmlab.models.bow import perceptron_fit
from lmlab.models.textcnn import parse_widths
from lmlab.outputs import mark_folder
from lmlab.recipes.classifier_families import ClassifierFamily, ClassifyRunConfig, classifier_family
from lmlab.recipes.common import (print_summary, resolve_config, resume_config, run_distributed, saved_config,
                                  saved_run, say)
from lmlab.recipes.options import ClassifyTrainOptions
from lmlab.tokenizers.sampling import sampling
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder
from lmlab.train.tensorboard import write_records
from lmlab.train.trainer import Trainer

DEFAULT_FAMILY = "bert"


def max_length(model, data_max_length: int) -> int:
    return min(data_max_length, getattr(model.config, "max_position", data_max_length))


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


# --- the configuration ---------------------------------------------------------------------------
def _init(family: ClassifierFamily, init: str | None) -> str | None:
    if family.default_init is None:
        if init is not None:
            raise UserError(f"--init is for bert, textcnn and bilstm; the {family.name} classifier starts from "
                            f"its data (the lexicon's file: --set lexicon=PATH|induce)")
        return None
    init = init or family.default_init
    if family.default_init == "random" and init not in ("random", "scratch") and not Path(init).expanduser().exists():
        raise UserError(f"--init {init}: not found; give an `lmlab word2vec` run folder or a word2vec text "
                        f"file, or --init random")
    return init


def resolve_run(options: ClassifyTrainOptions, out: Path) -> tuple[ClassifierFamily, ClassifyRunConfig, dict | None]:
    """(family, configuration, the saved config.json when resuming)."""
    run = RunFolder(out)
    saved = saved_run(run, options, "classifier", "lmlab classify train --resume")
    if saved is None:
        family = classifier_family(options.model or DEFAULT_FAMILY)
        config = resolve_config(family.presets, options, ClassifyTrainOptions.default_preset)
        if family.name == "textcnn":
            parse_widths(config.model.widths)  # refuse a bad value before any work
        _check_tokenizer(family, config)
        return family, config, None
    family = classifier_family(saved["family"], str(run.config_path))
    given = {"--model": (options.model, family.name), "--init": (options.init, saved.get("init")),
             "--data": (options.data and str(labelled_data(options.data).resolve()),
                        str(Path(saved["data"]["folder"]).resolve()))}
    for flag, (value, value_saved) in given.items():
        if value is not None and value != value_saved:
            raise UserError(f"--resume: {flag} {value} contradicts {out}, which has {value_saved}")
    if family.training != "trainer":
        raise UserError(f"{out} is a {family.display_name} run: it is fitted in one pass, there is nothing to resume")
    data = {k: v for k, v in saved["data"].items() if k != "folder"}  # the folder is checked above
    config = saved_config(ClassifyRunConfig, family.config_class, {**saved, "data": data}, str(run.config_path))
    return family, resume_config(config, options, str(out), saved.get("preset")), saved


def _check_tokenizer(family: ClassifierFamily, config: ClassifyRunConfig) -> None:
    """Pieces are for the families that read words from lmlab's own tokenizer; sampling them for
    the ones trained in epochs by gradient."""
    data = config.data
    if data.tokenizer != "word" and family.name in ("bert", "lexicon"):
        raise UserError(f"--set tokenizer={data.tokenizer}: the {family.name} classifier reads "
                        f"{'WordPiece' if family.name == 'bert' else 'words'}; pieces are for perceptron, bow, "
                        f"textcnn and bilstm")
    if (data.bpe_dropout or data.sample_alpha) and family.training != "trainer":
        raise UserError(f"--set bpe_dropout / sample_alpha resample the pieces every epoch of gradient training; "
                        f"the {family.name} classifier is fitted in one pass")


def _resampler(family: ClassifierFamily, tokenizer, examples, length: int, config: ClassifyRunConfig):
    """None, or epoch -> the training rows read with a segmentation sampled for that epoch
    (BPE-dropout, Unigram sampling), seeded by (seed, epoch)."""
    data = config.data
    if not (data.bpe_dropout or data.sample_alpha):
        return None

    def resample(epoch: int) -> list:
        with sampling(tokenizer, data.bpe_dropout, data.sample_alpha, seed=config.train.seed * 1_000_003 + epoch):
            return family.encode(tokenizer, examples, length)
    return resample


# --- lmlab classify train ------------------------------------------------------------------------
def train_command(options: ClassifyTrainOptions) -> None:
    summary = run_distributed(train, options)
    if summary is not None:
        best = summary["best"]
        say(f"done: step {summary['step']}, best dev accuracy {best['accuracy']:.4f} (F1 {best['f1']:.4f}) at "
            f"step {best['step']}, {summary['seconds']:.0f}s")
    print_summary(summary, options)


def train(options: ClassifyTrainOptions, context: distributed.Context) -> dict:
    """Start (or reopen) the classifier, read the folder's examples, and train or fit it into the run."""
    if options.resume and not options.out:
        raise UserError("--resume continues the run in --out: give --out RUN")
    if not (options.data or options.resume):
        raise UserError("--data DIR is required: a folder with train.tsv and dev.tsv (GLUE: sentence<TAB>label), "
                        "train.csv and dev.csv, or train.jsonl and dev.jsonl")
    out = Path(options.out or f"runs/classify-{options.model or DEFAULT_FAMILY}-{Path(options.data).name}")
    family, config, saved = resolve_run(options, out)
    data = labelled_data(options.data) if options.data else Path(saved["data"]["folder"])
    run = RunFolder(out)
    distributed.barrier(context)  # every rank has looked before rank 0 writes
    paths = split_file(data, "train"), split_file(data, "dev")
    labelled = [read_labelled(path, config.data.text_column, config.data.label_column) for path in paths]
    labels = label_names(labelled[0] + labelled[1]) if saved is None else saved.get("labels")  # None: integers
    train_examples, dev_examples = (to_examples(part, path, labels) for part, path in zip(labelled, paths))
    torch.manual_seed(config.train.seed)  # the same fresh head (and scratch model) every time
    if saved is None:
        init = _init(family, options.init)
        n_labels = len(labels) if labels else max(2, 1 + max(e.label for e in train_examples + dev_examples))
        model, tokenizer, source = family.start(family, config, init, train_examples, n_labels)
        config.model = model.config
        record = {"kind": "classifier", "family": family.name, "preset": options.preset or "default", "init": init,
                  "weights_from": source, "n_labels": n_labels, "labels": labels}
    else:
        model, tokenizer = family.build(saved["model"], str(run.config_path)), run.load_tokenizer()
        record = {"n_labels": saved["n_labels"], "labels": labels,
                  "weights_from": saved.get("weights_from", saved.get("init"))}
    model.check_tokenizer(tokenizer)
    length = max_length(model, config.data.max_length)
    rows = family.encode(tokenizer, train_examples, length)
    dev = (in_order(family.encode(tokenizer, dev_examples, length), config.data.eval_batch_size, collate),
           [e.label for e in dev_examples])
    if family.training == "fitted":
        return _fit(family, model, tokenizer, config, run, record, rows, dev, options)
    resample = _resampler(family, tokenizer, train_examples, length, config)
    return _train_by_gradient(family, model, tokenizer, config, run, record, (rows, resample), dev, context, options,
                              saved)


def _write_run(run: RunFolder, record: dict, config: ClassifyRunConfig, tokenizer, folder: str) -> None:
    mark_folder(run.path, "classifier")
    run.write_config({**record, "model": config_to_dict(config.model), "train": config_to_dict(config.train),
                      "data": {**config_to_dict(config.data), "folder": folder}})
    tokenizer.save(run.tokenizer_path)


class DevScorer:
    """`Trainer.on_step_end`: score dev every `every` steps (and at the end); keep the best in RUN/best.
    The scores are returned for the Trainer to log."""

    def __init__(self, model, run: RunFolder, dev, n_labels: int, every: int, last: int, device) -> None:
        self.model, self.run, self.best_run = model, run, RunFolder(run.path / "best")
        self.batches, self.labels = dev  # padded dev batches, and their gold labels
        self.n_labels, self.every, self.last, self.device = n_labels, every, last, device
        best_file = self.best_run.path / "metrics.json"
        saved = json.loads(best_file.read_text()) if best_file.is_file() else {}
        self.best = {"accuracy": saved.get("accuracy", -1.0), "f1": saved.get("f1", 0.0), "step": saved.get("step", 0)}

    def __call__(self, step: int, _loss: float) -> dict | None:
        if step % self.every and step != self.last:
            return None
        predictions, _, dev_loss = predict_batches(self.model, self.batches, self.device)
        report = classification_report(predictions, self.labels, self.n_labels)
        self.model.train()
        say(f"step {step}: dev accuracy {report['accuracy']:.4f}, F1 {report['f1']:.4f}, loss {dev_loss:.4f}")
        if report["accuracy"] > self.best["accuracy"]:
            self.best = {"accuracy": report["accuracy"], "f1": report["f1"], "step": step}
            self.best_run.path.mkdir(exist_ok=True)
            self.best_run.save_model(self.model, step)
            atomic_write_json(self.best_run.path / "metrics.json", {**report, "step": step}, indent=2)
        return {"step": step, "val_loss": dev_loss, "dev_accuracy": report["accuracy"], "dev_f1": report["f1"]}


def _train_by_gradient(family, model, tokenizer, config, run, record, training, dev, context, options, saved) -> dict:
    """`training`: (the training rows, None or the function that re-reads them each epoch)."""
    t, (rows, resample) = config.train, training
    sampler = EpochBatches(rows, t.batch_size * t.grad_accum * context.world_size, t.seed, resample)
    if saved is None:
        t.max_steps = options.max_steps or config.data.epochs * sampler.steps_per_epoch
        t.warmup_steps = t.warmup_steps or max(1, t.max_steps // 10)  # BERT: warm up over the first 10%
        if context.is_main:
            _write_run(run, record, config, tokenizer, str(labelled_data(options.data)))
    elif options.max_steps is not None:
        t.max_steps = options.max_steps  # extend (or shorten) the run
    scorer = DevScorer(model, run, dev, record["n_labels"], t.eval_every or sampler.steps_per_epoch, t.max_steps,
                       context.device)
    trainer = Trainer(model, t, run, train_batches=lambda step: sampler.step_batches(
                          step, t.batch_size, t.grad_accum, context.rank, context.world_size),
                      context=context, on_step_end=scorer if context.is_main else None)
    if saved is not None:
        trainer.resume()
    say(f"{family.name}: {model.num_parameters() / 1e6:.1f}M parameters from {record['weights_from']}; "
        f"{len(rows):,} training / {len(dev[1]):,} dev examples; {t.max_steps} steps of "
        f"{t.batch_size * t.grad_accum * context.world_size} ({t.max_steps / sampler.steps_per_epoch:.2f} epochs); "
        f"run folder {run.path}")
    started = time.perf_counter()
    summary = trainer.fit()
    summary = {**summary, "seconds": time.perf_counter() - started, "best": scorer.best,
               "parameters": model.num_parameters()}
    if family.top_features and scorer.best_run.model_path.is_file():
        scorer.best_run.load_model(model)
        summary["top_features"] = _show_top_features(model, tokenizer)
    return summary


def _show_top_features(model, tokenizer, k: int = 10) -> dict:
    top = model.top_features(tokenizer.id_to_token, k)
    for side in ("positive", "negative"):
        say(f"top {side} features: " + ", ".join(f"{name} ({weight:+.2f})" for name, weight in top[side]))
    return top


def _fit(family, model, tokenizer, config, run, record, rows, dev, options) -> dict:
    """The lexicon scorer (tune its threshold) and the perceptron (mistake-driven updates): no Trainer."""
    _write_run(run, record, config, tokenizer, str(labelled_data(options.data)))
    say(f"{family.name}: fitting on {len(rows):,} training examples without gradients")
    started = time.perf_counter()
    if family.name == "lexicon":
        fitted = model.fit(in_order(rows, 1024, collate))
        say(f"threshold {fitted['threshold']:+.4f} (training accuracy {fitted['train_accuracy']:.4f})")
    else:
        fitted = perceptron_fit(model, rows, config.data.epochs, config.train.seed, options.max_steps)
        say(f"perceptron mistakes per epoch: {fitted['mistakes_per_epoch']}")
    seconds = time.perf_counter() - started
    run.save_model(model, fitted.get("examples_seen", 0))
    predictions, _, dev_loss = predict_batches(model, dev[0], "cpu")
    report = classification_report(predictions, dev[1], record["n_labels"])
    record = {"step": 0, "val_loss": dev_loss, "dev_accuracy": report["accuracy"], "dev_f1": report["f1"],
              "seconds": round(seconds, 3), **fitted}
    run.append_metrics(record)
    if config.train.logger == "tensorboard":
        write_records(run.path, [record])
    say(f"dev accuracy {report['accuracy']:.4f}, F1 {report['f1']:.4f}")
    summary = {"step": fitted.get("examples_seen", 0), "seconds": seconds, "fit": fitted,
               "parameters": model.num_parameters(),
               "best": {"accuracy": report["accuracy"], "f1": report["f1"], "step": 0}}
    if family.top_features:
        summary["top_features"] = _show_top_features(model, tokenizer)
    return summary
