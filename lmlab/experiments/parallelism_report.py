"""The tables, the figure and the answer of `parallelism`, from its numbers.

Each arm ("GPT", "LSTM") holds its parameter count, its sequential calls per forward at the
shortest length T and at 2T ("structure", "structure_long"), a row per length (seconds per
training step, training FLOPs per token, one forward over T tokens against T one-token forwards)
and the milliseconds per decoded token in equal ranges of positions ("decode_ms").
"""

from __future__ import annotations

from lmlab.experiments.lab import markdown_table
from lmlab.experiments.plots import figure, save_figure

ARMS = ("GPT", "LSTM")
SAME = 0.2  # ratios within 1 ± SAME are called the same (timings on a shared CPU are noisy at ~10-20%)


def tokens_per_s(row: dict, settings) -> float:
    return settings.batch_size * row["length"] / row["seconds_per_step"]


def flops_per_s(row: dict, settings) -> float:
    """Achieved FLOP/s of a training step: 3x the forward FLOPs per token, times tokens/s."""
    return row["training_flops_per_token"] * tokens_per_s(row, settings)


def _ranges(settings) -> list[str]:
    N, buckets = settings.decode_tokens, settings.decode_buckets
    edges = [round(b * N / buckets) for b in range(buckets + 1)]
    return [f"{a}-{b - 1}" for a, b in zip(edges, edges[1:])]


def _structure_answer(arms: dict) -> str:
    gpt, lstm = arms["GPT"], arms["LSTM"]
    short = gpt["by_length"][0]["length"]
    return (f"One forward over T tokens: the GPT makes {gpt['structure']['calls']} sequential block calls at T={short} "
            f"and {gpt['structure_long']['calls']} at T={2 * short}, each on all {gpt['structure']['positions']} (then "
            f"{gpt['structure_long']['positions']}) positions at once; the LSTM makes "
            f"{lstm['structure']['calls']} cell "
            f"calls at T={short} and {lstm['structure_long']['calls']} at T={2 * short}, each on "
            f"{lstm['structure']['positions']} position: its chain of steps grows with T, the GPT's does not.")


def _training_answer(arms: dict, settings) -> list[str]:
    rows = {name: arms[name]["by_length"] for name in ARMS}
    a, b = rows["GPT"][0]["length"], rows["GPT"][-1]["length"]
    growth = {name: rows[name][-1]["seconds_per_step"] / rows[name][0]["seconds_per_step"] for name in ARMS}
    at_b = {name: rows[name][-1]["seconds_per_step"] for name in ARMS}
    quicker, slower = sorted(ARMS, key=at_b.get)
    rate = flops_per_s(rows["GPT"][-1], settings) / flops_per_s(rows["LSTM"][-1], settings)
    work = rows["GPT"][-1]["training_flops_per_token"] / rows["LSTM"][-1]["training_flops_per_token"]
    answer = [f"Training step from T={a} to T={b} ({b // a}x the tokens): the GPT's time grows {growth['GPT']:.1f}x, "
              f"the LSTM's {growth['LSTM']:.1f}x. At T={b} a step takes {at_b['GPT']:.3f} s (GPT) vs "
              f"{at_b['LSTM']:.3f} s (LSTM): the {quicker} is {at_b[slower] / at_b[quicker]:.1f}x faster at equal "
              f"parameters."]
    if rate > 1 + SAME:
        answer.append(f"At T={b} the GPT runs {rate:.2f}x the LSTM's FLOP/s: its work is a few large matrix products "
                      f"over all B·T positions, the LSTM's a chain of T small ones.")
    else:
        answer.append(f"At T={b} the GPT runs {rate:.2f}x the LSTM's FLOP/s: on this device its parallel positions "
                      f"buy no higher rate, so the step time follows the work, and a GPT token costs {work:.1f}x the "
                      f"FLOPs of an LSTM token here (attention grows with T; torch's fused LSTM also reads all inputs "
                      f"at once, x W_ih for every position in one product, and only W_hh h_(t-1) is serial).")
    return answer


def _serial_answer(arms: dict) -> list[str]:
    last = {name: arms[name]["by_length"][-1] for name in ARMS}
    T = last["GPT"]["length"]
    ratio = {name: last[name]["serial_ms"] / last[name]["parallel_ms"] for name in ARMS}
    differ = max(last[name]["max_difference"] for name in ARMS)
    return [f"Teacher forcing vs serial, T={T}, batch 1: the GPT computes all {T} positions in one forward in "
            f"{last['GPT']['parallel_ms']:.1f} ms, and fed one token at a time with its KV cache in "
            f"{last['GPT']['serial_ms']:.1f} ms ({ratio['GPT']:.1f}x slower); the LSTM takes "
            f"{last['LSTM']['parallel_ms']:.1f} ms vs {last['LSTM']['serial_ms']:.1f} ms ({ratio['LSTM']:.1f}x). The "
            f"logits agree to {differ:.1e}. So the GPT's training is parallel because the targets are known (teacher "
            f"forcing) and the mask hides the future; the LSTM's sequence forward is itself a loop over time "
            + ("and gains less from seeing the whole sequence." if ratio["LSTM"] < ratio["GPT"]
               else "yet gains as much here: per-call overhead, not the recurrence, dominates at this size.")]


def _decoding_answer(arms: dict, settings) -> str:
    ranges = _ranges(settings)
    ms = {name: arms[name]["decode_ms"] for name in ARMS}
    growth = {name: ms[name][-1] / ms[name][0] for name in ARMS}
    why = ("attention reads a KV cache as long as the prefix" if growth["GPT"] > 1 + SAME else
           f"about flat: the fixed cost of a forward call outweighs attention over at most {settings.decode_tokens} "
           f"cached positions")
    return (f"Decoding is serial for both: one forward per new token. Per token, positions {ranges[0]} -> "
            f"{ranges[-1]}: GPT {ms['GPT'][0]:.2f} -> {ms['GPT'][-1]:.2f} ms ({growth['GPT']:.2f}x: {why}), "
            f"LSTM {ms['LSTM'][0]:.2f} -> {ms['LSTM'][-1]:.2f} ms ({growth['LSTM']:.2f}x: its state has a fixed "
            f"size); over all positions the GPT needs {sum(ms['GPT']) / sum(ms['LSTM']):.1f}x the LSTM's time per "
            f"token.")


def answer(arms: dict, settings) -> list[str]:
    return ([_structure_answer(arms)] + _training_answer(arms, settings) + _serial_answer(arms)
            + [_decoding_answer(arms, settings)])


def tables(arms: dict, settings) -> list[tuple[str, str]]:
    gpt, lstm = arms["GPT"]["by_length"], arms["LSTM"]["by_length"]
    training = [[str(g["length"]), f"{g['seconds_per_step']:.3f}", f"{l['seconds_per_step']:.3f}",
                 f"{tokens_per_s(g, settings):,.0f}", f"{tokens_per_s(l, settings):,.0f}",
                 f"{flops_per_s(g, settings) / 1e9:.2f}", f"{flops_per_s(l, settings) / 1e9:.2f}",
                 f"{g['peak_memory_mb']:.0f}", f"{l['peak_memory_mb']:.0f}"] for g, l in zip(gpt, lstm)]
    serial = [[str(g["length"]), f"{g['parallel_ms']:.1f}", f"{g['serial_ms']:.1f}",
               f"{g['serial_ms'] / g['parallel_ms']:.1f}x", f"{l['parallel_ms']:.1f}", f"{l['serial_ms']:.1f}",
               f"{l['serial_ms'] / l['parallel_ms']:.1f}x"] for g, l in zip(gpt, lstm)]
    decoding = [[span, f"{g:.2f}", f"{l:.2f}"]
                for span, g, l in zip(_ranges(settings), arms["GPT"]["decode_ms"], arms["LSTM"]["decode_ms"])]
    short = gpt[0]["length"]
    structure = [[name, f"{arms[name]['parameters']:,}", str(arms[name]["structure"]["calls"]),
                  str(arms[name]["structure_long"]["calls"]), str(arms[name]["structure"]["positions"])]
                 for name in ARMS]
    return [("Sequential calls in one forward (GPT: blocks; LSTM: cell steps of the written-out loop)",
             markdown_table(["model", "parameters", f"calls at T={short}", f"calls at T={2 * short}",
                             "positions per call"], structure)),
            (f"One training step, batch {settings.batch_size} (median of {settings.steps})",
             markdown_table(["T", "s/step GPT", "s/step LSTM", "tokens/s GPT", "tokens/s LSTM", "GFLOP/s GPT",
                             "GFLOP/s LSTM", "peak MB GPT", "peak MB LSTM"], training)),
            ("T tokens in one forward (teacher forcing) vs one at a time with the cache (batch 1, ms)",
             markdown_table(["T", "GPT, one forward", "GPT, T forwards", "ratio", "LSTM, one forward",
                             "LSTM, T forwards", "ratio"], serial)),
            ("Decoding: ms per generated token by position (batch 1)",
             markdown_table(["positions", "GPT (KV cache)", "LSTM (state)"], decoding))]


def plot(arms: dict, settings, path) -> None:
    fig, axes = figure(1, 3, size=(4.4, 3.6))
    for name in ARMS:
        rows = arms[name]["by_length"]
        lengths = [r["length"] for r in rows]
        axes[0, 0].plot(lengths, [r["seconds_per_step"] for r in rows], "o-", label=name)
        line, = axes[0, 1].plot(lengths, [r["parallel_ms"] for r in rows], "o-", label=f"{name}, one forward")
        axes[0, 1].plot(lengths, [r["serial_ms"] for r in rows], "s--", color=line.get_color(),
                        label=f"{name}, T one-token forwards")
        N, buckets = settings.decode_tokens, settings.decode_buckets
        middles = [(b + 0.5) * N / buckets for b in range(buckets)]
        axes[0, 2].plot(middles, arms[name]["decode_ms"], "o-", label=name)
    axes[0, 0].set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="seconds per training step",
                   title=f"training, batch {settings.batch_size}")
    axes[0, 1].set(xscale="log", yscale="log", xlabel="T", ylabel="ms (batch 1, no gradients)",
                   title="teacher forcing vs serial")
    axes[0, 2].set(xlabel="position of the generated token", ylabel="ms per token", title="decoding", ylim=(0, None))
    for panel in axes[0, :2]:
        panel.set_xticks(lengths, labels=[str(t) for t in lengths])
        panel.tick_params(which="minor", labelbottom=False)
    save_figure(fig, axes, path)
