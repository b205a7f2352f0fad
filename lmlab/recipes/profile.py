"""Recipe: `lmlab profile RUN [--json]`, the efficiency measures of a trained run (see
`lmlab.evaluate.profile` for what each number means and how it is measured)."""

from __future__ import annotations

import copy
import json
import time

from lmlab.data.lm import load_ids
from lmlab.errors import UserError
from lmlab.evaluate.profile import profile_model
from lmlab.recipes.common import say
from lmlab.recipes.families import lm_family
from lmlab.recipes.options import ProfileOptions
from lmlab.runs import load_run
from lmlab.train import distributed


def _batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise UserError(f"--batch-sizes expects numbers separated by commas, e.g. 1,2,4,8; got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise UserError(f"--batch-sizes must be >= 1, got {text!r}")
    return sizes


def profile_command(options: ProfileOptions) -> None:
    sizes = _batch_sizes(options.batch_sizes)
    if options.steps < 1 or options.new_tokens < 2:
        raise UserError("--steps must be >= 1 and --new-tokens >= 2")
    device = distributed.resolve_device(options.device)
    run = load_run(options.run, device, expect="lm", command="lmlab profile")
    model, family = run.model, lm_family(run.family)
    say(f"profiling {options.run} ({family.display_name}) on {device} at batch sizes {sizes}")
    result = {"run": str(options.run), "family": family.name,
              **profile_model(model, device, sizes, model.config.block_size, options.steps, options.new_tokens)}
    if family.training == "counted":  # its training is counting: time a recount of the training split
        ids = load_ids(run.path / "data" / "train.npy")
        started = time.perf_counter()
        family.model_class(copy.deepcopy(model.config)).fit(ids)
        seconds = time.perf_counter() - started
        result["counting"] = {"tokens": len(ids), "seconds": seconds, "tokens_per_s": len(ids) / seconds}
    if options.json:
        print(json.dumps(result))
        return
    peak = result["device"]
    print(f"{family.display_name} {options.run}: {result['parameters']:,} parameters "
          f"({result['parameters_without_embeddings']:,} without embeddings); "
          f"{result['forward_flops_per_token'] / 1e6:.2f} MFLOP per token forward, "
          f"{result['training_flops_per_token'] / 1e6:.2f} per training token")
    print(f"device: {peak['name']}, peak {peak['peak_flops'] / 1e9:,.1f} GFLOP/s ({peak['source']})")
    if "counting" in result:
        print(f"counting: {result['counting']['tokens_per_s']:,.0f} tokens/s "
              f"({result['counting']['tokens']:,} tokens in {result['counting']['seconds']:.2f}s)")
    print("| batch | train tokens/s | train peak MB | train MFU | generate tokens/s | first token ms "
          "| per token ms | generate peak MB | generate MFU |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    training = {row["batch_size"]: row for row in result["training"]}
    for row in result["generation"]:
        train = training.get(row["batch_size"])
        train_cells = (f"{train['tokens_per_s']:,.0f} | {train['peak_memory_mb']:.1f} | {train['mfu']:.2%}"
                       if train else "- | - | -")
        print(f"| {row['batch_size']} | {train_cells} | {row['tokens_per_s']:,.0f} | {row['first_token_ms']:.2f} "
              f"| {row['per_token_ms']:.2f} | {row['peak_memory_mb']:.1f} | {row['mfu']:.2%} |")
    print(_memory_note(result["training"]))


def _memory_note(training: list[dict]) -> str:
    """What the peak MB columns count (`lmlab.evaluate.memory`), and what the step holds besides."""
    generation = ("generate peak MB: the generation's own tensors at their most (KV cache, activations, "
                  "logits), weights not included")
    if not training:
        return f"{generation}."
    held = training[0]
    return (f"train peak MB: the most the training step's own tensors held at once (activations, gradients, "
            f"clipping and AdamW temporaries), on top of {held['weights_mb']:.1f} MB of weights and "
            f"{held['optimizer_state_mb']:.1f} MB of AdamW state held before it; {generation}.")
