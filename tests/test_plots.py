"""What the figures show, read back from the matplotlib objects: bars, limits, labels, legends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from imbalance_lab.evaluation import leaderboard, plots

BAR_COUNT = len(plots.BAR_METRICS)


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_clipped_errors_stay_within_zero_and_one() -> None:
    err = plots.clipped_errors([0.95, 0.05, 0.0, np.nan], [0.2, 0.2, 0.3, np.nan])
    lower, upper = err
    assert upper == pytest.approx([0.05, 0.2, 0.3, 0.0])
    assert lower == pytest.approx([0.2, 0.05, 0.0, 0.0])


def test_metric_bars_clip_errors_mark_zeros_and_draw_pr_auc() -> None:
    labels = ["strategy=smote", "strategy=none", "strategy=weighted"]
    means = {
        "acc": [0.9, 0.97, 0.88],
        "precision": [0.3, 0.0, 0.2],
        "recall": [0.7, 0.0, 0.95],
        "f1": [0.4, 0.0, 0.33],
        "pr_auc": [0.45, 0.42, np.nan],  # nobody reported it for the last row
    }
    stds = {m: [0.3, 0.2, 0.1] for m in means}
    fig = plots.metric_bars_figure(labels, means, stds)
    ax = fig.axes[0]
    assert len(ax.patches) == len(labels) * BAR_COUNT  # five bars per strategy, PR-AUC too
    assert _legend(ax) == ["accuracy", "precision", "recall", "F1", "PR-AUC"]
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    assert ax.get_xlim() == pytest.approx((0, 1.1))
    # Every error bar lies within [0, 1], however large the std.
    ends = np.concatenate(
        [np.asarray(c.get_segments())[:, :, 0].ravel() for c in ax.collections
         if isinstance(c, LineCollection)]
    )  # fmt: skip
    assert len(ends) and ends.min() >= 0 and ends.max() <= 1 + 1e-9
    # The zeros of strategy=none are written and marked, not left as missing bars.
    texts = _texts(fig)
    assert texts.count("0.00") == 3 and "n/a" in texts
    zero_markers = [line for line in ax.lines if list(line.get_xdata()) == [0]]
    assert len(zero_markers) == 3
    assert "0.45" in texts and "0.97" in texts


def test_pr_curves_show_average_precision_and_prevalence() -> None:
    curve = {"precision": [0.1, 0.5, 1.0], "recall": [1.0, 0.5, 0.0]}
    fig = plots.pr_curve_figure(
        {"sampler=smote": [curve, curve], "sampler=none": [curve]},
        average_precision={"sampler=smote": 0.456, "sampler=none": 0.3},
        prevalence={"sampler=smote": 0.05, "sampler=none": 0.05},
    )
    ax = fig.axes[0]
    legend = _legend(ax)
    assert legend[0] == "sampler=smote (mean of 2), mean AP 0.456"
    assert legend[1] == "sampler=none, AP 0.300"
    assert legend[2] == "prevalence 0.050 (chance)"
    baseline = [line for line in ax.lines if list(line.get_ydata()) == [0.05, 0.05]]
    assert len(baseline) == 1
    assert ax.get_ylim() == pytest.approx((0, 1.02))
    # Prevalences far apart (several datasets): one dotted baseline per line.
    fig = plots.pr_curve_figure(
        {"data.name=a": [curve], "data.name=b": [curve]},
        prevalence={"data.name=a": 0.02, "data.name=b": 0.2},
    )
    dotted = [line for line in fig.axes[0].lines if line.get_linestyle() == ":"]
    assert sorted(line.get_ydata()[0] for line in dotted if len(line.get_ydata())) == [0.02, 0.2]


def test_many_pr_curves_stay_distinct() -> None:
    curve = {"precision": [0.1, 1.0], "recall": [1.0, 0.0]}
    fig = plots.pr_curve_figure({f"s{i}": [curve] for i in range(20)})
    styles = {(line.get_color(), line.get_linestyle()) for line in fig.axes[0].lines}
    assert len(styles) == 20


def test_confusion_grid_says_counts_are_summed() -> None:
    counts = {"tn": 90, "fp": 5, "fn": 3, "tp": 2}
    fig = plots.confusion_grid_figure([("sampler=smote", counts), ("sampler=none", counts)], [5, 1])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["sampler=smote\n(sum of 5 runs)", "sampler=none\n(1 run)"]
    assert "summed over each strategy's runs" in fig.get_suptitle()
    assert {"90\n95%", "2\n40%"} <= set(_texts(fig))


def _run(label: str, seed: int, f1: float, tp: int) -> dict:
    test = {"acc": 0.9, "precision": f1, "recall": f1, "f1": f1, "pr_auc": 0.5}
    return {
        "status": "ok",
        "dataset": "d",
        "seed": seed,
        "choices": {"sampler": label},
        "overrides": [f"sampler={label}", f"seed={seed}"],
        "test": test,
        "confusion": {"tn": 90, "fp": 0, "fn": 10 - tp, "tp": tp},
        "pr_curve": {"precision": [0.1, 1.0], "recall": [1.0, 0.0]},
    }


def test_sweep_figures_from_runs(tmp_path: Path, monkeypatch) -> None:
    figures = {}
    save = plots.save

    def keep(fig, path):
        figures[Path(path).name] = fig
        return save(fig, path)

    monkeypatch.setattr(plots, "save", keep)
    monkeypatch.setattr(plots.plt, "close", lambda fig: None)
    runs = [_run("smote", s, 0.4, 4) for s in (1, 2)] + [_run("none", s, 0.0, 0) for s in (1, 2)]
    runs.append({**_run("none", 3, 0.0, 0), "status": "failed", "error": "boom"})
    leaderboard.write_report(runs, tmp_path)
    bars = figures["metrics_bars.png"].axes[0]
    assert [t.get_text() for t in bars.get_yticklabels()] == [
        "sampler=smote",
        "sampler=none (2 of 3 runs)",  # incomplete: the figure says so too
    ]
    assert len(bars.patches) == 2 * BAR_COUNT
    pr = figures["pr_curves.png"].axes[0]
    assert "prevalence 0.100 (chance)" in _legend(pr)
    assert "sampler=smote (mean of 2), mean AP 0.500" in _legend(pr)
    grid = figures["confusion_matrices.png"]
    assert [ax.get_title() for ax in grid.axes] == [
        "sampler=smote\n(sum of 2 runs)",
        "sampler=none (2 of 3 runs)\n(sum of 2 runs)",
    ]
    assert {"8\n40%", "180\n100%"} <= set(_texts(grid))
