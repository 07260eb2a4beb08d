"""Honest comparison across datasets: validation-based selection, average ranks, Friedman and
post-hoc tests (autorank), Wilcoxon signed-rank against a baseline (scipy).

Only complete results take part: a strategy with a failed (or killed) run on a dataset is
incomplete there, since its mean covers only the folds or seeds that happened to succeed. It is
listed as such and left out of the choice on that dataset; the ranks and Friedman/Nemenyi then
use the datasets on which every strategy is complete (the tests need complete blocks), and
Wilcoxon each pair's datasets on which both are complete.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from rich.console import Console

from imbalance_lab.errors import ConfigError

# The choice on validation lives in selection.py; its names stay importable from here.
from imbalance_lab.evaluation.selection import (  # noqa: F401
    CHOSEN_ON,
    READABLE,
    SELECT_ON,
    ValidationChoice,
    against_fixed_choices,
    choose_on_validation,
    completeness,
    dataset_table,
    incomplete_lines,
    select_by_validation,
    selection_markdown,
)


def rank_strategies(table: pd.DataFrame, alpha: float = 0.05) -> tuple[dict[str, Any], Any]:
    """Average ranks, Friedman test and Nemenyi post-hoc over datasets (autorank).

    Needs at least 2 strategies and 5 datasets (autorank's minimum for a paired test).
    Returns a JSON-friendly summary and autorank's result (for :func:`cd_diagram`).
    """
    from autorank import autorank

    table = table.dropna(axis=0, how="any")
    if table.shape[1] < 2 or table.shape[0] < 5:
        raise ConfigError(
            f"ranking needs >= 2 strategies and >= 5 datasets with results for all; got "
            f"{table.shape[1]} strategies on {table.shape[0]} datasets."
        )
    with contextlib.redirect_stdout(io.StringIO()):  # autorank prints even when not verbose
        result = autorank(
            table, alpha=alpha, verbose=False, order="descending", force_mode="nonparametric"
        )
    ranks = result.rankdf["meanrank"].sort_values()
    summary = {
        "n_datasets": int(table.shape[0]),
        "omnibus": result.omnibus,
        "pvalue": float(result.pvalue),
        "posthoc": result.posthoc,
        "critical_difference": None if result.cd is None else float(result.cd),
        "mean_rank": {k: float(v) for k, v in ranks.items()},
    }
    return summary, result


def cd_diagram(result: Any) -> Figure:
    """Critical-difference diagram of an autorank result."""
    from autorank import plot_stats

    from imbalance_lab.evaluation.plots import plt

    ax = plot_stats(result, allow_insignificant=True)
    fig = ax.get_figure()
    if fig is None:  # pragma: no cover - autorank always draws on a figure
        fig = plt.gcf()
    return fig


def wilcoxon_vs_baseline(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Wilcoxon signed-rank test of each strategy against ``baseline`` over datasets."""
    from scipy.stats import wilcoxon

    if baseline not in table.columns:
        raise ConfigError(
            f"baseline {baseline!r} is not a strategy of these runs; choose one of: "
            + ", ".join(table.columns)
        )
    rows = []
    for strategy in table.columns:
        if strategy == baseline:
            continue
        pair = table[[strategy, baseline]].dropna()
        diff = pair[strategy] - pair[baseline]
        p = float(wilcoxon(diff).pvalue) if (diff != 0).any() and len(diff) >= 2 else 1.0
        rows.append(
            {
                "strategy": strategy,
                "baseline": baseline,
                "datasets": len(diff),
                "wins": int((diff > 0).sum()),
                "ties": int((diff == 0).sum()),
                "losses": int((diff < 0).sum()),
                "mean_diff": float(diff.mean()),
                "p_value": p,
            }
        )
    return pd.DataFrame(rows).sort_values("mean_diff", ascending=False, ignore_index=True)


def write_comparison(
    runs: Sequence[dict[str, Any]],
    out: Path,
    baseline: str | None = None,
    metric: str = "f1",
    console: Console | None = None,
    select_on: str | None = None,
) -> dict[str, Path]:
    """Selection on validation (``selection.md``); with >= 5 datasets on which every strategy
    is complete also average ranks, Friedman + Nemenyi (``ranks.json``, ``cd_diagram.png``)
    and Wilcoxon against ``baseline`` (``wilcoxon.csv``; default: the strategy without
    resampling, if present). Incomplete strategies (a failed run on a dataset) are listed in
    ``selection.md`` and ``ranks.json`` and left out of all of them."""
    from imbalance_lab.evaluation.plots import save

    ok = [r for r in runs if r.get("status") == "ok"]
    if not ok or not all("val" in r for r in ok):
        return {}
    console = console or Console()
    choice = choose_on_validation(runs, metric, select_on)
    incomplete, kept, select_on = choice.incomplete, choice.kept, choice.select_on
    left_out = (
        "\n\n## Incomplete, left out\n\nSome of their runs failed, so their means cover only "
        "the runs that finished. They take no part in this choice, the average ranks, "
        "Friedman/Nemenyi or Wilcoxon; see the leaderboard's failed column.\n\n"
        + "\n".join(incomplete_lines(incomplete))
        + "\n"
        if len(incomplete)
        else ""
    )
    files: dict[str, Path] = {}
    files["selection"] = out / "selection.md"
    header = (
        f"# Strategy selected on validation {READABLE[select_on]}, per dataset; its test "
        f"{metric}\n\n"
        f"Chosen on {CHOSEN_ON[select_on]} The choice never sees test data; its test score is "
        "what choosing this way delivers.\n\n"
    )
    if len(incomplete):
        console.print(
            f"[red]{len(incomplete)} incomplete (dataset, strategy) left out of selection and "
            "tests[/]: see selection.md"
        )
    if not kept:
        files["selection"].write_text(header + "No strategy finished all its runs." + left_out)
        return files
    kept_runs, kept_labels = [r for r, _ in kept], [lab for _, lab in kept]
    files["selection"].write_text(header + selection_markdown(choice, metric) + left_out)
    table = dataset_table(kept_runs, kept_labels, metric)
    full = table.dropna(axis=0, how="any")  # datasets on which every strategy is complete
    if full.shape[0] < 5 or table.shape[1] < 2:
        if table.shape[0] >= 5 and table.shape[1] >= 2:
            console.print(
                f"no ranks or tests: every strategy is complete on only {full.shape[0]} of "
                f"{table.shape[0]} datasets; they need 5"
            )
        return files
    summary, result = rank_strategies(table)
    summary["datasets_left_out"] = sorted(set(table.index) - set(full.index))
    summary["incomplete"] = incomplete[["dataset", "strategy", "runs", "failed"]].to_dict("records")
    baseline = baseline or next((c for c in table.columns if "none" in c), table.columns[0])
    wilcoxon = wilcoxon_vs_baseline(table, baseline)
    files["ranks"] = out / "ranks.json"
    files["ranks"].write_text(json.dumps(summary, indent=2, default=int))
    files["wilcoxon"] = out / "wilcoxon.csv"
    wilcoxon.to_csv(files["wilcoxon"], index=False)
    files["cd"] = save(cd_diagram(result), out / "cd_diagram.png")
    ranks = ", ".join(f"{k} {v:.2f}" for k, v in summary["mean_rank"].items())
    console.print(
        f"{summary['n_datasets']} datasets, test {metric}: mean ranks {ranks}; "
        f"{summary['omnibus']} p={summary['pvalue']:.3g}; see ranks.json, cd_diagram.png, "
        "wilcoxon.csv"
    )
    return files
