"""Training throughput: lmlab's GPT vs transformers.GPT2LMHeadModel of the identical shape.

Both models start from the *same* random weights (lmlab writes them once as a Hugging Face
folder; each side loads it with its own loader), see the same batch of random ids, and take the
same optimizer step as lmlab's Trainer does on the CPU:

    loss = cross_entropy(model(inputs).logits, targets)    # fp32, dropout equal on both sides
    loss.backward(); clip_grad_norm_(1.0); AdamW(parameter_groups(model, 0.1), fused=uses_fused_adamw(device)).step()

Each model runs in its own subprocess (this script re-invokes itself with `--only NAME`), so peak
RSS is measured per model and the transformers import does not count against lmlab. Reported:
median tokens/s over `--repeats` timed runs of `--steps` steps (after `--warmup` steps), the
ratio lmlab / HF, peak RSS, and the first loss (equal weights, so the losses should agree).

    python benchmarks/gpt_train.py                      # the `cpu` preset's shape
    python benchmarks/gpt_train.py --threads 1 --steps 5 --repeats 7 --rounds 2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "gpt_train.json"
SIDES = ("lmlab", "hf-sdpa", "hf-eager", "lmlab-auto")  # lmlab-auto: lmlab with its Trainer's dtype=auto
PRESET_SHAPES = {
    "cpu": dict(n_layer=4, n_head=4, n_embd=128, block_size=128, batch_size=32, vocab_size=96),
    "gpt2-small": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, batch_size=16, vocab_size=50257),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    shape = parser.add_argument_group("model shape (a preset; each flag overrides its field)")
    shape.add_argument("--preset-shape", choices=PRESET_SHAPES, default="cpu")
    for name in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "vocab_size"):
        shape.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    shape.add_argument("--dropout", type=float, default=0.0, help="the same on both sides")
    speed = parser.add_argument_group("precision and kernels (the same on both sides)")
    speed.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32",
                       help="bf16: the forward under torch.autocast(bfloat16), the loss in float32")
    speed.add_argument("--fused-adamw", choices=("auto", "on", "off"), default="auto",
                       help="auto: as lmlab's Trainer picks it (uses_fused_adamw)")
    speed.add_argument("--compile", action="store_true",
                       help="torch.compile both models; the compile time is reported, not timed")
    speed.add_argument("--compile-backend", default="inductor",
                       help="torch.compile's backend (aot_eager: the same tracing, no code generation: a quick check)")
    run = parser.add_argument_group("measurement")
    run.add_argument("--steps", type=int, default=10, help="optimizer steps per timed repeat")
    run.add_argument("--repeats", type=int, default=5, help="timed repeats per model and round")
    run.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    run.add_argument("--rounds", type=int, default=1,
                     help="run every model this many times, alternating, to spread machine noise")
    run.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    run.add_argument("--device", default="cpu")
    run.add_argument("--sides", nargs="+", default=list(SIDES), choices=SIDES)
    run.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument("--only", choices=SIDES, help=argparse.SUPPRESS)  # internal: one model, JSON out
    parser.add_argument("--weights", help=argparse.SUPPRESS)  # internal: the shared HF folder
    args = parser.parse_args(argv)
    for name, value in PRESET_SHAPES[args.preset_shape].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


# --- memory ----------------------------------------------------------------------------------------
def rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mib() -> float:
    """The process's high-water mark of resident memory.

    Linux: VmHWM. Not `ru_maxrss`, which survives fork + exec and so starts at the parent's RSS.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    except ImportError:  # Windows: psutil knows the peak working set
        import psutil

        return psutil.Process().memory_info().peak_wset / 2**20


# --- one model, in its own process -----------------------------------------------------------------
def measure(args: argparse.Namespace) -> dict:
    import torch
    import torch.nn.functional as F

    from lmlab.train.optim import parameter_groups, precision, uses_fused_adamw

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.only.startswith("lmlab"):
        from lmlab.interop.hf import load_hf_gpt2

        baseline = rss_mib()
        model = load_hf_gpt2(args.weights, device=device)
        forward = lambda ids: compiled(ids)[0]  # noqa: E731
    else:
        import transformers

        transformers.utils.logging.disable_progress_bar()
        baseline = rss_mib()
        model = transformers.GPT2LMHeadModel.from_pretrained(
            args.weights, attn_implementation=args.only.removeprefix("hf-"), dtype=torch.float32).to(device)
        forward = lambda ids: compiled(input_ids=ids, use_cache=False).logits  # noqa: E731
    model.train()
    compiled = torch.compile(model, backend=args.compile_backend) if args.compile else model
    autocast = torch.bfloat16 if args.dtype == "bf16" else None
    if args.only == "lmlab-auto":  # what `lmlab train` runs by default here (float32 or bf16 autocast)
        from lmlab.train.acceleration import choose_autocast, model_width

        autocast, _ = choose_autocast("auto", device, model_width(model))
    fused = {"auto": uses_fused_adamw(device), "on": True, "off": False}[args.fused_adamw]
    optimizer = torch.optim.AdamW(parameter_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.99), fused=fused)
    parameters = [p for p in model.parameters() if p.requires_grad]
    batch = torch.randint(0, args.vocab_size, (args.batch_size, args.block_size + 1),
                          generator=torch.Generator().manual_seed(0)).to(device)
    inputs, targets = batch[:, :-1], batch[:, 1:]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> float:
        with precision(device, autocast):
            logits = forward(inputs)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    sync()
    start = time.perf_counter()
    first_loss = step()  # with --compile: tracing and compiling happen here
    sync()
    first_step_s = time.perf_counter() - start
    for _ in range(args.warmup - 1):
        step()
    tokens_per_s = []
    for _ in range(args.repeats):
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        tokens_per_s.append(args.steps * args.batch_size * args.block_size / (time.perf_counter() - start))
    return {"name": args.only, "autocast": str(autocast), "tokens_per_s": tokens_per_s, "first_loss": first_loss,
            "first_step_s": first_step_s,
            "compile_s": first_step_s if args.compile else None, "fused_adamw": fused,
            "rss_after_imports_mib": baseline, "peak_rss_mib": peak_rss_mib(),
            "parameters": sum(p.numel() for p in parameters), "threads": torch.get_num_threads()}


# --- the driver ------------------------------------------------------------------------------------
def write_weights(args: argparse.Namespace, folder: str):
    """lmlab-initialised random weights, written once in Hugging Face's layout for both sides.
    Returns the lmlab model (to count its FLOPs)."""
    import torch

    from lmlab.interop.hf import save_hf_gpt2
    from lmlab.models.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=args.vocab_size, block_size=args.block_size, n_layer=args.n_layer,
                          n_head=args.n_head, n_embd=args.n_embd, dropout=args.dropout))
    save_hf_gpt2(model, folder)
    return model


def add_mfu(results: list[dict], model, args: argparse.Namespace) -> dict:
    """MFU of every side: training FLOPs per token (3x the forward: `forward_flops_per_token`,
    6N + attention) x median tokens/s / the device's peak (`device_peak`: dense bf16 datasheet
    numbers for known GPUs, a matmul measured in the dtype of the side's step otherwise). Returns
    the FLOPs count and the peaks."""
    import torch

    from lmlab.evaluate.profile import device_peak, forward_flops_per_token

    flops = 3 * forward_flops_per_token(model, args.block_size)
    device = torch.device(args.device)
    peaks = {"None": device_peak(device)}
    if any(result["autocast"] == "torch.bfloat16" for result in results):
        peaks["torch.bfloat16"] = device_peak(device, torch.bfloat16)
    for result in results:  # each side against the peak of the dtype its step computes in
        result["mfu"] = result["median_tokens_per_s"] * flops / peaks[result["autocast"]]["peak_flops"]
    return {"training_flops_per_token": flops, **peaks["None"],
            "bf16_peak_flops": peaks.get("torch.bfloat16", {}).get("peak_flops")}


def run_side(side: str, argv: list[str], folder: str) -> dict:
    command = [sys.executable, os.path.abspath(__file__), *argv, "--only", side, "--weights", folder]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"{side}: the measuring subprocess failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def merge(runs: list[dict]) -> dict:
    merged = dict(runs[0])
    merged["tokens_per_s"] = [value for run in runs for value in run["tokens_per_s"]]
    merged["peak_rss_mib"] = max(run["peak_rss_mib"] for run in runs)
    merged["median_tokens_per_s"] = statistics.median(merged["tokens_per_s"])
    return merged


def table(results: list[dict]) -> str:
    """One row per side; one ratio column per lmlab side (lmlab with the peer's settings, and
    lmlab-auto with the precision its Trainer picks by itself)."""
    ours = [r for r in results if r["name"].startswith("lmlab")]
    lines = ["| model | precision | tokens/s (median) | min - max | "
             + " | ".join(f"{o['name']} / model: median (best)" for o in ours)
             + " | peak RSS (MiB) | RSS after imports (MiB) | first loss | MFU |",
             "|---|---|---:|---:|" + "---:|" * len(ours) + "---:|---:|---:|---:|"]
    for r in results:
        ratios = " | ".join(f"{o['median_tokens_per_s'] / r['median_tokens_per_s']:.2f}x "
                            f"({max(o['tokens_per_s']) / max(r['tokens_per_s']):.2f}x)" for o in ours)
        precision = "bf16 autocast" if r.get("autocast") == "torch.bfloat16" else "fp32"
        lines.append(f"| {r['name']} | {precision} | {r['median_tokens_per_s']:,.0f} | {min(r['tokens_per_s']):,.0f} - "
                     f"{max(r['tokens_per_s']):,.0f} | {ratios} | {r['peak_rss_mib']:.0f} | "
                     f"{r['rss_after_imports_mib']:.0f} | {r['first_loss']:.5f} | {r['mfu']:.1%} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.only:
        print(json.dumps(measure(args)))
        return
    import torch

    args.threads = args.threads or torch.get_num_threads()
    sides = list(args.sides)
    if importlib.util.find_spec("transformers") is None:
        print("transformers is not installed: measuring lmlab only", file=sys.stderr)
        sides = [side for side in sides if side.startswith("lmlab")]
    child_argv = [*argv, "--threads", str(args.threads)]
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as folder:
        model = write_weights(args, folder)
        for round_ in range(args.rounds):
            for side in sides:
                print(f"round {round_ + 1}/{args.rounds}: {side} ...", file=sys.stderr, flush=True)
                runs[side].append(run_side(side, child_argv, folder))
    results = [merge(runs[side]) for side in sides]
    peak = add_mfu(results, model, args)

    shape = {k: getattr(args, k) for k in ("n_layer", "n_head", "n_embd", "block_size", "batch_size",
                                           "vocab_size", "dropout")}
    settings = {k: getattr(args, k) for k in ("steps", "repeats", "warmup", "rounds", "threads", "device", "dtype",
                                              "fused_adamw", "compile", "compile_backend")}
    transformers_version = None
    if importlib.util.find_spec("transformers"):
        from importlib.metadata import version

        transformers_version = version("transformers")
    ours = [r for r in results if r["name"].startswith("lmlab")]
    ratios = {f"{o['name']}/{r['name']}": o["median_tokens_per_s"] / r["median_tokens_per_s"]
              for o in ours for r in results if r is not o}
    ratios_best = {f"{o['name']}/{r['name']}": max(o["tokens_per_s"]) / max(r["tokens_per_s"])
                   for o in ours for r in results if r is not o}
    document = {"benchmark": "gpt_train", "shape": shape, "settings": settings, "results": results,
                "ratios": ratios, "ratios_best": ratios_best, "goal": "lmlab >= 1.4x HF (issue 17)", "peak": peak,
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                            "transformers": transformers_version, "python": platform.python_version()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"GPT training, {args.dtype}{' compiled' if args.compile else ''} on {args.device}, {args.threads} threads: "
          + ", ".join(f"{k}={v}" for k, v in shape.items()))
    print(table(results))
    print(f"\n(JSON: {args.out})")


if __name__ == "__main__":
    # Take benchmarks/ off the path (no sibling script may shadow a package of the same name
    # imported by transformers) and put the checkout on it (no install needed).
    here = Path(__file__).resolve().parent
    sys.path[:] = [str(here.parent)] + [p for p in sys.path if Path(p or ".").resolve() != here]
    main()
