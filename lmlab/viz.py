"""Plots as PNG files (matplotlib's non-interactive Agg backend: works with no screen)."""

from __future__ import annotations

from pathlib import Path

from lmlab.io import atomic_write


def plot_loss_curves(records: list[dict], path: Path) -> None:
    """Training and validation loss against the step, from metrics.jsonl records."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    figure, axes = plt.subplots(figsize=(7, 4))
    if train:
        axes.plot(*zip(*train), label="train", linewidth=1)
    if val:
        axes.plot(*zip(*val), "o-", label="validation", linewidth=1.5)
    _save_loss_axes(figure, axes, "step", "cross-entropy loss (nats/token)", path)


def plot_comparison(rows: list[dict], curves: dict[str, list], path: Path) -> None:
    """`lmlab compare`: validation perplexity per family (bars) and validation loss against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (bars, lines) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = [r["name"] for r in rows]
    bars.bar(names, [r["val_perplexity"] for r in rows], color="tab:blue")
    bars.set_ylabel("validation perplexity (lower is better)")
    bars.set_yscale("log")
    bars.grid(axis="y", alpha=0.3)
    for r in rows:
        curve = curves.get(r["family"], [])
        if len(curve) == 1:  # counted, not trained: one estimate, drawn as a level
            lines.axhline(curve[0][1], linestyle="--", linewidth=1, label=r["name"], color="gray")
        elif curve:
            lines.plot(*zip(*curve), "o-", markersize=3, linewidth=1.2, label=r["name"])
    _save_loss_axes(figure, lines, "optimizer step", "validation loss (nats/token)", path)


def plot_curves(curves: list[dict], metric: str, path: Path, log_y: bool = False) -> None:
    """`lmlab plot`: one line per run of `metric` against the step; each curve is a dict with
    `label`, `steps` and `values` (as `lmlab plot` also writes them to JSON)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for curve in curves:
        axes.plot(curve["steps"], curve["values"], "o-", markersize=2.5, linewidth=1.2, label=curve["label"])
    if log_y:
        axes.set_yscale("log")
    _save_loss_axes(figure, axes, "step", metric, path)


def _save_loss_axes(figure, axes, xlabel: str, ylabel: str, path: Path) -> None:
    """Label and grid the loss axes, then write the figure as a PNG, atomically, and free it."""
    import matplotlib.pyplot as plt

    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    atomic_write(Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    plt.close(figure)


def plot_attention(weights, query_tokens: list[str], key_tokens: list[str], path: Path, title: str,
                   heads: list[int]) -> None:
    """Attention heat maps, one panel per head: weights (H, queries, keys), row i = what query i looked at."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(len(heads), 4)
    rows = -(-len(heads) // columns)
    size = max(3.0, 1.2 + 0.28 * max(len(query_tokens), len(key_tokens)))  # inches per panel: room for labels
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for panel, head in zip(axes.flat, heads):
        panel.imshow(weights[head], cmap="viridis", vmin=0.0, vmax=float(weights[heads].max()), aspect="auto")
        panel.set_title(f"head {head}", fontsize=10)
        panel.set_xticks(range(len(key_tokens)), key_tokens, rotation=90, fontsize=8)
        panel.set_yticks(range(len(query_tokens)), query_tokens, fontsize=8)
    for panel in axes.flat[len(heads):]:
        panel.axis("off")
    figure.suptitle(title)
    figure.tight_layout()
    atomic_write(Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    plt.close(figure)
