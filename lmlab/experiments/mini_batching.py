"""Experiment `mini-batching`: what a batch buys in throughput and costs in memory; how much padding is waste.

Note 004 §3.2.8: processing ten examples at once beats ten times one; keep repeated work out of
loops, replace loops by concatenation, move data between CPU and GPU once. Three measurements:

1. **Batch size.** One GPT, trained and generating at batch sizes 1 .. 64, with lmlab's profiler
   (`lmlab.evaluate.profile`: the Trainer's own step, the median of timed steps; greedy generation
   with the KV cache) and its peak memory (`lmlab.evaluate.memory.PeakMemory`: the CUDA allocator's
   peak, or on a CPU the profiler's allocation events). Tokens/s and peak MB per batch size.
2. **Padding.** SST-2's training sentences in BPE pieces, batched three ways: padded to a fixed
   `max_length` (the notes' ``max_length=128``), padded to each shuffled batch's longest sentence,
   and length bucketing (`lmlab.data.batching.bucketed_batches`, what `lmlab classify` does). Waste
   = padding positions / all positions computed.
3. **Loop tricks**, each one small example, slow and fast versions giving the same numbers:
   hoisting (normalising an embedding table once, not once per query), concatenation (one matrix
   product for a stacked batch instead of one per example), and staying on the device (reading
   predictions back once with one ``.tolist()`` instead of one ``.item()`` per example).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lmlab.data.batching import bucketed_batches
from lmlab.errors import UserError
from lmlab.evaluate.profile import measure_generation, measure_training
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.subword_regularization import SubwordSettings, sst2_examples
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.tokenizers import BPETokenizer


@dataclass
class BatchingSettings:
    seeds: int = 1  # timings: the median of `steps` repeats each; the seed draws the random model and batches
    batch_sizes: str = "1,2,4,8,16,32,64"  # batch sizes of the throughput and memory sweep
    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    block_size: int = 128
    vocab_size: int = 1024
    steps: int = 3  # timed training steps per batch size (after one warm-up)
    new_tokens: int = 32  # generated tokens per batch size (after a prompt of 16)
    sst2: str = "../shared/data/sst2"  # GLUE SST-2 folder; empty: the synthetic sentiment set
    sentences: int = 67349  # training sentences whose padding is counted
    max_length: int = 128  # fixed-length padding (the notes' max_length=128)
    padding_batch: int = 32  # batch size of the padding count
    trick_size: int = 256  # the loop tricks' sizes: examples, and the width of their vectors
    repeats: int = 5  # timed repeats of each trick (the median is kept)

    def sizes(self) -> list[int]:
        try:
            sizes = [int(part) for part in self.batch_sizes.split(",")]
        except ValueError:
            raise UserError(f"--set batch_sizes={self.batch_sizes}: give numbers separated by commas") from None
        if not sizes or min(sizes) < 1:
            raise UserError(f"--set batch_sizes={self.batch_sizes}: every batch size must be >= 1")
        return sizes

    def validate(self) -> None:
        self.sizes()
        if min(self.steps, self.new_tokens, self.sentences, self.max_length, self.padding_batch, self.trick_size,
               self.repeats) < 1 or self.n_embd % self.n_head:
            raise UserError("steps, new_tokens, sentences, max_length, padding_batch, trick_size and repeats must be "
                            ">= 1, and n_embd divisible by n_head")


PRESETS = {
    "tiny": BatchingSettings(batch_sizes="1,4", n_layer=1, n_embd=32, n_head=2, block_size=32, vocab_size=128,
                             steps=1, new_tokens=4, sst2="", sentences=400, padding_batch=8, trick_size=32,
                             repeats=1),
    "default": BatchingSettings(),
}


# --- 1. batch size ---------------------------------------------------------------------------------------
def batch_sweep(lab: Lab, settings: BatchingSettings, seed: int) -> dict:
    def compute(folder: Path) -> dict:
        torch.manual_seed(seed)
        config = GPTConfig(vocab_size=settings.vocab_size, block_size=settings.block_size, n_layer=settings.n_layer,
                           n_head=settings.n_head, n_embd=settings.n_embd, dropout=0.0)
        model = GPT(config).to(lab.device)
        rows = []
        for size in settings.sizes():
            train = measure_training(model, size, settings.block_size, settings.steps, lab.device)
            decode = measure_generation(model, size, min(16, settings.block_size), settings.new_tokens, lab.device)
            rows.append({"batch_size": size, "train": train, "generation": decode})
        return {"parameters": model.num_parameters(), "rows": rows}

    return lab.part(f"batch-sizes-seed{seed}", compute)


# --- 2. padding ------------------------------------------------------------------------------------------
def padding_waste(batches: list[list[int]], width=None) -> float:
    """Padding / all positions when each batch of lengths is padded to `width` (None: its own longest)."""
    real = sum(sum(batch) for batch in batches)
    total = sum(len(batch) * (width or max(batch)) for batch in batches)
    return 1 - real / total


def padding_strategies(lengths: list[int], batch_size: int, max_length: int, seed: int) -> dict:
    """Waste of fixed-length padding, per-batch padding of shuffled batches, and length bucketing."""
    lengths = [min(n, max_length) for n in lengths]
    order = np.random.default_rng(seed).permutation(len(lengths))
    shuffled = [[lengths[i] for i in order[s:s + batch_size]] for s in range(0, len(order) - batch_size + 1,
                                                                            batch_size)]
    bucketed = [[lengths[i] for i in batch] for batch in bucketed_batches(np.array(lengths), batch_size, seed, 0)]
    return {"fixed": padding_waste(shuffled, max_length), "per_batch": padding_waste(shuffled),
            "bucketing": padding_waste(bucketed), "mean_length": statistics.fmean(lengths),
            "longest": max(lengths)}


def padding_part(lab: Lab, settings: BatchingSettings, seed: int) -> dict:
    def compute(folder: Path) -> dict:
        train, _ = sst2_examples(SubwordSettings(sst2=settings.sst2, train_sentences=settings.sentences))
        texts = [e.text.lower() for e in train]
        tokenizer = BPETokenizer().train(texts, vocab_size=4096 if settings.sst2 else 400)
        lengths = [len(tokenizer.encode(text)) or 1 for text in texts]
        return {"sentences": len(texts), **padding_strategies(lengths, settings.padding_batch, settings.max_length,
                                                              seed)}

    return lab.part(f"padding-seed{seed}", compute)


# --- 3. loop tricks --------------------------------------------------------------------------------------
def nearest_in_loop(queries: torch.Tensor, table: torch.Tensor) -> list[int]:
    """Cosine nearest neighbour of each query, the table normalised again for every query."""
    return [int((F.normalize(table, dim=1) @ F.normalize(q, dim=0)).argmax()) for q in queries]


def nearest_hoisted(queries: torch.Tensor, table: torch.Tensor) -> list[int]:
    normalised = F.normalize(table, dim=1)  # once, out of the loop
    return [int((normalised @ F.normalize(q, dim=0)).argmax()) for q in queries]


def project_each(weight: torch.Tensor, examples: list[torch.Tensor]) -> torch.Tensor:
    """W x for each example, one product at a time, stacked at the end: (N, C)."""
    return torch.stack([weight @ x for x in examples])


def project_stacked(weight: torch.Tensor, examples: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(examples) @ weight.T  # (N, C) @ (C, C): one product


def correct_by_item(predictions: torch.Tensor, labels: torch.Tensor) -> int:
    """Correct predictions counted in Python, one value read back from the device per example."""
    return sum(int(predictions[i].item() == labels[i].item()) for i in range(len(labels)))


def correct_on_device(predictions: torch.Tensor, labels: torch.Tensor) -> int:
    return int((predictions == labels).sum().item())  # compared on the device, one number read back


TRICKS = {  # name -> (slow, fast, inputs(size, device, generator))
    "hoist the normalisation out of the loop": (nearest_in_loop, nearest_hoisted, lambda n, d, g: (
        torch.randn(n, n, generator=g).to(d), torch.randn(4 * n, n, generator=g).to(d))),
    "one product for the stacked batch": (project_each, project_stacked, lambda n, d, g: (
        torch.randn(n, n, generator=g).to(d), list(torch.randn(4 * n, n, generator=g).to(d)))),
    "compare on the device, read back once": (correct_by_item, correct_on_device, lambda n, d, g: (
        torch.randint(0, 2, (16 * n,), generator=g).to(d), torch.randint(0, 2, (16 * n,), generator=g).to(d))),
}


def median_seconds(function, arguments, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(*arguments)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def tricks_part(lab: Lab, settings: BatchingSettings, seed: int) -> dict:
    def compute(folder: Path) -> dict:
        results = {}
        for name, (slow, fast, make) in TRICKS.items():
            arguments = make(settings.trick_size, lab.device, torch.Generator().manual_seed(seed))
            same = slow(*arguments)
            other = fast(*arguments)
            equal = torch.allclose(same, other, atol=1e-4) if isinstance(same, torch.Tensor) else same == other
            slow_s, fast_s = (median_seconds(f, arguments, settings.repeats) for f in (slow, fast))
            results[name] = {"slow_s": slow_s, "fast_s": fast_s, "speedup": slow_s / fast_s, "same_result": bool(equal)}
        return results

    return lab.part(f"tricks-seed{seed}", compute)


# --- the report ------------------------------------------------------------------------------------------
def _answer(sweep: dict, padding: dict, tricks: dict) -> list[str]:
    first, last = sweep["rows"][0], sweep["rows"][-1]
    ratio = {what: last[what]["tokens_per_s"] / first[what]["tokens_per_s"] for what in ("train", "generation")}
    memory = last["train"]["peak_memory_mb"] / max(first["train"]["peak_memory_mb"], 1e-9)
    answer = [f"Batch {first['batch_size']} -> {last['batch_size']}: training {ratio['train']:.1f}x the tokens/s "
              f"({first['train']['tokens_per_s']:,.0f} -> {last['train']['tokens_per_s']:,.0f}), generation "
              f"{ratio['generation']:.1f}x ({first['generation']['tokens_per_s']:,.0f} -> "
              f"{last['generation']['tokens_per_s']:,.0f}); training peak memory {memory:.1f}x "
              f"({first['train']['peak_memory_mb']:.1f} -> {last['train']['peak_memory_mb']:.1f} MB)."
              + (" Generation gains more: one token per row per step is too little work to fill the machine."
                 if ratio["generation"] > ratio["train"] else "")]
    answer.append(f"Padding waste on {padding['sentences']:,} sentences (mean {padding['mean_length']:.1f} pieces, "
                  f"longest {padding['longest']}): {padding['fixed']:.0%} with fixed-length padding, "
                  f"{padding['per_batch']:.0%} padded per batch, {padding['bucketing']:.0%} with length bucketing.")
    answer.append("Loop tricks: " + "; ".join(f"{name} {t['speedup']:.1f}x faster"
                                              + ("" if t["same_result"] else " (RESULTS DIFFER)")
                                              for name, t in tricks.items()) + ".")
    return answer


def _tables(sweep: dict, padding: dict, tricks: dict) -> list[tuple[str, str]]:
    rows = [[r["batch_size"], f"{r['train']['tokens_per_s']:,.0f}", f"{r['train']['peak_memory_mb']:.1f}",
             f"{r['generation']['tokens_per_s']:,.0f}", f"{r['generation']['per_token_ms']:.2f}",
             f"{r['generation']['peak_memory_mb']:.2f}"] for r in sweep["rows"]]
    pad = [[name, f"{padding[key]:.1%}"] for name, key in (("fixed max_length", "fixed"), ("per batch", "per_batch"),
                                                           ("length bucketing", "bucketing"))]
    trick_rows = [[name, f"{t['slow_s'] * 1e3:.2f}", f"{t['fast_s'] * 1e3:.2f}", f"{t['speedup']:.1f}x",
                   str(t["same_result"])] for name, t in tricks.items()]
    return [("Throughput and peak memory by batch size", markdown_table(
                ["batch", "train tokens/s", "train peak MB", "generate tokens/s", "ms per generation step",
                 "generate peak MB"], rows)),
            ("Padding waste (padding / positions computed)", markdown_table(["batching", "waste"], pad)),
            ("Loop tricks (median of the repeats)", markdown_table(["trick", "slow ms", "fast ms", "speed-up",
                                                                    "same result"], trick_rows))]


def _plot(sweep: dict, padding: dict, path: Path) -> None:
    fig, axes = figure(1, 3, size=(4.4, 3.6))
    sizes = [r["batch_size"] for r in sweep["rows"]]
    for what in ("train", "generation"):
        axes[0, 0].plot(sizes, [r[what]["tokens_per_s"] for r in sweep["rows"]], "o-", label=what)
        axes[0, 1].plot(sizes, [r[what]["peak_memory_mb"] for r in sweep["rows"]], "o-", label=what)
    for panel, label in ((axes[0, 0], "tokens/s"), (axes[0, 1], "peak memory (MB)")):
        panel.set(xscale="log", yscale="log", xlabel="batch size", ylabel=label)
    names = ["fixed", "per_batch", "bucketing"]
    axes[0, 2].bar(range(3), [padding[n] for n in names], color="tab:gray")
    axes[0, 2].set(xticks=range(3), ylabel="padding / positions", title="padding waste")
    axes[0, 2].set_xticklabels(["fixed 128", "per batch", "bucketing"])
    save_figure(fig, axes, path)


def run(lab: Lab, settings: BatchingSettings) -> Report:
    seed = 0
    sweep, padding, tricks = (part(lab, settings, seed) for part in (batch_sweep, padding_part, tricks_part))
    _plot(sweep, padding, lab.path / "mini-batching.png")
    source = "SST-2" if settings.sst2 else "synthetic sentiment"
    setup = (f"A GPT of {sweep['parameters']:,} parameters ({settings.n_layer} layers, n_embd {settings.n_embd}, "
             f"block {settings.block_size}, vocabulary {settings.vocab_size}, random weights: the time does not depend "
             f"on them), at batch sizes {settings.batch_sizes}: training (median of {settings.steps} steps of "
             f"{settings.block_size} tokens per row) and greedy generation ({settings.new_tokens} tokens after a "
             f"16-token prompt), device `{lab.device}`. Padding: {padding['sentences']:,} {source} training sentences "
             f"in lowercased BPE pieces, batches of {settings.padding_batch}, max_length {settings.max_length}. "
             f"Tricks: size {settings.trick_size}, median of {settings.repeats} repeats.")
    return Report(setup, {"batch_sizes": sweep, "padding": padding, "tricks": tricks}, _answer(sweep, padding, tricks),
                  _tables(sweep, padding, tricks),
                  [("mini-batching.png", "tokens/s and peak memory against batch size, and the padding waste of "
                                         "three ways to batch")])


EXPERIMENT = Experiment("mini-batching", "How much faster is a batch, what does it cost in memory, how much of a "
                        "padded batch is waste, and what do the loop tricks buy?", "004 §3.2.8", PRESETS, run,
                        {"tiny": "13 s", "default": "1.5 min loaded (16 s CPU)"})
