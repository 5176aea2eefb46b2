"""One plot theme for the whole book (seaborn), and small helpers for consistent figures."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

PALETTE = "colorblind"


def set_theme() -> None:
    """The book's look: white grid, colour-blind-safe palette, readable font sizes."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.dpi": 110, "savefig.dpi": 110, "axes.titleweight": "bold",
                      "figure.autolayout": False})
    matplotlib.rcParams["figure.constrained_layout.use"] = True
    pd.set_option("display.max_colwidth", None)  # claims tables show whole sentences


def colors_for(names: list[str]) -> dict[str, tuple]:
    """A stable colour per name (same method, same colour in every figure of a chapter)."""
    return dict(zip(names, sns.color_palette(PALETTE, len(names))))


def subplots(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.6, **kw):
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)


def not_drawn(reason: str, width: float = 6.0, height: float = 1.2):
    """A small figure saying why a section's figure is not drawn in this run (a preset or a knob
    that skips that experiment), so the notebook still runs top to bottom."""
    fig, axes = subplots(1, width=width, height=height)
    axes[0][0].axis("off")
    axes[0][0].text(0.5, 0.5, f"Not drawn in this run: {reason}", ha="center", va="center", wrap=True)
    return fig
