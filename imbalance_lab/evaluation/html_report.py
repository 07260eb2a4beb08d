"""``report.html``: a sweep's whole comparison on one page that opens anywhere.

Self-contained on purpose: the plots are embedded as base64 PNGs and the page loads nothing
(no scripts, fonts or styles from the network), so it can be mailed, archived, or opened on a
cluster's login node. Built with a Jinja2 template (``templates/report.html.j2``) from what the
other report files hold: the leaderboard, the PNG plots, selection on validation, ranks and
Wilcoxon tests when there are several datasets, and every run's settings.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

# The sweep's plots, in the order a reader wants them, with their captions.
PLOTS = (
    ("bars", "Test metrics per strategy (mean ± std over runs)"),
    ("pr", "Precision-recall curves on test"),
    ("confusion", "Confusion matrices on test (summed over each strategy's runs)"),
    ("cd", "Critical-difference diagram: average ranks over datasets (Nemenyi)"),
)
RUN_METRICS = ("f1", "pr_auc", "recall", "precision", "mcc")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _cell(mean: float, std: float, runs: int) -> str:
    if not math.isfinite(mean):
        return "-"
    return f"{mean:.3f} ± {std:.3f}" if runs > 1 else f"{mean:.3f}"


def _leaderboard_rows(df: pd.DataFrame, metrics: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for _, row in df.iterrows():
        best = set(str(row["best"]).split())
        n = int(row["runs"])
        rows.append(
            {
                "strategy": row["strategy"],
                "runs": f"{n} of {n + int(row['failed'])}" if row["failed"] else str(n),
                "complete": bool(row["complete"]),
                "cells": [
                    (_cell(row[f"{m}_mean"], row[f"{m}_std"], n), m in best) for m in metrics
                ],
                # The errors themselves are listed under "Failed runs", one line per run.
                "failed": int(row["failed"]),
                "error": row["error"] if row["failed"] else "",
            }
        )
    return rows


def _run_entry(run: Mapping[str, Any], label: str) -> dict[str, Any]:
    """One run as the page lists it: what defines it, and its scores or its error."""
    ok = run.get("status") == "ok"
    settings = {
        "choices": run.get("choices", {}),
        "overrides": run.get("overrides", []),
        **({"settings": run["settings"]} if "settings" in run else {}),
        **({"search": run["search"]} if "search" in run else {}),
    }
    return {
        "label": label,
        "dataset": run.get("dataset") or "?",
        "seed": run.get("seed", "?"),
        "path": run.get("path", ""),
        "ok": ok,
        "error": run.get("error", "") if not ok else "",
        "scores": {
            s: {m: run[s][m] for m in RUN_METRICS if m in run.get(s, {})}
            for s in ("val", "test")
            if ok
        },
        "settings": json.dumps(settings, indent=2, default=str),
    }


def _selection(files: Mapping[str, Path]) -> Markup | None:
    """selection.md as HTML, its title left to the page's own heading."""
    if "selection" not in files:
        return None
    from markdown_it import MarkdownIt  # rich's Markdown parser

    text = Path(files["selection"]).read_text()
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    # Its sections sit under the page's "Selection on validation" heading, one level down.
    body = re.sub(r"^## ", "### ", body, flags=re.MULTILINE)
    # "js-default": tables on, raw HTML off, so labels and errors are escaped, never markup.
    return Markup(MarkdownIt("js-default").render(body))


def _ranks(files: Mapping[str, Path]) -> dict[str, Any] | None:
    if "ranks" not in files:
        return None
    ranks = json.loads(Path(files["ranks"]).read_text())
    wilcoxon = pd.read_csv(files["wilcoxon"]) if "wilcoxon" in files else None
    return {
        **ranks,
        "wilcoxon": None if wilcoxon is None else wilcoxon.to_dict("records"),
    }


def write_html(
    df: pd.DataFrame,
    runs: Sequence[dict[str, Any]],
    labels: Sequence[str],
    files: Mapping[str, Path],
    metrics: Sequence[str],
    out: Path,
    title: str,
) -> Path:
    """Write ``out/report.html`` from the leaderboard ``df``, the ``runs`` (with their leaderboard
    ``labels``) and the report ``files`` already written (plots, selection, ranks)."""
    env = Environment(
        loader=PackageLoader("imbalance_lab.evaluation", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    entries = [_run_entry(r, lab) for r, lab in zip(runs, labels, strict=True)]
    page = env.get_template("report.html.j2").render(
        title=title,
        metrics=metrics,
        rows=_leaderboard_rows(df, metrics),
        plots=[
            {"caption": caption, "src": _data_uri(Path(files[key])), "name": Path(files[key]).name}
            for key, caption in PLOTS
            if key in files
        ],
        selection=_selection(files),
        ranks=_ranks(files),
        failed=[e for e in entries if not e["ok"]],
        runs=entries,
    )
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
