"""Every language-model family side by side: `lmlab compare` with the default preset, recorded.

Runs the comparison (by default `lmlab compare --preset default`: the shakespeare corpus, a
character tokenizer, 90 s of training per neural model, about 15 minutes on two cores), then
copies its Markdown table, with the command that made it and the machine it ran on, to
docs/results/compare.md and the full report to benchmarks/results/compare.json.

    python benchmarks/compare.py                              # the default preset
    python benchmarks/compare.py --budget-seconds 30          # a smaller budget (said in the file)
    python benchmarks/compare.py --preset tiny --data pydoc   # a smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--data", default=None)
    parser.add_argument("--budget-seconds", type=float, default=None)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (OMP_NUM_THREADS) for the run; 1 is steadier on a machine shared "
                             "with other work, where spinning thread pools stall the many small steps of an RNN")
    parser.add_argument("--table", default=str(ROOT / "docs" / "results" / "compare.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "compare"
        command = [sys.executable, "-m", "lmlab", "compare", "--preset", args.preset, "--out", str(out), "--json"]
        for flag, value in [("--data", args.data), ("--budget-seconds", args.budget_seconds),
                            ("--max-steps", args.max_steps)]:
            if value is not None:
                command += [flag, str(value)]
        env = dict(os.environ, **({"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
                                  if args.threads else {}))
        result = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        if result.returncode:
            sys.exit(result.returncode)
        report = json.loads(result.stdout)
        table = (out / "compare.md").read_text()
        (ROOT / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "compare.png", ROOT / "benchmarks" / "results" / "compare.png")
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
               f"{f', {args.threads} torch thread(s)' if args.threads else ''}, Python "
               f"{platform.python_version()}, torch {__import__('torch').__version__}")
    command_line = report["command"].replace(f"--out {out}", "--out runs/compare")
    table = table.replace(report["command"], command_line)
    table += (f"\nMachine: {machine}. Made by `python benchmarks/compare.py"
              f"{' --budget-seconds %g' % args.budget_seconds if args.budget_seconds else ''}"
              f"{' --max-steps %d' % args.max_steps if args.max_steps else ''}"
              f"{' --threads %d' % args.threads if args.threads else ''}`, which runs the command above. "
              f"Timings are wall-clock on a machine shared with other work: compare ratios, not absolutes.\n")
    Path(args.table).write_text(table)
    report["command"] = command_line
    (ROOT / "benchmarks" / "results" / "compare.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table)


if __name__ == "__main__":
    main()
