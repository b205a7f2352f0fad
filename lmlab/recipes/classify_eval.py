"""Recipe: use a trained classifier (`lmlab classify eval | predict | errors`).

Each command opens the run with `lmlab.runs.load_run` (the best dev checkpoint), reads sentences
the way its family does (`encode` in its record) and classifies them in padded batches. A run
trained on named labels (config.json ``labels``) reads and prints them by name.
"""

from __future__ import annotations

import json
from pathlib import Path

from lmlab.data.batching import in_order
from lmlab.data.classification import Example, collate, labelled_data, read_examples, split_file
from lmlab.evaluate.classification import classification_report
from lmlab.recipes.classifier_families import classifier_family
from lmlab.recipes.classify import max_length, predict_batches
from lmlab.recipes.options import ClassifyErrorsOptions, ClassifyEvalOptions, ClassifyPredictOptions
from lmlab.runs import Run, load_run


def classify(run: Run, examples: list, batch_size: int | None = None) -> tuple[list, list[int], object, float]:
    """(encoded rows, predicted labels, probabilities (N, n_labels), mean loss) of `examples`."""
    family = classifier_family(run.family)
    rows = family.encode(run.tokenizer, examples, max_length(run.model, run.config["data"]["max_length"]))
    batches = in_order(rows, batch_size or run.config["data"]["eval_batch_size"], collate)
    predictions, probabilities, loss = predict_batches(run.model, batches, "cpu")
    return rows, predictions, probabilities, loss


def labelled_examples(data: str | None, run: Run) -> list:
    """A labelled file (TSV, CSV, JSON Lines), a data folder's dev file, or (no --data) the run's own,
    read with the run's columns and labels."""
    path = labelled_data(data) if data else Path(run.config["data"]["folder"])
    settings = run.config["data"]  # runs from before text_column and label_column read GLUE's columns
    return read_examples(split_file(path, "dev") if path.is_dir() else path, run.config.get("labels"),
                         settings.get("text_column", "text"), settings.get("label_column", "label"))


def label_name(run: Run, label: int):
    """How the label is written in the data: its name, or the integer itself."""
    names = run.config.get("labels")
    return names[label] if names else label


def eval_command(options: ClassifyEvalOptions) -> None:
    run = load_run(options.run, expect="classifier", command="lmlab classify eval")
    examples = labelled_examples(options.data, run)
    _, predictions, _, loss = classify(run, examples)
    report = {**classification_report(predictions, [e.label for e in examples], run.config["n_labels"]),
              "loss": loss}
    if run.config.get("labels"):
        report["labels"] = run.config["labels"]  # the names of the confusion matrix's rows and columns
    if options.json:
        print(json.dumps(report))
    else:
        print(f"accuracy {report['accuracy']:.4f}  F1 {report['f1']:.4f}  precision {report['precision']:.4f}  "
              f"recall {report['recall']:.4f}  on {report['examples']} examples\nconfusion (rows: true, "
              f"columns: predicted{', in the order ' + ', '.join(report['labels']) if 'labels' in report else ''}): "
              f"{report['confusion']}")


def predict_command(options: ClassifyPredictOptions) -> None:
    run = load_run(options.run, expect="classifier", command="lmlab classify predict")
    _, predictions, probabilities, _ = classify(run, [Example(text, 0) for text in options.texts], 64)
    for text, label, row in zip(options.texts, predictions, probabilities):
        if options.json:
            print(json.dumps({"text": text, "label": label_name(run, label), "probability": row[label].item()}))
        else:
            print(f"{label_name(run, label)}\t{row[label].item():.3f}\t{text}")


def errors_command(options: ClassifyErrorsOptions) -> None:
    """Sort the mistakes on a labelled file by cause (`lmlab.evaluate.errors`)."""
    from lmlab.evaluate.errors import error_report, format_report

    run = load_run(options.run, expect="classifier", command="lmlab classify errors")
    examples = labelled_examples(options.data, run)
    rows, predictions, _, _ = classify(run, examples)
    unknown = classifier_family(run.family).unknown(run.model, run.tokenizer, rows)
    report = error_report([e.text for e in examples], [e.label for e in examples], predictions, unknown,
                          options.examples)
    report["family"] = run.family
    for bucket in report["buckets"].values():
        for example in bucket["examples"]:
            for key in ("label", "predicted"):
                example[key] = label_name(run, example[key])
    print(json.dumps(report) if options.json else format_report(report))
