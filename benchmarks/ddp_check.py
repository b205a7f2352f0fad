"""DDP equality: `lmlab train` plain and as one torchrun rank (NCCL on CUDA, gloo on CPU) must agree.

One process under ``torchrun --standalone --nproc_per_node 1`` joins a process group of one
(`lmlab.train.distributed.setup`), so the Trainer wraps the model in DistributedDataParallel and
every step goes through its gradient all-reduce and the cross-rank loss average. With one rank
those change nothing: the per-step training losses and the final weights must equal the plain
run's (relative difference <= 1e-5). Prints one JSON object and writes it to `--out`.

    python benchmarks/ddp_check.py --device cuda            # NCCL
    python benchmarks/ddp_check.py --device cpu --steps 5   # gloo, seconds
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ddp_check.json"


def train(command: list[str], data: Path, out: Path, args: argparse.Namespace) -> None:
    """One `lmlab train` run of the tiny preset, no dropout (both runs must draw alike)."""
    full = [*command, "-m", "lmlab", "train", "--data", str(data), "--preset", "tiny", "--device", args.device,
            "--max-steps", str(args.steps), "--set", "log_every=1", "--set", "dropout=0", "--set", f"dtype={args.dtype}",
            "--out", str(out)]
    done = subprocess.run(full, capture_output=True, text=True, cwd=ROOT, timeout=args.timeout)
    if done.returncode:
        raise SystemExit(f"{' '.join(full[:6])} ... failed:\n{done.stderr[-3000:]}")


def compare(plain: Path, ddp: Path) -> dict:
    """Largest relative differences of the per-step losses and of the final weights."""
    import torch
    from safetensors.torch import load_file

    from lmlab.train.checkpoint import RunFolder

    def losses(folder):
        return torch.tensor([r["train_loss"] for r in RunFolder(folder).read_metrics() if "train_loss" in r])

    loss_a, loss_b = losses(plain), losses(ddp)
    weights_a, weights_b = load_file(plain / "model.safetensors"), load_file(ddp / "model.safetensors")
    weight_diff = max(((weights_a[k] - weights_b[k]).norm() / weights_a[k].norm().clamp(min=1e-12)).item()
                      for k in weights_a)
    loss_diff = ((loss_a - loss_b).abs() / loss_a.abs()).max().item() if len(loss_a) == len(loss_b) else float("inf")
    return {"steps_logged": [len(loss_a), len(loss_b)], "final_loss": [loss_a[-1].item(), loss_b[-1].item()],
            "max_relative_loss_difference": loss_diff, "max_relative_weight_difference": weight_diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--dtype", default="float32", choices=("float32", "auto", "bfloat16"),
                        help="the Trainer's precision; float32 keeps kernel rounding out of a 1e-5 comparison")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest relative difference allowed")
    parser.add_argument("--timeout", type=float, default=240, help="seconds per training run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        data = folder / "corpus.txt"  # a local corpus: the check needs no download
        data.write_text("".join(f"line {i}: the quick brown fox jumps over the lazy dog {i % 7}.\n" for i in range(400)))
        train([sys.executable], data, folder / "plain", args)
        train([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"],
              data, folder / "ddp", args)
        result = compare(folder / "plain", folder / "ddp")
    result.update(device=args.device, backend="nccl" if args.device == "cuda" else "gloo", steps=args.steps,
                  dtype=args.dtype, tolerance=args.tolerance)
    result["equal"] = max(result["max_relative_loss_difference"], result["max_relative_weight_difference"]) \
        <= args.tolerance
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    sys.exit(0 if result["equal"] else 1)


if __name__ == "__main__":
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    main()
