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


def confusion_figure(counts: Mapping[str, int], title: str = "", ax: plt.Axes | None = None):
    """A 2x2 confusion matrix (rows: true class, columns: predicted class) with counts."""
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


def pr_curve_figure(curves: Mapping[str, Sequence[Mapping]]) -> Figure:
    """Precision-recall curves on one axis; ``curves`` maps a label to one curve per run."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
    colors = plt.cm.tab10.colors
    for i, (label, runs) in enumerate(curves.items()):
        for j, curve in enumerate(runs):
            ax.step(
                curve["recall"],
                curve["precision"],
                where="post",
                color=colors[i % len(colors)],
                alpha=0.9 if j == 0 else 0.35,
                label=label if j == 0 else None,
            )
    ax.set_xlabel("recall (minority)")
    ax.set_ylabel("precision (minority)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("precision-recall on test")
    return fig


def metric_bars_figure(
    labels: Sequence[str], means: Mapping[str, Sequence[float]], stds: Mapping[str, Sequence[float]]
) -> Figure:
    """Grouped bars: one group per strategy, one bar per metric, error bars = std over runs."""
    metrics = [m for m in THRESHOLD_METRICS if m in means]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(labels) + 2), 4.2), layout="constrained")
    x = np.arange(len(labels))
    width = 0.8 / max(len(metrics), 1)
    for k, m in enumerate(metrics):
        ax.bar(
            x + (k - (len(metrics) - 1) / 2) * width,
            means[m],
            width,
            yerr=stds[m],
            capsize=2,
            label=m,
        )
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test score (minority = positive)")
    ax.legend(ncols=len(metrics), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.12))
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
