"""Plots as PNG files (matplotlib's non-interactive Agg backend: works with no screen)."""

from __future__ import annotations

from pathlib import Path


def plot_loss_curves(records: list[dict], path: Path) -> None:
    """Training and validation loss against the step, from metrics.jsonl records."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmlab.train.checkpoint import atomic_write

    train = [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    figure, axes = plt.subplots(figsize=(7, 4))
    if train:
        axes.plot(*zip(*train), label="train", linewidth=1)
    if val:
        axes.plot(*zip(*val), "o-", label="validation", linewidth=1.5)
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy loss (nats/token)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    atomic_write(Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    plt.close(figure)
