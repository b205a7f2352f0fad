"""Attention forward + backward time: lmlab's explicit path, its fused (SDPA) path, torch.nn.MultiheadAttention.

All three compute the same causal multi-head self-attention with the same weights (lmlab's fused
QKV layout is copied into MultiheadAttention's `in_proj_weight`; outputs are checked equal
first). Each measurement is the best of `--repeats` timings of `--steps` forward + backward
passes, after one warm-up, at every sequence length; the table gives milliseconds per step and
the ratios explicit / sdpa and torch / sdpa (above 1: the fused path is that many times faster).

    python benchmarks/attention.py                           # 128 .. 2048 tokens, n_embd 256, 4 heads
    python benchmarks/attention.py --lengths 128 512 --threads 1 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "attention.json"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--n-embd", type=int, default=256)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="forward + backward passes per timing")
    parser.add_argument("--repeats", type=int, default=3, help="timings per path and length; the best is kept")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    return parser.parse_args(argv)


def build(args):
    """(lmlab explicit, lmlab sdpa, torch MultiheadAttention) with identical weights."""
    import torch

    from lmlab.nn.attention import AttentionConfig, MultiHeadAttention

    torch.manual_seed(0)
    explicit = MultiHeadAttention(AttentionConfig(args.n_embd, args.n_head, causal=True, path="explicit"))
    fused = MultiHeadAttention(AttentionConfig(args.n_embd, args.n_head, causal=True, path="sdpa"))
    fused.load_state_dict(explicit.state_dict())
    reference = torch.nn.MultiheadAttention(args.n_embd, args.n_head, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(explicit.qkv.weight)
        reference.in_proj_bias.copy_(explicit.qkv.bias)
        reference.out_proj.weight.copy_(explicit.proj.weight)
        reference.out_proj.bias.copy_(explicit.proj.bias)
    return {name: module.to(args.device) for name, module in
            (("explicit", explicit), ("sdpa", fused), ("torch", reference))}


def step_function(name: str, module, length: int, device):
    import torch

    from lmlab.nn.masks import causal_mask

    if name == "torch":  # MultiheadAttention takes the blocked positions, True = hidden
        blocked = ~causal_mask(length, length, device=device)
        return lambda x: module(x, x, x, attn_mask=blocked, need_weights=False)[0]
    return lambda x: module(x)[0]


def measure(args, modules, length: int) -> dict:
    import torch

    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    x = torch.randn(args.batch_size, length, args.n_embd, device=device, requires_grad=True)
    outputs = {name: step_function(name, module, length, device)(x) for name, module in modules.items()}
    agree = all(torch.allclose(outputs["sdpa"], out, atol=1e-4) for out in outputs.values())
    seconds = {}
    for name, module in modules.items():
        forward = step_function(name, module, length, device)

        def run():
            for _ in range(args.steps):
                forward(x).sum().backward()
        run()  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            sync()
            started = time.perf_counter()
            run()
            sync()
            best = min(best, (time.perf_counter() - started) / args.steps)
        seconds[name] = best
    return {"length": length, "ms": {k: 1000 * v for k, v in seconds.items()}, "outputs_agree": agree,
            "explicit/sdpa": seconds["explicit"] / seconds["sdpa"], "torch/sdpa": seconds["torch"] / seconds["sdpa"]}


def main(argv=None) -> None:
    import torch

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    modules = build(args)
    rows = []
    for length in args.lengths:
        print(f"length {length} ...", file=sys.stderr, flush=True)
        rows.append(measure(args, modules, length))
    document = {"benchmark": "attention", "settings": {k: (str(v) if isinstance(v, Path) else v)
                                                      for k, v in vars(args).items()},
                "threads": torch.get_num_threads(), "rows": rows,
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"Causal self-attention, forward + backward, batch {args.batch_size}, n_embd {args.n_embd}, {args.n_head} "
          f"heads, fp32 on {args.device}, {torch.get_num_threads()} threads (best of {args.repeats} x {args.steps} steps)")
    print("| tokens | explicit (ms) | sdpa (ms) | torch MHA (ms) | explicit / sdpa | torch / sdpa | same output |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['length']} | {r['ms']['explicit']:.1f} | {r['ms']['sdpa']:.1f} | {r['ms']['torch']:.1f} | "
              f"{r['explicit/sdpa']:.2f}x | {r['torch/sdpa']:.2f}x | {'yes' if r['outputs_agree'] else '**NO**'} |")
    print(f"\n(JSON: {args.out})")


if __name__ == "__main__":
    here = Path(__file__).resolve().parent  # the checkout on the path, benchmarks/ off it
    sys.path[:] = [str(here.parent)] + [p for p in sys.path if Path(p or ".").resolve() != here]
    main()
