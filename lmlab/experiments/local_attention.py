"""Experiment `local-attention`: a sliding window (`attention_window=W`), what it costs the loss,
and what it saves in time and memory.

Note 001 lists local attention as attending only to "a local window" and says it "降低计算复杂度"
(lowers the computational cost). lmlab's window is a mask (`lmlab.nn.masks.sliding_window_mask`):
query i sees keys i - W < j <= i, and the KV cache keeps only the last W - 1 positions. Three
measurements:

1. **Loss vs window.** One GPT per window W (`windows`) and one with full attention, trained
   alike over seeds; their validation loss. Stacked layers see further than one window: output t
   depends on inputs back to t - n_layer (W - 1).
2. **Training time and memory vs length.** Seconds and peak memory of one training step
   (`lmlab.evaluate.profile.measure_training`) for untrained GPTs of block T = `profile_lengths`,
   full attention against W = `profile_window`. PyTorch's fused kernel, given a mask, still scores
   all T x T pairs, and the mask is itself a T x T tensor: whether that saves anything is measured,
   not assumed.
3. **Decoding memory.** The KV cache's bytes (`KVCache.nbytes`) for a generation of N tokens fed
   one at a time (`decode_lengths`), full against windowed (RoPE positions, so both run past the
   training length), and the time per token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from lmlab.evaluate.profile import measure_training
from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import clear_difference, mean_std, spread, verdict
from lmlab.models.gpt import GPT, GPTConfig

SAME = 0.1  # a window "saves" time or memory when it needs less than 1 - SAME of full attention's
VOCAB = 128  # token ids of the profiled (untrained) models: speed does not depend on the text


@dataclass
class LocalSettings(TrainingSettings):
    windows: str = "1,4,16"  # the trained windows W (full attention is always an arm)
    profile_window: int = 16  # the window profiled against full attention
    profile_lengths: str = "128,256,512,1024"  # sequence lengths T of the timed training steps
    profile_batch: int = 4  # sequences per timed training step
    profile_steps: int = 3  # timed steps per length (the median is kept)
    decode_lengths: str = "64,256,1024"  # tokens generated one by one for the KV-cache measurement


PRESETS = {
    "tiny": LocalSettings(corpus="pydoc", n_layer=1, n_head=2, n_embd=32, block_size=16, batch_size=8, steps=30,
                          eval_every=15, eval_batches=2, seeds=1, windows="4,16", profile_window=4,
                          profile_lengths="32,64", profile_batch=2, profile_steps=1, decode_lengths="16,48"),
    "default": LocalSettings(steps=250, seeds=3, profile_steps=5),
}


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _arms(settings: LocalSettings) -> dict:
    """Arm name -> attention_window: the windows, then full attention (None)."""
    return {f"W={window}": window for window in _ints(settings.windows)} | {"full": None}


def _model(settings: LocalSettings, block_size: int, window: int | None, pos: str, device) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=VOCAB, block_size=block_size, n_layer=settings.n_layer, n_head=settings.n_head,
                       n_embd=settings.n_embd, pos=pos, attention_window=window)
    return GPT(config).to(device)


def profile_training(settings: LocalSettings, device) -> dict:
    """{"full" | "window": [{"length", "seconds_per_step", "peak_memory_mb", ...}]} per length T."""
    found = {"full": [], "window": []}
    for length in _ints(settings.profile_lengths):
        for arm, window in (("full", None), ("window", settings.profile_window)):
            model = _model(settings, length, window, "learned", device)
            measured = measure_training(model, settings.profile_batch, length, settings.profile_steps, device)
            found[arm].append({"length": length, **measured})
    return found


@torch.no_grad()
def profile_decoding(settings: LocalSettings, device, repeats: int = 3) -> dict:
    """{"full" | "window": [{"tokens", "cache_bytes", "ms_per_token"}]}: N tokens fed one at a time
    into a cache with room for N (full attention) or for the window's W - 1 (windowed). The arms
    alternate and the best of `repeats` passes is kept: a shared machine's bursts only slow a pass."""
    longest = max(_ints(settings.decode_lengths))
    models = {"full": _model(settings, longest, None, "rope", device).eval(),
              "window": _model(settings, longest, settings.profile_window, "rope", device).eval()}
    found = {"full": [], "window": []}
    for tokens in _ints(settings.decode_lengths):
        ids = torch.randint(0, VOCAB, (1, tokens), device=device)
        best, size = {arm: float("inf") for arm in models}, {}
        for _ in range(repeats):
            for arm, model in models.items():
                cache = model.new_cache(1, max_length=tokens)
                started = time.perf_counter()
                for t in range(tokens):
                    model(ids[:, t:t + 1], cache=cache)
                best[arm], size[arm] = min(best[arm], time.perf_counter() - started), cache.nbytes()
        for arm in models:
            found[arm].append({"tokens": tokens, "cache_bytes": size[arm], "ms_per_token": best[arm] / tokens * 1e3})
    return found


def _plot(losses: dict, windows: dict, training: dict, decoding: dict, settings: LocalSettings, path) -> None:
    fig, axes = figure(1, 4, size=(4.2, 3.4))
    windowed = [name for name, window in windows.items() if window is not None]
    means = [mean_std(losses[name]) for name in windowed]
    axes[0, 0].errorbar([windows[name] for name in windowed], [m for m, _ in means], yerr=[s for _, s in means],
                        fmt="o-", capsize=3, label="window W")
    full = mean_std(losses["full"])[0]
    axes[0, 0].axhline(full, color="black", linestyle="--", label=f"full ({settings.block_size} positions)")
    axes[0, 0].set(xscale="log", xlabel="window W", ylabel="validation loss (nats/char)", title="loss vs window")
    labels = {"full": "full", "window": f"W={settings.profile_window}"}
    for arm, rows in training.items():
        lengths = [r["length"] for r in rows]
        axes[0, 1].plot(lengths, [r["seconds_per_step"] for r in rows], "o-", label=labels[arm])
        axes[0, 2].plot(lengths, [r["peak_memory_mb"] for r in rows], "o-", label=labels[arm])
    for arm, rows in decoding.items():
        axes[0, 3].plot([r["tokens"] for r in rows], [r["cache_bytes"] / 1024 for r in rows], "o-", label=labels[arm])
    axes[0, 1].set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="seconds per training step",
                   title="training time")
    axes[0, 2].set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="peak memory (MB)",
                   title="training memory")
    axes[0, 3].set(xscale="log", yscale="log", xlabel="tokens generated", ylabel="KV cache (KiB)",
                   title="decoding memory")
    for panel, ticks in zip(axes.flat, ([windows[name] for name in windowed], lengths, lengths,
                                        [r["tokens"] for r in decoding["full"]])):
        panel.set_xticks(ticks, labels=[str(tick) for tick in ticks])
        panel.tick_params(which="minor", labelbottom=False, labelleft=False)  # log axes: no crowded minor labels
    save_figure(fig, axes, path)


def _judge(ratio: float) -> str:
    """How a window's cost compares with full attention's, by the SAME rule."""
    if ratio < 1 - SAME:
        return "the window saves"
    return "the window costs more" if ratio > 1 + SAME else "about the same"


def _loss_answer(losses: dict, windows: dict, settings: LocalSettings) -> list[str]:
    """Each window against full attention by the seed-noise rule (`verdict`); a window of block_size
    or more hides nothing in training, so it is the full model, and the answer says whether it is."""
    answer, close = [], []
    for name, window in windows.items():
        if window is None:
            continue
        if window >= settings.block_size:
            same = losses[name] == losses["full"]
            answer.append(f"W={window} >= block_size {settings.block_size} hides nothing: its losses "
                          f"{'equal' if same else 'DIFFER from'} full attention's ({spread(losses[name])} vs "
                          f"{spread(losses['full'])}){', bit for bit' if same else ''}.")
            continue
        answer.append(verdict(name, losses[name], "full", losses["full"], f"Validation loss, W={window} (reach "
                              f"{settings.n_layer * (window - 1) + 1} positions over {settings.n_layer} layer(s)) "
                              f"against full attention"))
        if not clear_difference(losses[name], losses["full"]) or mean_std(losses[name])[0] <= mean_std(losses["full"])[0]:
            close.append(window)
    answer.append(f"The smallest window as good as full attention here (no clear difference, or lower): W={min(close)}."
                  if close else "No window shorter than the block matched full attention: each has a clearly higher loss.")
    return answer


def _cost_answer(training: dict, decoding: dict, settings: LocalSettings) -> list[str]:
    full, window = training["full"][-1], training["window"][-1]
    time_ratio = window["seconds_per_step"] / full["seconds_per_step"]
    memory_ratio = window["peak_memory_mb"] / full["peak_memory_mb"]
    W, T = settings.profile_window, full["length"]
    answer = [f"Training step at T={T}: W={W} takes {window['seconds_per_step']:.3f} s vs {full['seconds_per_step']:.3f} s "
              f"for full attention ({time_ratio:.2f}x: {_judge(time_ratio)}), peak memory {window['peak_memory_mb']:.0f} "
              f"vs {full['peak_memory_mb']:.0f} MB ({memory_ratio:.2f}x: {_judge(memory_ratio)})."]
    if time_ratio >= 1 - SAME and memory_ratio >= 1 - SAME:
        answer.append("So this implementation's window saves no training compute or memory: the mask is applied to "
                      "a full T x T score matrix, which a banded kernel would not compute.")
    cache_full, cache_window = decoding["full"], decoding["window"]
    grows = cache_full[-1]["cache_bytes"] / cache_full[0]["cache_bytes"]
    flat = max(r["cache_bytes"] for r in cache_window) == min(r["cache_bytes"] for r in cache_window)
    answer.append(f"Decoding: after {cache_full[-1]['tokens']} tokens the KV cache holds "
                  f"{cache_full[-1]['cache_bytes'] / 1024:.0f} KiB with full attention ({grows:.0f}x its size at "
                  f"{cache_full[0]['tokens']} tokens) and {cache_window[-1]['cache_bytes'] / 1024:.0f} KiB with W={W}"
                  + (f", the same at every length: it stops at W - 1 = {W - 1} positions." if flat
                     else ", and it still grew: the rolling cache is NOT bounded."))
    answer.append(f"Time per generated token at {cache_full[-1]['tokens']} tokens: "
                  f"{cache_window[-1]['ms_per_token']:.2f} ms with W={W} vs {cache_full[-1]['ms_per_token']:.2f} ms full "
                  f"({_judge(cache_window[-1]['ms_per_token'] / cache_full[-1]['ms_per_token'])}).")
    return answer


def _tables(losses: dict, windows: dict, training: dict, decoding: dict, settings: LocalSettings) -> list:
    loss_rows = [[name, "all" if window is None else str(settings.n_layer * (window - 1) + 1), spread(losses[name])]
                 for name, window in windows.items()]
    W = settings.profile_window
    cost_rows = [[str(f["length"]), f"{f['seconds_per_step']:.3f}", f"{w['seconds_per_step']:.3f}",
                  f"{f['peak_memory_mb']:.0f}", f"{w['peak_memory_mb']:.0f}"]
                 for f, w in zip(training["full"], training["window"])]
    cache_rows = [[str(f["tokens"]), f"{f['cache_bytes'] / 1024:.0f}", f"{w['cache_bytes'] / 1024:.0f}",
                   f"{f['ms_per_token']:.2f}", f"{w['ms_per_token']:.2f}"]
                  for f, w in zip(decoding["full"], decoding["window"])]
    return [("Validation loss per window (mean ± std over seeds)",
             markdown_table(["arm", "reach (positions)", "validation loss"], loss_rows)),
            (f"One training step, batch {settings.profile_batch}: full attention vs W={W}",
             markdown_table(["T", "s/step full", f"s/step W={W}", "peak MB full", f"peak MB W={W}"], cost_rows)),
            (f"Decoding one token at a time: KV cache and time per token, full vs W={W}",
             markdown_table(["tokens", "cache KiB full", f"cache KiB W={W}", "ms/token full", f"ms/token W={W}"],
                            cache_rows))]


def run(lab: Lab, settings: LocalSettings) -> Report:
    windows = _arms(settings)
    arms = {name: [train_arm(lab, f"{name.replace('=', '')}-seed{seed}",
                             arm_config(settings, seed, attention_window=window))
                   for seed in lab.progress(range(settings.seeds), f"{name} seeds")]
            for name, window in windows.items()}
    losses = {name: [r["val_loss"] for r in runs] for name, runs in arms.items()}
    training = lab.part("profile-training", lambda folder: profile_training(settings, lab.device))
    decoding = lab.part("profile-decoding", lambda folder: profile_decoding(settings, lab.device))
    _plot(losses, windows, training, decoding, settings, lab.path / "local-attention.png")
    setup = (f"{settings.describe()} The arms differ only in `attention_window`. Profiling: untrained GPTs of the "
             f"same shape, block T, {settings.profile_steps} timed training steps per length (median), peak memory "
             f"from one more step; decoding: RoPE positions, tokens fed one by one into a cache with room for them "
             f"(full) or for the window. Device: {lab.device}.")
    return Report(setup, {"arms": arms, "windows": windows, "training_profile": training, "decoding_profile": decoding},
                  _loss_answer(losses, windows, settings) + _cost_answer(training, decoding, settings),
                  _tables(losses, windows, training, decoding, settings),
                  [("local-attention.png", "validation loss vs window; time and peak memory of a training step vs "
                                           "length; KV-cache size vs tokens generated")])


EXPERIMENT = Experiment("local-attention", "What does a sliding attention window cost in loss, and does it save "
                        "time and memory?", "001", PRESETS, run, {"tiny": "10 s", "default": "6.5 min"})
