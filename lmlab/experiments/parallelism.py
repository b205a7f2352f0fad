"""Experiment `parallelism`: why can an RNN not be trained in parallel, and where is a Transformer
parallel and where is it still serial?

Note 000 asks why RNNs cannot be computed in parallel and answers that the time dependency
forbids it, while masked self-attention lets the Transformer train on all positions at once;
002 Q17 asks where the Transformer's parallelism lies and whether the decoder can be parallel.
An LSTM and a GPT of (nearly) equal parameter counts, untrained (speed does not depend on the
weights), on random token ids:

1. **Structure.** In one forward over T tokens, how many sequential calls each model makes: the
   GPT calls each of its blocks once, on all T positions; the LSTM calls its cell T times per
   layer, each on one position (counted with `lmlab.nn.rnn.recorded_states` on the written-out
   loop, which computes what the fused kernel computes).
2. **Training.** Seconds per training step against T (`lmlab.evaluate.profile.measure_training`:
   the Trainer's step), tokens/s and the achieved FLOP/s (3x the forward FLOPs per token).
3. **Teacher forcing against serial decoding.** The same T tokens, one forward over all of them
   (teacher forcing) against T forwards of one token with the cache (as generation runs); the
   logits are the same (their largest difference is reported).
4. **Decoding.** Milliseconds per generated token against its position, with the KV cache (GPT)
   or the recurrent state (LSTM).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from lmlab.errors import UserError
from lmlab.evaluate.profile import forward_flops_per_token, measure_training
from lmlab.experiments.lab import Experiment, Lab, Report
from lmlab.experiments.parallelism_report import answer, plot, tables
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.models.rnn_lm import RNNLM, RNNLMConfig
from lmlab.nn.rnn import recorded_states

VOCAB = 128  # token ids of the profiled models: speed does not depend on the text
PARALLEL_REPEATS = 3  # timings of the one-forward pass per round (it is short, so noise would dominate one)


@dataclass
class ParallelSettings:
    seeds: int = 1  # timing rounds, each on a fresh initialisation; the fastest round is kept
    n_layer: int = 2  # layers of both models
    n_head: int = 4
    n_embd: int = 128  # the GPT's width and both models' embedding width; the LSTM's state is sized to match
    lengths: str = "64,128,256,512,1024"  # sequence lengths T of the timed training steps and forwards
    batch_size: int = 8  # sequences per timed training step
    steps: int = 3  # timed training steps per length (the median is kept)
    decode_tokens: int = 1024  # tokens generated one by one for the per-position timing
    decode_buckets: int = 8  # the positions are averaged in this many equal ranges

    def validate(self) -> None:
        if min(self.seeds, self.n_layer, self.n_head, self.n_embd, self.batch_size, self.steps,
               self.decode_buckets) < 1 or min(_ints(self.lengths)) < 2 or self.decode_tokens < self.decode_buckets:
            raise UserError("seeds, n_layer, n_head, n_embd, batch_size, steps and decode_buckets must be >= 1, "
                            "every length >= 2 and decode_tokens >= decode_buckets")


PRESETS = {
    "tiny": ParallelSettings(n_layer=1, n_head=2, n_embd=32, lengths="8,32", batch_size=2, steps=1,
                             decode_tokens=32, decode_buckets=4),
    "default": ParallelSettings(seeds=3),
}


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


# --- the two models -----------------------------------------------------------------------------
def gpt_model(settings: ParallelSettings, max_length: int) -> GPT:
    """A GPT with RoPE positions: no position table, so its size does not depend on the length."""
    return GPT(GPTConfig(vocab_size=VOCAB, block_size=max_length, n_layer=settings.n_layer, n_head=settings.n_head,
                         n_embd=settings.n_embd, pos="rope", dropout=0.0))


def lstm_model(settings: ParallelSettings, n_hidden: int, fast: bool = True) -> RNNLM:
    return RNNLM(RNNLMConfig(vocab_size=VOCAB, cell="lstm", block_size=2, n_embd=settings.n_embd, n_hidden=n_hidden,
                             n_layer=settings.n_layer, carry_state=False, fast=fast))


def matching_width(settings: ParallelSettings, target: int) -> int:
    """The LSTM state width whose parameter count is closest to `target`."""
    count = lambda h: lstm_model(settings, h).num_parameters()  # noqa: E731
    low, high = 1, 4 * settings.n_embd
    while high - low > 1:  # the count grows with the width: bisect
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) <= target else (low, middle)
    return min((low, high), key=lambda h: abs(count(h) - target))


def models(settings: ParallelSettings, seed: int) -> dict:
    """{"GPT": ..., "LSTM": ...}, in eval mode, the LSTM's width matching the GPT's parameter count."""
    torch.manual_seed(seed)
    gpt = gpt_model(settings, max(max(_ints(settings.lengths)), settings.decode_tokens))
    lstm = lstm_model(settings, matching_width(settings, gpt.num_parameters()))
    return {"GPT": gpt.eval(), "LSTM": lstm.eval()}


# --- 1. structure -------------------------------------------------------------------------------
def sequential_calls(model, ids: torch.Tensor) -> dict:
    """One forward over ids (B, T): {"calls": sequential calls of the repeated unit, "positions": how
    many positions each call computes}. The GPT's unit is a block, the LSTM's a cell step (the
    written-out loop, recorded)."""
    if isinstance(model, GPT):
        seen = []
        hooks = [block.register_forward_hook(lambda module, args, out: seen.append(args[0].size(1)))
                 for block in model.blocks]
        with torch.no_grad():
            model(ids)
        for hook in hooks:
            hook.remove()
        return {"calls": len(seen), "positions": max(seen)}
    fast, model.rnn.fast = model.rnn.fast, False
    with torch.no_grad(), recorded_states(model.rnn) as recorded:
        model(ids)
    model.rnn.fast = fast
    first = recorded[0][0][0]  # h of the first step: (B, H), no time axis
    return {"calls": sum(len(layer) for layer in recorded), "positions": first.numel() // (ids.size(0) * first.size(1))}


# --- 2-4. timing --------------------------------------------------------------------------------
def _seconds(work, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    work()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


@torch.no_grad()
def parallel_against_serial(model, length: int, device) -> dict:
    """One sequence of `length` tokens: {"parallel_ms": one forward over all of them, "serial_ms": one
    forward per token with the cache, "max_difference": the largest |logit| difference of the two}."""
    ids = torch.randint(0, VOCAB, (1, length), device=device)
    found = {}

    def parallel():
        found["parallel"] = model(ids)[0]

    def serial():
        cache = model.new_cache(1, max_length=length) if isinstance(model, GPT) else model.new_cache(1)
        found["serial"] = torch.cat([model(ids[:, t:t + 1], cache=cache)[0] for t in range(length)], dim=1)

    parallel()  # warm-up
    best_parallel = min(_seconds(parallel, device) for _ in range(PARALLEL_REPEATS))  # short: the best of a few
    times = {"parallel_ms": best_parallel * 1e3, "serial_ms": _seconds(serial, device) * 1e3}
    return {**times, "max_difference": (found["parallel"] - found["serial"]).abs().max().item()}


@torch.no_grad()
def decoding_by_position(model, settings: ParallelSettings, device) -> list[float]:
    """Milliseconds per token, fed one at a time with the cache, averaged over `decode_buckets` equal
    ranges of positions."""
    N, buckets = settings.decode_tokens, settings.decode_buckets
    ids = torch.randint(0, VOCAB, (1, N), device=device)
    cache = model.new_cache(1, max_length=N) if isinstance(model, GPT) else model.new_cache(1)
    seconds = [_seconds(lambda t=t: model(ids[:, t:t + 1], cache=cache), device) for t in range(N)]
    edges = [round(b * N / buckets) for b in range(buckets + 1)]
    return [sum(seconds[a:b]) / (b - a) * 1e3 for a, b in zip(edges, edges[1:])]


def measure_round(settings: ParallelSettings, seed: int, device) -> dict:
    """Every measurement of one timing round (one initialisation of both models)."""
    found = {}
    for name, model in models(settings, seed).items():
        model = model.to(device)
        rows = []
        for length in _ints(settings.lengths):
            training = measure_training(model, settings.batch_size, length, settings.steps, device)
            rows.append({"length": length, "seconds_per_step": training["seconds_per_step"],
                         "peak_memory_mb": training["peak_memory_mb"],
                         "training_flops_per_token": 3 * forward_flops_per_token(model, length),
                         **parallel_against_serial(model, length, device)})
        ids = torch.randint(0, VOCAB, (1, min(_ints(settings.lengths))), device=device)
        found[name] = {"parameters": model.num_parameters(), "by_length": rows,
                       "structure": sequential_calls(model, ids),
                       "structure_long": sequential_calls(model, ids.repeat(1, 2)),
                       "decode_ms": decoding_by_position(model, settings, device),
                       "n_hidden": getattr(model.config, "n_hidden", None)}
    return found


def fastest(rounds: list[dict]) -> dict:
    """The rounds merged: every time the fastest round's (a shared machine's bursts only slow a round)."""
    best = rounds[0]
    for other in rounds[1:]:
        for name, arm in other.items():
            for mine, theirs in zip(best[name]["by_length"], arm["by_length"]):
                for key in ("seconds_per_step", "parallel_ms", "serial_ms"):
                    mine[key] = min(mine[key], theirs[key])
            best[name]["decode_ms"] = [min(a, b) for a, b in zip(best[name]["decode_ms"], arm["decode_ms"])]
    return best


def run(lab: Lab, settings: ParallelSettings) -> Report:
    rounds = [lab.part(f"round-seed{seed}", lambda folder, seed=seed: measure_round(settings, seed, lab.device))
              for seed in lab.progress(range(settings.seeds), "timing rounds")]
    arms = fastest(rounds)
    plot(arms, settings, lab.path / "parallelism.png")
    gpt, lstm = arms["GPT"], arms["LSTM"]
    setup = (f"A GPT ({settings.n_layer} layers, {settings.n_head} heads, n_embd {settings.n_embd}, RoPE, tied "
             f"embeddings: {gpt['parameters']:,} parameters) and an LSTM language model ({settings.n_layer} layers, "
             f"n_embd {settings.n_embd}, {lstm['n_hidden']} units, torch's fused kernel: {lstm['parameters']:,} "
             f"parameters, {abs(lstm['parameters'] / gpt['parameters'] - 1):.1%} apart), untrained, on random ids of "
             f"{VOCAB} types. Training: batch {settings.batch_size}, the median of {settings.steps} timed steps per "
             f"length T. Teacher forcing vs serial and decoding: batch 1, no gradients. {settings.seeds} timing "
             f"round(s), the fastest kept. Device: {lab.device}, {torch.get_num_threads()} thread(s).")
    return Report(setup, {"arms": arms}, answer(arms, settings), tables(arms, settings),
                  [("parallelism.png", "training step time against T; one forward over T tokens "
                    "against T one-token forwards; time per generated token against position")])


EXPERIMENT = Experiment("parallelism", "Why can an RNN not be trained in parallel, and where is a Transformer "
                        "parallel and where still serial?", "000, 002 Q17", PRESETS, run,
                        {"tiny": "6 s", "default": "65 s"})
