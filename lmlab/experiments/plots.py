"""The lab's figures: a grid of panels, saved as one small PNG (matplotlib's Agg backend, no screen).

Experiments draw on the panels themselves; this module only makes the grid and writes it, with
the same look everywhere: a light grid, a legend where lines are labelled, 80 dpi so that a
committed figure stays well under 200 KB.
"""

from __future__ import annotations

from pathlib import Path

from lmlab.io import atomic_write


def figure(rows: int, columns: int, size: tuple[float, float] = (5.0, 3.6)):
    """(figure, axes as a (rows, columns) array), each panel `size` inches."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, columns, figsize=(size[0] * columns, size[1] * rows), squeeze=False)


def save_figure(fig, axes, path: Path, title: str | None = None) -> None:
    """Grid and legend on every used panel, then the PNG, written atomically; the figure is freed."""
    import matplotlib.pyplot as plt

    for panel in axes.flat:
        panel.grid(alpha=0.3)
        if panel.get_legend_handles_labels()[1]:
            panel.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=80))
    plt.close(fig)
