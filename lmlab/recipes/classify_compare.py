"""Recipe: `lmlab classify compare` - every classifier family on one data folder, one table.

Each family is trained by the classification recipe (`lmlab.recipes.classify.train`) into
``OUT/<family>``, then measured the same way: dev accuracy and F1 of its best checkpoint, its
parameter count, its training time, and inference speed (dev sentences per second, batches of
`eval_batch_size`, on the CPU, tokenization included). A family that cannot start (BERT when
MiniLM cannot be fetched, say) is a row marked skipped with the reason, not a failed command.
The table goes to ``OUT/compare.md`` and ``OUT/compare.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lmlab.errors import UserError


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _measure(run: Path, data: Path) -> dict:
    from lmlab.data.batching import in_order
    from lmlab.data.classification import collate
    from lmlab.evaluate.classification import classification_report
    from lmlab.recipes import classify

    model, tokenizer, saved = classify.load_classifier(run)
    examples = classify.read_tsv(data / "dev.tsv")
    started = time.perf_counter()
    rows = classify.encode(saved["model_type"], tokenizer, examples, classify.max_length(model, saved["data"]["max_length"]))
    predictions, _, _ = classify.predict_batches(model, in_order(rows, saved["data"]["eval_batch_size"], collate), "cpu")
    seconds = time.perf_counter() - started
    report = classification_report(predictions, [e.label for e in examples], saved["n_labels"])
    return {"accuracy": report["accuracy"], "f1": report["f1"], "parameters": model.num_parameters(),
            "sentences_per_s": len(examples) / max(seconds, 1e-9)}


def compare_command(args) -> None:
    from lmlab.models.classifiers import CLASSIFIERS
    from lmlab.recipes import classify
    from lmlab.train import distributed

    data = Path(args.data)
    for name in ("train.tsv", "dev.tsv"):
        if not (data / name).is_file():
            raise UserError(f"{data / name} not found: give a GLUE folder with train.tsv and dev.tsv")
    families = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in families if m not in CLASSIFIERS]
    if unknown or not families:
        raise UserError(f"--models {args.models!r}: known classifiers are {', '.join(CLASSIFIERS)}")
    out = Path(args.out or f"runs/classify-compare-{data.name}")
    if any((out / family / "config.json").exists() for family in families):
        raise UserError(f"{out} already holds runs of these families: choose another --out")
    rows = []
    for family in families:
        say(f"=== {family} ===")
        train_args = argparse.Namespace(model=family, data=str(data), out=str(out / family), preset=args.preset,
                                        max_steps=args.max_steps, seed=args.seed, overrides=[], init=None,
                                        json=False, device=args.device)
        context = distributed.setup(args.device)
        try:
            summary = classify.train(train_args, context)
        except UserError as error:  # e.g. no MiniLM to fine-tune: one skipped row, the others still run
            say(f"{family}: skipped: {error}")
            rows.append({"model": family, "skipped": str(error)})
            continue
        finally:
            distributed.cleanup(context)
        rows.append({"model": family, **_measure(out / family, data), "train_seconds": summary["seconds"]})
    table = {"data": str(data), "preset": args.preset or "default", "max_steps": args.max_steps, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(table, indent=2) + "\n")
    (out / "compare.md").write_text(markdown_table(table) + "\n")
    say(markdown_table(table))
    say(f"wrote {out / 'compare.md'} and {out / 'compare.json'}")
    if args.json:
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
