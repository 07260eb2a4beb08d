"""Matplotlib figures of runs and sweeps. Uses the Agg backend: no display is needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from imbalance_lab.evaluation.names import THRESHOLD_METRICS

# The bars of the leaderboard figure: the lab's four metrics at the run's threshold, and PR-AUC,
# which needs no threshold (what validation selection ranks by).
BAR_METRICS = (*THRESHOLD_METRICS, "pr_auc")
METRIC_NAMES = {"acc": "accuracy", "f1": "F1", "pr_auc": "PR-AUC"}
# Past 10 lines, tab10's colours repeat with another line style: tab20's pairs of light and dark
# shades of one hue are too close to tell apart in a legend.
LINE_STYLES = ("-", "--", ":", "-.")


def prevalence(counts: Mapping[str, int]) -> float:
    """Share of positive rows among the rows a confusion matrix (``tn fp fn tp``) counts: the
    precision, and the average precision, of a ranking no better than chance."""
    return (counts["tp"] + counts["fn"]) / max(sum(counts.values()), 1)


def confusion_figure(
    counts: Mapping[str, int], title: str = "", ax: plt.Axes | None = None
) -> Figure | None:
    """A 2x2 confusion matrix (rows: true class, columns: predicted class) with counts and the
    share of each true class (colour); a new figure, or None when drawn into the given ``ax``."""
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
            f"{v:g}\n{share[i, j]:.0%}",
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


def _line_style(i: int) -> dict[str, Any]:
    colors = plt.cm.tab10.colors
    return {"color": colors[i % len(colors)], "ls": LINE_STYLES[(i // len(colors)) % 4]}


def pr_curve_figure(
    curves: Mapping[str, Sequence[Mapping]],
    average_precision: Mapping[str, float] | None = None,
    prevalence: Mapping[str, float] | None = None,
    title: str = "precision-recall on test",
) -> Figure:
    """Precision-recall curves on one axis; ``curves`` maps a label to one curve per run.

    Several runs of a label (seeds, folds) are drawn as their mean interpolated precision, so
    each strategy is one line. ``average_precision`` (label -> mean AP = PR-AUC of its runs)
    goes into the legend; ``prevalence`` (label -> share of positives in its test rows) is
    drawn as the baseline a ranking no better than chance reaches (its AP is the prevalence):
    one grey line when every label has the same, else a dotted line per label.
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    grid = np.linspace(0, 1, 101)
    average_precision = average_precision or {}
    for i, (label, runs) in enumerate(curves.items()):
        style = _line_style(i)
        name = label if len(runs) == 1 else f"{label} (mean of {len(runs)})"
        if label in average_precision and np.isfinite(average_precision[label]):
            ap = average_precision[label]
            name += f", AP {ap:.3f}" if len(runs) == 1 else f", mean AP {ap:.3f}"
        if len(runs) == 1:
            # In the curve's own order (recall falling, as scikit-learn's PR display draws it):
            # sorted by recall, steps at equal recalls would double back.
            ax.plot(
                runs[0]["recall"], runs[0]["precision"], drawstyle="steps-post", label=name, **style
            )
        else:
            mean = np.mean([_interpolated_precision(c, grid) for c in runs], axis=0)
            ax.plot(grid, mean, label=name, **style)
    rates = {k: v for k, v in (prevalence or {}).items() if k in curves and np.isfinite(v)}
    low, high = (min(rates.values()), max(rates.values())) if rates else (0.0, 0.0)
    if rates and high - low <= 0.25 * high:  # one dataset: the same test rows, or near
        text = f"{high:.3f}" if high - low < 5e-4 else f"{low:.3f}-{high:.3f}"
        ax.axhspan(low, high, color="grey", alpha=0.4, lw=0)
        ax.axhline(high, color="grey", ls="--", lw=1, label=f"prevalence {text} (chance)")
    elif rates:  # datasets apart: each line's own baseline
        for i, label in enumerate(curves):
            if label in rates:
                ax.axhline(rates[label], color=_line_style(i)["color"], ls=":", lw=0.8)
        ax.plot([], [], color="grey", ls=":", lw=0.8, label="dotted: prevalence (chance)")
    ax.set_xlabel("recall (minority)")
    ax.set_ylabel("precision (minority)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title)
    return fig


def clipped_errors(means: Sequence[float], stds: Sequence[float]) -> np.ndarray:
    """Error bars of +- ``stds`` around ``means`` cut at 0 and 1, where every metric drawn
    lives; shape (2, n): lengths below and above, as matplotlib's ``xerr`` takes them."""
    mean = np.nan_to_num(np.asarray(means, dtype=float), nan=0.0)
    std = np.nan_to_num(np.asarray(stds, dtype=float), nan=0.0)
    return np.stack([np.minimum(std, mean), np.minimum(std, 1 - mean)]).clip(min=0)


def metric_bars_figure(
    labels: Sequence[str], means: Mapping[str, Sequence[float]], stds: Mapping[str, Sequence[float]]
) -> Figure:
    """Grouped horizontal bars: one group per strategy (in the leaderboard's order, best on top),
    one bar per metric of ``BAR_METRICS`` (PR-AUC included), error bars = std over runs clipped
    to [0, 1], each bar's mean written at its end. A mean of 0 (F1 of a model that never predicts
    the minority) gets a marker and its "0", so it does not look missing; a metric no run
    reported (NaN) is written "n/a". Horizontal, so long labels and many strategies stay
    readable."""
    metrics = [m for m in BAR_METRICS if m in means]
    n = len(labels)
    fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.2 * n * len(metrics)), layout="constrained")
    y = np.arange(n)[::-1]
    height = 0.8 / max(len(metrics), 1)
    for k, m in enumerate(metrics):
        mean = np.asarray(means[m], dtype=float)
        err = clipped_errors(mean, stds[m])
        pos = y + ((len(metrics) - 1) / 2 - k) * height
        bars = ax.barh(
            pos, np.nan_to_num(mean), height, xerr=err, capsize=2, label=METRIC_NAMES.get(m, m)
        )
        color = bars.patches[0].get_facecolor() if bars.patches else None
        for yi, v, up in zip(pos, mean, err[1], strict=True):
            if not np.isfinite(v):
                ax.text(0.005, yi, "n/a", va="center", fontsize=6.5, color="grey")
                continue
            if v < 0.005:  # a bar of width 0 draws nothing: mark the 0
                ax.plot(0, yi, marker="D", ms=3.5, color=color, clip_on=False, zorder=3)
            ax.text(v + up + 0.01, yi, f"{v:.2f}", va="center", fontsize=6.5)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(0, 1.1)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.axvline(1, color="grey", lw=0.5)
    ax.set_xlabel(
        "test score (minority = positive); mean, error bar = std over runs, cut at 0 and 1"
    )
    ax.legend(ncols=len(metrics), fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return fig


def confusion_grid_figure(
    items: Sequence[tuple[str, Mapping[str, int]]], runs: Sequence[int] | None = None
) -> Figure:
    """One test confusion matrix per strategy, its counts summed over the strategy's ``runs``
    (seeds, folds; one number per item), as the titles say."""
    import textwrap

    n = max(len(items), 1)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.3 * cols, 0.5 + 3.2 * rows), layout="constrained", squeeze=False
    )
    runs = list(runs) if runs is not None else [1] * len(items)
    for ax, (label, counts), k in zip(axes.flat, items, runs, strict=False):
        what = "1 run" if k == 1 else f"sum of {k} runs"
        confusion_figure(counts, title=f"{textwrap.fill(label, 34)}\n({what})", ax=ax)
    for ax in list(axes.flat)[len(items) :]:
        ax.axis("off")
    if any(k > 1 for k in runs):
        text = (
            "test confusion matrices: counts summed over each strategy's runs (seeds, folds); "
            "% and colour = share of the true class"
        )
        fig.suptitle(textwrap.fill(text, 45 * cols), fontsize=9)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps labels drawn outside the axes
    plt.close(fig)
    return path
