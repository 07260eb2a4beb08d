"""Matplotlib figures of runs and sweeps. Uses the Agg backend: no display is needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from imbalance_lab.evaluation.metrics import THRESHOLD_METRICS


def confusion_figure(
    counts: Mapping[str, int], title: str = "", ax: plt.Axes | None = None
) -> Figure | None:
    """A 2x2 confusion matrix (rows: true class, columns: predicted class) with counts; a new
    figure, or None when drawn into the given ``ax``."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.4, 3.0), layout="constrained")
    cm = np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]], dtype=float)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(
            j,
            i,
            f"{v:g}",
            ha="center",
            va="center",
            color="white" if share[i, j] > 0.5 else "black",
        )
    ax.set_xticks([0, 1], ["0", "1 (minority)"])
    ax.set_yticks([0, 1], ["0", "1 (minority)"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return fig


def _interpolated_precision(curve: Mapping, grid: np.ndarray) -> np.ndarray:
    """Precision at each recall of ``grid``: the best precision at that recall or higher."""
    recall = np.asarray(curve["recall"], dtype=float)
    precision = np.asarray(curve["precision"], dtype=float)
    order = np.argsort(recall)
    recall, precision = recall[order], precision[order]
    best_from_here = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, grid, side="left")
    return np.where(idx < len(recall), best_from_here[np.minimum(idx, len(recall) - 1)], 0.0)


def pr_curve_figure(curves: Mapping[str, Sequence[Mapping]]) -> Figure:
    """Precision-recall curves on one axis; ``curves`` maps a label to one curve per run.

    Several runs of a label (seeds, folds) are drawn as their mean interpolated precision, so
    each strategy is one line."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    colors = plt.cm.tab20.colors if len(curves) > 10 else plt.cm.tab10.colors
    grid = np.linspace(0, 1, 101)
    for i, (label, runs) in enumerate(curves.items()):
        color = colors[i % len(colors)]
        if len(runs) == 1:
            ax.step(runs[0]["recall"], runs[0]["precision"], where="post", color=color, label=label)
        else:
            mean = np.mean([_interpolated_precision(c, grid) for c in runs], axis=0)
            ax.plot(grid, mean, color=color, label=f"{label} (mean of {len(runs)})")
    ax.set_xlabel("recall (minority)")
    ax.set_ylabel("precision (minority)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("precision-recall on test")
    return fig


def metric_bars_figure(
    labels: Sequence[str], means: Mapping[str, Sequence[float]], stds: Mapping[str, Sequence[float]]
) -> Figure:
    """Grouped horizontal bars: one group per strategy (in the leaderboard's order, best on top),
    one bar per metric, error bars = std over runs. Horizontal, so long labels and many
    strategies stay readable."""
    metrics = [m for m in THRESHOLD_METRICS if m in means]
    n = len(labels)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.22 * n * len(metrics)), layout="constrained")
    y = np.arange(n)[::-1]
    height = 0.8 / max(len(metrics), 1)
    for k, m in enumerate(metrics):
        ax.barh(
            y + ((len(metrics) - 1) / 2 - k) * height,
            means[m],
            height,
            xerr=stds[m],
            capsize=2,
            label=m,
        )
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("test score (minority = positive)")
    ax.legend(ncols=len(metrics), fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return fig


def confusion_grid_figure(items: Sequence[tuple[str, Mapping[str, int]]]) -> Figure:
    """One confusion matrix per strategy (counts summed over its runs)."""
    n = max(len(items), 1)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.3 * cols, 3.0 * rows), layout="constrained", squeeze=False
    )
    for ax, (label, counts) in zip(axes.flat, items, strict=False):
        confusion_figure(counts, title=label, ax=ax)
    for ax in list(axes.flat)[len(items) :]:
        ax.axis("off")
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps labels drawn outside the axes
    plt.close(fig)
    return path
