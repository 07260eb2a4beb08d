"""Rebuild a leaderboard and report.html from sweep folders on disk (e.g. a cluster sweep
copied back).

python -m imbalance_lab.report logs/train/multiruns/2026-11-28_10-00-00 [MORE ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.leaderboard import load_runs, write_report
from imbalance_lab.evaluation.names import ALL_METRICS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m imbalance_lab.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, help="sweep or run folders")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write leaderboard.{csv,md}, plots and report.html (default: first path)",
    )
    parser.add_argument(
        "--metric",
        default="f1",
        choices=ALL_METRICS,
        metavar="METRIC",
        help=f"one of {', '.join(ALL_METRICS)}: the test metric reported for the strategy "
        "chosen per dataset (selection.md) and compared by the average ranks, Friedman/Nemenyi "
        "and Wilcoxon tests (default f1). It does not choose: the choice is made on validation "
        "only (--select-on; by default the best mean validation F1 cross-fitted, each "
        "validation row scored at a threshold chosen on the other rows), never on test data",
    )
    parser.add_argument(
        "--select-on",
        default=None,
        choices=("f1_cross_fitted", "pr_auc"),
        help="what selection.md chooses on: f1_cross_fitted (default where the runs recorded "
        "it) or pr_auc (mean validation PR-AUC, the earlier rule)",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        help="strategy label to test the others against (Wilcoxon over datasets)",
    )
    args = parser.parse_args(argv)
    try:
        runs = load_runs(args.paths)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        files = write_report(
            runs,
            args.out or args.paths[0],
            baseline=args.baseline,
            metric=args.metric,
            select_on=args.select_on,
        )
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("written: " + ", ".join(str(p) for p in files.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
