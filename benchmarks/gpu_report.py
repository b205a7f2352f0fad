"""Merge the fragments of `benchmarks/gpu_check.sh` into one JSON report (fields: docs/results/gpu.md).

    python benchmarks/gpu_report.py FRAGMENT_FOLDER REPORT.json --mode gpu --seconds 412

Every step contributes its exit code, seconds and budget; a step that failed (or wrote nothing)
contributes the last lines of its log as `error`, and the report is written all the same. The
`summary` block pulls out the headline numbers and checks them against the goals (MFU >= 40%,
lmlab >= 1.2x HF in training, DDP equal to the plain run).
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

STEPS = ("pytest", "train", "train_compile", "ddp", "generate", "bert")
GOALS = {"mfu": 0.40, "train_ratio": 1.2}


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def pytest_counts(path: Path) -> dict | None:
    """passed / failed / errors / skipped from pytest's JUnit XML."""
    try:
        suite = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return None
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    failed = [f"{case.get('classname')}::{case.get('name')}" for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    return {"passed": counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"],
            "failed": counts["failures"], "errors": counts["errors"], "skipped": counts["skipped"],
            "failed_tests": failed}


def step_record(folder: Path, name: str) -> dict:
    status = read_json(folder / f"{name}.status") or {"rc": None}
    result = pytest_counts(folder / "pytest.xml") if name == "pytest" else read_json(folder / f"{name}.json")
    record = {**status, "result": result}
    if status.get("rc") != 0 or result is None:
        log = folder / f"{name}.log"
        record["error"] = ("timed out: " if status.get("rc") in (124, 137) else "") + (
            "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.is_file() else "no log")
    return record


def training_summary(result: dict | None) -> dict | None:
    if not result:
        return None
    by_name = {r["name"]: r for r in result["results"]}
    lmlab, hf = by_name.get("lmlab"), by_name.get("hf-sdpa")
    summary = {"lmlab_tokens_per_s": lmlab and lmlab["median_tokens_per_s"], "lmlab_mfu": lmlab and lmlab["mfu"],
               "hf_tokens_per_s": hf and hf["median_tokens_per_s"], "hf_mfu": hf and hf["mfu"],
               "ratio": result["ratios"].get("lmlab/hf-sdpa"), "peak_flops": result["peak"]["peak_flops"],
               "peak_source": result["peak"]["source"],
               "compile_s": {name: r.get("compile_s") for name, r in by_name.items()} if result["settings"]["compile"]
               else None}
    summary["meets_goals"] = bool(summary["lmlab_mfu"] and summary["ratio"] and summary["lmlab_mfu"] >= GOALS["mfu"]
                                  and summary["ratio"] >= GOALS["train_ratio"])
    return summary


def summarize(steps: dict) -> dict:
    generate, bert, ddp = (steps[name]["result"] for name in ("generate", "bert", "ddp"))
    decode = None
    if generate:
        by_name = {r["name"]: r for r in generate["results"]}
        decode = {"lmlab_tokens_per_s": by_name["lmlab"]["median_tokens_per_s"],
                  "hf_tokens_per_s": by_name.get("hf-sdpa", {}).get("median_tokens_per_s"),
                  "ratio": generate["ratios"].get("lmlab/hf-sdpa")}
    return {"pytest": steps["pytest"]["result"],
            "train_bf16_fused_sdpa": training_summary(steps["train"]["result"]),
            "train_compiled": training_summary(steps["train_compile"]["result"]),
            "ddp_equal": ddp and ddp["equal"], "decode": decode,
            "bert": bert and {key: bert[key] for key in ("lmlab_sentences_per_s", "transformers_sentences_per_s",
                                                          "ratio")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fragments", type=Path)
    parser.add_argument("report", type=Path)
    parser.add_argument("--mode", choices=("gpu", "smoke"), required=True)
    parser.add_argument("--seconds", type=int, required=True, help="wall time of the whole check")
    args = parser.parse_args()
    steps = {name: step_record(args.fragments, name) for name in STEPS}
    nvidia = args.fragments / "nvidia_smi.txt"
    report = {"mode": args.mode, "seconds": args.seconds, "goals": GOALS,
              "nvidia_smi": nvidia.read_text().strip().splitlines() if nvidia.is_file() else None,
              "environment": read_json(args.fragments / "environment.json"),
              "summary": summarize(steps), "failed_steps": [n for n, s in steps.items() if "error" in s],
              "steps": steps}
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"], indent=2))
    print(f"report: {args.report}; failed steps: {report['failed_steps'] or 'none'}")


if __name__ == "__main__":
    main()
