"""Greedy decoding speed with a KV cache: lmlab's `generate` vs `GPT2LMHeadModel.generate`.

Both sides load the *same* random weights (lmlab writes them once as a Hugging Face folder with
`save_hf_gpt2`; lmlab reads it with `load_hf_gpt2`, transformers with `from_pretrained`), get the
same prompt (batch 1) and generate the same number of new tokens greedily:

    lmlab:  generate(model, prompt, N, SamplingConfig(strategy="greedy"))
    HF:     model.generate(prompt, use_cache=True, do_sample=False, max_new_tokens=N, min_new_tokens=N)

The two token sequences must be identical (a warning row says so when they are not). Each model
runs in its own subprocess (this script re-invokes itself with `--only NAME`), so peak RSS is per
model. Reported: median new tokens/s (prefill included) over `--repeats` generations after one
warm-up generation, the ratio lmlab / HF, peak RSS.

    python benchmarks/generate.py                          # the `cpu` preset's shape
    python benchmarks/generate.py --preset-shape gpt2-small --repeats 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "generate.json"
SIDES = ("lmlab", "hf-sdpa", "hf-eager", "lmlab-int8")
PRESET_SHAPES = {
    "cpu": dict(n_layer=4, n_head=4, n_embd=128, block_size=128, vocab_size=96),
    "gpt2-small": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, vocab_size=50257),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    shape = parser.add_argument_group("model shape (a preset; each flag overrides its field)")
    shape.add_argument("--preset-shape", choices=PRESET_SHAPES, default="cpu")
    for name in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size"):
        shape.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    run = parser.add_argument_group("measurement")
    run.add_argument("--prompt-length", type=int, default=16)
    run.add_argument("--new-tokens", type=int, default=200)
    run.add_argument("--repeats", type=int, default=5, help="timed generations per model and round")
    run.add_argument("--rounds", type=int, default=1,
                     help="run every model this many times, alternating, to spread machine noise")
    run.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    run.add_argument("--device", default="cpu")
    run.add_argument("--sides", nargs="+", default=list(SIDES[:3]), choices=SIDES,
                     help="lmlab-int8: the same weights quantized as `lmlab quantize --dtype int8` writes them, "
                          "decoded with the int8 weight-only kernel (bf16 activations) where the CPU has one")
    run.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument("--only", choices=SIDES, help=argparse.SUPPRESS)  # internal: one model, JSON out
    parser.add_argument("--weights", help=argparse.SUPPRESS)  # internal: the shared HF folder
    args = parser.parse_args(argv)

    needed = args.prompt_length + args.new_tokens
    preset = PRESET_SHAPES[args.preset_shape]
    explicit_block = args.block_size is not None
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.block_size < needed:
        if explicit_block:
            parser.error(f"--block-size {args.block_size} < prompt + new tokens ({needed}): transformers cannot "
                         f"go past its position table")
        args.block_size = -(-needed // 64) * 64  # the preset's context is too short: round up to fit
        args.block_note = f"block_size raised from {preset['block_size']} to {args.block_size} to fit {needed} tokens"
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


# --- memory bandwidth: what bounds a decoding step of a large model --------------------------------
def weight_bytes_per_token(model) -> int:
    """Bytes of weights one decoding step reads: every tensor of the layers that multiply (Linear,
    transformers' Conv1D, lmlab's Int8Linear; a tied output head reads the whole token table), not
    the embedding tables, of which a step looks up one row. Boolean mask buffers are not weights."""
    import torch

    tensors = {}
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding):
            continue
        for tensor in [*module.parameters(recurse=False), *module.buffers(recurse=False)]:
            if tensor.dtype != torch.bool:
                tensors[tensor.data_ptr()] = tensor.numel() * tensor.element_size()
    return sum(tensors.values())


def read_bandwidth_gbs(threads: int, megabytes: int = 1024, repeats: int = 5) -> float:
    """The best read bandwidth (GB/s) of summing a float32 tensor of `megabytes`, with `threads`: the
    speed at which this machine can stream weights from memory."""
    import torch

    torch.set_num_threads(threads)
    data = torch.ones(megabytes * 2**20 // 4)
    data.sum()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - start)
    return data.numel() * 4 / best / 1e9


# --- one model, in its own process -----------------------------------------------------------------
def measure(args: argparse.Namespace) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    prompt = torch.randint(0, args.vocab_size, (1, args.prompt_length),
                           generator=torch.Generator().manual_seed(0)).to(device)
    new = args.new_tokens
    if args.only.startswith("lmlab"):
        from lmlab.generate.sampling import SamplingConfig, generate
        from lmlab.interop.hf import load_hf_gpt2
        from lmlab.nn.quantize import compress_state, expand_state, use_int8_kernels

        baseline = rss_mib()
        model = load_hf_gpt2(args.weights, device=device)
        if args.only == "lmlab-int8":  # what loading a `lmlab quantize --dtype int8` run does
            stored = compress_state(model.state_dict(), "int8")
            model.load_state_dict(expand_state(stored), strict=False)
            use_int8_kernels(model, stored)
        greedy = SamplingConfig(strategy="greedy")

        def run() -> list[int]:
            return torch.cat(list(generate(model, prompt, new, greedy)), dim=1)[0].tolist()
    else:
        import transformers

        transformers.utils.logging.disable_progress_bar()
        baseline = rss_mib()
        model = transformers.GPT2LMHeadModel.from_pretrained(
            args.weights, attn_implementation=args.only.removeprefix("hf-"), dtype=torch.float32).to(device).eval()
        pad = model.config.eos_token_id if model.config.eos_token_id is not None else 0
        mask = torch.ones_like(prompt)

        def run() -> list[int]:
            with torch.no_grad():
                out = model.generate(prompt, attention_mask=mask, use_cache=True, do_sample=False,
                                     max_new_tokens=new, min_new_tokens=new, pad_token_id=pad)
            return out[0, prompt.size(1):].tolist()

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    tokens = run()  # warm-up
    tokens_per_s = []
    for _ in range(args.repeats):
        sync()
        start = time.perf_counter()
        again = run()
        sync()
        tokens_per_s.append(len(again) / (time.perf_counter() - start))
        assert again == tokens, "greedy decoding is not deterministic"
    return {"name": args.only, "tokens_per_s": tokens_per_s, "tokens": tokens, "rss_after_imports_mib": baseline,
            "peak_rss_mib": peak_rss_mib(), "threads": torch.get_num_threads(),
            "weight_bytes_per_token": weight_bytes_per_token(model)}


# --- the driver ------------------------------------------------------------------------------------
def write_weights(args: argparse.Namespace, folder: str) -> None:
    """lmlab-initialised random weights, written once in Hugging Face's layout for both sides.

    The position table is drawn wider than GPT-2's init (std 1 instead of 0.02): a random model with
    tied embeddings otherwise repeats one token forever, which would make the equality check weak.
    """
    import torch

    from lmlab.interop.hf import save_hf_gpt2
    from lmlab.models.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=args.vocab_size, block_size=args.block_size, n_layer=args.n_layer,
                          n_head=args.n_head, n_embd=args.n_embd, dropout=0.0))
    with torch.no_grad():
        model.position_embedding.weight.normal_(std=1.0)
    save_hf_gpt2(model, folder)


def run_side(side: str, argv: list[str], folder: str) -> dict:
    command = [sys.executable, os.path.abspath(__file__), *argv, "--only", side, "--weights", folder]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"{side}: the measuring subprocess failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def streamed(result: dict) -> float:
    """GB/s of weights a side reads while decoding: bytes per token x median tokens/s."""
    return result["weight_bytes_per_token"] * result["median_tokens_per_s"] / 1e9


def merge(runs: list[dict]) -> dict:
    merged = dict(runs[0])
    merged["tokens_per_s"] = [value for run in runs for value in run["tokens_per_s"]]
    merged["peak_rss_mib"] = max(run["peak_rss_mib"] for run in runs)
    merged["median_tokens_per_s"] = statistics.median(merged["tokens_per_s"])
    return merged


def table(results: list[dict], bandwidth_gbs: float) -> str:
    lmlab = next((r for r in results if r["name"] == "lmlab"), None)
    lines = ["| model | new tokens/s (median) | ms/token | min - max | lmlab / model: median (best) "
             "| same tokens as lmlab | weights read GB/s (share of the machine's) | peak RSS (MiB) "
             "| RSS after imports (MiB) |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in results:
        ratio = (f"{lmlab['median_tokens_per_s'] / r['median_tokens_per_s']:.2f}x "
                 f"({max(lmlab['tokens_per_s']) / max(r['tokens_per_s']):.2f}x)") if lmlab else "-"
        same = "-" if not lmlab or r is lmlab else ("yes" if r["tokens"] == lmlab["tokens"] else "**NO**")
        lines.append(f"| {r['name']} | {r['median_tokens_per_s']:,.1f} | {1000 / r['median_tokens_per_s']:.2f} | "
                     f"{min(r['tokens_per_s']):,.1f} - {max(r['tokens_per_s']):,.1f} | {ratio} | {same} | "
                     f"{streamed(r):.1f} ({streamed(r) / bandwidth_gbs:.0%}) | "
                     f"{r['peak_rss_mib']:.0f} | {r['rss_after_imports_mib']:.0f} |")
    for r in results:
        if lmlab and r is not lmlab and r["tokens"] != lmlab["tokens"]:
            first = next(i for i, (a, b) in enumerate(zip(lmlab["tokens"], r["tokens"])) if a != b)
            lines.append(f"\nWARNING: {r['name']} generated different tokens from lmlab (first at new token {first})")
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
        sides = [side for side in sides if side == "lmlab"]
    shape = {k: getattr(args, k) for k in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size")}
    child_argv = [*argv, "--threads", str(args.threads), *(f"--{k.replace('_', '-')}={v}" for k, v in shape.items())]
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as folder:
        write_weights(args, folder)
        for round_ in range(args.rounds):
            for side in sides:
                print(f"round {round_ + 1}/{args.rounds}: {side} ...", file=sys.stderr, flush=True)
                runs[side].append(run_side(side, child_argv, folder))
    results = [merge(runs[side]) for side in sides]
    bandwidth = read_bandwidth_gbs(args.threads)

    settings = {k: getattr(args, k) for k in ("preset_shape", "prompt_length", "new_tokens", "repeats", "rounds",
                                              "threads", "device")}
    transformers_version = None
    if importlib.util.find_spec("transformers"):
        from importlib.metadata import version

        transformers_version = version("transformers")
    lmlab = next((r for r in results if r["name"] == "lmlab"), None)
    ratios = {f"lmlab/{r['name']}": lmlab["median_tokens_per_s"] / r["median_tokens_per_s"]
              for r in results if lmlab and r is not lmlab}
    ratios_best = {f"lmlab/{r['name']}": max(lmlab["tokens_per_s"]) / max(r["tokens_per_s"])
                   for r in results if lmlab and r is not lmlab}
    identical = {r["name"]: r["tokens"] == lmlab["tokens"] for r in results if lmlab and r is not lmlab}
    document = {"benchmark": "generate", "shape": shape, "settings": settings, "results": results,
                "ratios": ratios, "ratios_best": ratios_best, "identical_tokens": identical,
                "goal": "lmlab >= 4x HF at the cpu preset, >= 2x at gpt2-small (CPU)",
                "read_bandwidth_gbs": bandwidth,
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                            "transformers": transformers_version, "python": platform.python_version()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"Greedy generation, batch 1, prompt {args.prompt_length} + {args.new_tokens} new tokens, fp32 on "
          f"{args.device}, {args.threads} threads: " + ", ".join(f"{k}={v}" for k, v in shape.items()))
    if getattr(args, "block_note", None):
        print(f"({args.block_note})")
    print(f"Memory read bandwidth, {args.threads} threads (summing a 1 GiB float32 tensor, best of 5): "
          f"{bandwidth:.1f} GB/s; weights read per token: {results[0]['weight_bytes_per_token'] / 1e6:,.1f} MB")
    print(table(results, bandwidth))
    print(f"\n(JSON: {args.out})")


if __name__ == "__main__":
    # Take benchmarks/ off the path (no sibling script may shadow a package of the same name
    # imported by transformers) and put the checkout on it (no install needed).
    here = Path(__file__).resolve().parent
    sys.path[:] = [str(here.parent)] + [p for p in sys.path if Path(p or ".").resolve() != here]
    main()
