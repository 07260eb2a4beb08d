"""The comparison table of a methods study: per method, mean test F1, PR-AUC, balanced accuracy
and MCC of the minority class, training seconds per run, and average ranks on test F1 and
PR-AUC with a Friedman test and Nemenyi post-hoc (autorank, the project's
``evaluation/statistics.py``) over (dataset, fold) blocks, from the sweep folders of
``python train.py -m experiment=benchmark ...``. A method is the run's command-line overrides
minus the dataset, the fold and the overrides every run shares. Blocks are folds, not datasets,
so that a reduced study of a few datasets can be ranked (autorank needs 5 blocks); folds of one
dataset are not independent, so read its p-values as a guide.

    python scripts/study.py SWEEP_DIR [SWEEP_DIR ...] [--out DIR]

writes ``study.md`` and ``cd_f1.png`` into ``--out`` (default: the first folder). The README's
"A network recipe" section gives the sweeps of the study behind ``recipe=strong``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.leaderboard import load_runs
from imbalance_lab.evaluation.statistics import cd_diagram, rank_strategies

METRICS = ("f1", "pr_auc", "balanced_acc", "mcc")
# Overrides that say where a run is, not what it is.
_WHERE = ("data.name=", "data.fold=", "seed=", "hydra")


def methods(runs: Sequence[dict[str, Any]]) -> list[str]:
    """Each run's method: its command-line overrides, in their order, minus :data:`_WHERE` and
    those every run has (``experiment=benchmark``, ``threads=1``)."""
    own = [
        [o for o in r.get("overrides", []) if not o.lstrip("+~").startswith(_WHERE)] for r in runs
    ]
    shared = set.intersection(*(set(o) for o in own)) if own else set()
    return [" ".join(o for o in keep if o not in shared) or "default" for keep in own]


def study_table(runs: Sequence[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(per-method means, per-run rows)`` of the finished runs; means sorted by test F1."""
    runs = [r for r in runs if r.get("status") == "ok"]
    rows = [
        {
            "method": name,
            "block": f"{r['dataset']}/{r['fold']['fold']}",
            **{m: r["test"][m] for m in METRICS},
            "train_s": r["timings"]["train_s"] + r["timings"]["resample_s"],
        }
        for r, name in zip(runs, methods(runs), strict=True)
    ]
    if not rows:
        raise ConfigError("no finished run in these folders.")
    per_run = pd.DataFrame(rows)
    means = per_run.groupby("method")[[*METRICS, "train_s"]].mean()
    means.insert(0, "runs", per_run.groupby("method").size())
    return means.sort_values("f1", ascending=False), per_run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="sweep folders")
    parser.add_argument("--out", type=Path, default=None, help="default: the first folder")
    args = parser.parse_args(argv)
    try:
        means, per_run = study_table(load_runs(args.paths))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = args.out or args.paths[0]
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| method | runs | test F1 | PR-AUC | bal. acc | MCC | train s / run |"]
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in means.iterrows():
        values = " | ".join(f"{r[m]:.3f}" for m in METRICS)
        lines.append(f"| `{name}` | {int(r['runs'])} | {values} | {r['train_s']:.1f} |")
    for metric in ("f1", "pr_auc"):
        table = per_run.pivot_table(index="block", columns="method", values=metric)
        try:
            summary, result = rank_strategies(table)
        except ConfigError as err:
            lines.append(f"\nno ranks on test {metric}: {err}")
            continue
        ranks = ", ".join(f"`{k}` {v:.2f}" for k, v in summary["mean_rank"].items())
        cd = summary["critical_difference"]
        lines.append(
            f"\nAverage rank on test {metric} over {summary['n_datasets']} (dataset, fold) "
            f"blocks (1 = best): {ranks}. {summary['omnibus']} p = {summary['pvalue']:.3g}"
            + (f", Nemenyi critical difference {cd:.2f}." if cd is not None else ".")
        )
        if metric == "f1" and cd is not None:  # two methods: Wilcoxon, no diagram
            cd_diagram(result).savefig(out / "cd_f1.png", bbox_inches="tight")
    text = "\n".join(lines) + "\n"
    (out / "study.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
