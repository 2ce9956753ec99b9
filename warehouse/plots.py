"""Small plots as inline SVG text (matplotlib, Agg): pure functions from values to markup.

Glyphs are drawn as paths and no metadata or DTD is written, so the SVG needs no font and
no network to display, and the same values give the same text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D")
_HEAD = re.compile(r"^.*?(?=<svg)", re.S)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "envmine", "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False,
                         "axes.grid": True, "grid.alpha": 0.3})
    return plt


def _svg(fig, title: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight",
                metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    _pyplot().close(fig)
    text = _HEAD.sub("", buf.getvalue(), count=1)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    label = title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return text.replace("<svg ", f'<svg class="plot" role="img" aria-label="{label}" ', 1)


def bars(categories: Sequence[str], series: Mapping[str, Sequence[float]], title: str,
         ylabel: str = "", horizontal: bool = False) -> str:
    """Grouped bars: one group per category, one bar per series."""
    plt = _pyplot()
    n = max(len(series), 1)
    height = 0.3 * len(categories) + 1.2 if horizontal else 3.0
    fig, ax = plt.subplots(figsize=(6.4, max(height, 2.4)))
    width = 0.8 / n
    for i, (name, values) in enumerate(series.items()):
        offsets = [c + (i - (n - 1) / 2) * width for c in range(len(categories))]
        draw = ax.barh if horizontal else ax.bar
        draw(offsets, list(values), width, label=name, color=PALETTE[i % len(PALETTE)])
    ticks = list(range(len(categories)))
    if horizontal:
        ax.set_yticks(ticks, list(categories))
        ax.invert_yaxis()
        ax.set_xlabel(ylabel)
    else:
        ax.set_xticks(ticks, list(categories), rotation=30 if len(categories) > 4 else 0, ha="right" if len(categories) > 4 else "center")
        ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(fontsize=8, framealpha=0.9, edgecolor="#d0d7de")
    ax.set_title(title)
    return _svg(fig, title)


def histogram(groups: Mapping[str, Sequence[float]], title: str, xlabel: str,
              bins: int = 20) -> str:
    """Overlaid histograms, one per group, over shared bins."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    values = [v for vs in groups.values() for v in vs]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    edges = [low + (high - low) * i / bins for i in range(bins + 1)] if high > low else bins
    for i, (name, vs) in enumerate(groups.items()):
        ax.hist(list(vs), bins=edges, alpha=0.75, label=f"{name} (n={len(vs)})",
                color=PALETTE[i % len(PALETTE)])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.legend(fontsize=8, framealpha=0.9, edgecolor="#d0d7de")
    ax.set_title(title)
    return _svg(fig, title)
