"""Recipe: `lmlab classify compare` - every classifier family on one data folder, one table.

Each family is trained by the classification recipe (`lmlab.recipes.classify.train`) into
``OUT/<family>``, then measured the same way: dev accuracy and F1 of its best checkpoint, its
parameter count, its training time, and inference speed (dev sentences per second, batches of
`eval_batch_size`, on the CPU, tokenization included). A family that cannot start (BERT when
MiniLM cannot be fetched, say) is a row marked skipped with the reason, not a failed command.
The table goes to ``OUT/compare.md`` and ``OUT/compare.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lmlab.data.classification import labelled_data, split_file
from lmlab.errors import UserError
from lmlab.outputs import claim_folder
from lmlab.evaluate.classification import classification_report
from lmlab.io import atomic_write_json, atomic_write_text
from lmlab.recipes import classify
from lmlab.recipes.classifier_families import CLASSIFIERS, classifier_family
from lmlab.recipes.classify_eval import classify as classify_examples, labelled_examples
from lmlab.recipes.common import run_distributed, say
from lmlab.recipes.options import ClassifyCompareOptions, ClassifyTrainOptions
from lmlab.runs import load_run


def _measure(run_path: Path, data: Path) -> dict:
    run = load_run(run_path, expect="classifier")
    examples = labelled_examples(str(data), run)
    started = time.perf_counter()
    _, predictions, _, _ = classify_examples(run, examples)
    seconds = time.perf_counter() - started
    report = classification_report(predictions, [e.label for e in examples], run.config["n_labels"])
    return {"accuracy": report["accuracy"], "f1": report["f1"], "parameters": run.model.num_parameters(),
            "sentences_per_s": len(examples) / max(seconds, 1e-9)}


def compare_command(options: ClassifyCompareOptions) -> None:
    data = labelled_data(options.data)
    for split in ("train", "dev"):
        split_file(data, split)  # refused before any training when missing
    families = [classifier_family(m.strip(), "--models") for m in options.models.split(",") if m.strip()]
    if not families:
        raise UserError(f"--models: give one or more of {', '.join(CLASSIFIERS)}")
    out = Path(options.out or f"runs/classify-compare-{data.name}")
    if any((out / family.name / "config.json").exists() for family in families):
        raise UserError(f"{out} already holds runs of these families: choose another --out")
    claim_folder(out, "classify-compare", force=options.force, command="lmlab classify compare")
    rows = []
    for family in families:
        say(f"=== {family.name} ===")
        train = ClassifyTrainOptions(model=family.name, data=str(data), out=str(out / family.name),
                                     preset=options.preset, max_steps=options.max_steps, seed=options.seed,
                                     device=options.device)
        try:
            summary = run_distributed(classify.train, train)
        except UserError as error:  # e.g. no MiniLM to fine-tune: one skipped row, the others still run
            say(f"{family.name}: skipped: {error}")
            rows.append({"model": family.name, "skipped": str(error)})
            continue
        rows.append({"model": family.name, **_measure(out / family.name, data), "train_seconds": summary["seconds"]})
    table = {"data": str(data), "preset": options.preset or "default", "max_steps": options.max_steps, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "compare.json", table, indent=2)
    atomic_write_text(out / "compare.md", markdown_table(table) + "\n")
    say(markdown_table(table))
    say(f"wrote {out / 'compare.md'} and {out / 'compare.json'}")
    if options.json:
        print(json.dumps(table))


def markdown_table(table: dict) -> str:
    lines = [f"Classifiers on {table['data']} (preset {table['preset']}); dev set.", "",
             "| model | accuracy | F1 | parameters | training time (s) | inference (sentences/s) |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in table["rows"]:
        if "skipped" in row:
            lines.append(f"| {row['model']} | skipped: {row['skipped']} | | | | |")
        else:
            lines.append(f"| {row['model']} | {row['accuracy']:.4f} | {row['f1']:.4f} | {row['parameters']:,} | "
                         f"{row['train_seconds']:.1f} | {row['sentences_per_s']:,.0f} |")
    return "\n".join(lines)
