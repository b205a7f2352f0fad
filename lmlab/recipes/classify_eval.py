"""Recipe: use a trained classifier (`lmlab classify eval | predict | errors`).

Each command opens the run with `lmlab.runs.load_run` (the best dev checkpoint), reads sentences
the way its family does (`encode` in its record) and classifies them in padded batches.
"""

from __future__ import annotations

import json
from pathlib import Path

from lmlab.data.batching import in_order
from lmlab.data.classification import Example, collate, read_tsv
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
    """A TSV file, a GLUE folder's dev.tsv, or (no --data) the dev.tsv of the run's own folder."""
    path = Path(data) if data else Path(run.config["data"]["folder"]) / "dev.tsv"
    return read_tsv(path / "dev.tsv" if path.is_dir() else path)


def eval_command(options: ClassifyEvalOptions) -> None:
    run = load_run(options.run, expect="classifier", command="lmlab classify eval")
    examples = labelled_examples(options.data, run)
    _, predictions, _, loss = classify(run, examples)
    report = {**classification_report(predictions, [e.label for e in examples], run.config["n_labels"]),
              "loss": loss}
    if options.json:
        print(json.dumps(report))
    else:
        print(f"accuracy {report['accuracy']:.4f}  F1 {report['f1']:.4f}  precision {report['precision']:.4f}  "
              f"recall {report['recall']:.4f}  on {report['examples']} examples\nconfusion (rows: true, "
              f"columns: predicted): {report['confusion']}")


def predict_command(options: ClassifyPredictOptions) -> None:
    run = load_run(options.run, expect="classifier", command="lmlab classify predict")
    _, predictions, probabilities, _ = classify(run, [Example(text, 0) for text in options.texts], 64)
    for text, label, row in zip(options.texts, predictions, probabilities):
        if options.json:
            print(json.dumps({"text": text, "label": label, "probability": row[label].item()}))
        else:
            print(f"{label}\t{row[label].item():.3f}\t{text}")


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
    print(json.dumps(report) if options.json else format_report(report))
