"""Aggregate the ``metrics.json`` of a sweep's runs into a leaderboard, plots and files.

Reads only ``metrics.json`` files (never TensorBoard event files), so it works on sweeps run on a
cluster and copied back, and on several sweeps at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation import plots
from imbalance_lab.evaluation.html_report import write_html
from imbalance_lab.evaluation.names import ALL_METRICS
from imbalance_lab.evaluation.notes import configuration_notes
from imbalance_lab.evaluation.statistics import write_comparison
from imbalance_lab.evaluation.tables import print_notes
from imbalance_lab.records import failed_record

log = logging.getLogger(__name__)

# Between the notes of one configuration in the leaderboard's notes column (csv).
NOTE_SEPARATOR = " | "
# Overrides that repeat a configuration rather than define one; the leaderboard averages them.
REPEAT_KEYS = frozenset({"seed", "data.fold", "data.repeat"})
GROUPS = ("data", "strategy", "sampler", "loss", "model", "threshold")
COLUMNS = (
    "acc",
    "precision",
    "recall",
    "f1",
    "pr_auc",
    "roc_auc",
    "mcc",
    "balanced_acc",
    "g_mean",
    "recall_majority",
    "ece",
)
LOWER_IS_BETTER = frozenset({"ece"})  # calibration error


def _unfinished(job_dir: Path, error: str = "") -> dict[str, Any]:
    """The failed record of a job folder Hydra created whose run left no readable metrics.json
    (killed or crashed), rebuilt from its ``.hydra`` folder with the labels a finished sibling
    reports (``records.run_labels``), so it joins its configuration's row."""
    import yaml
    from omegaconf import OmegaConf

    hydra_dir = job_dir / ".hydra"
    overrides = yaml.safe_load((hydra_dir / "overrides.yaml").read_text()) or []
    try:
        choices = yaml.safe_load((hydra_dir / "hydra.yaml").read_text())["hydra"]["runtime"][
            "choices"
        ]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        choices = {}
    try:
        cfg = OmegaConf.load(hydra_dir / "config.yaml")
    except (OSError, yaml.YAMLError, ValueError):
        cfg = OmegaConf.create({})
    error = error or "no metrics.json: the job was killed or crashed (or still runs); see its log"
    return {**failed_record(cfg, error, choices or {}, overrides), "path": str(job_dir)}


def load_runs(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Every run's ``metrics.json`` under the given sweep (or run) folders, plus a failed record
    for each job folder without one."""
    runs: list[dict[str, Any]] = []
    for p in paths:
        path = Path(p)
        if not path.is_dir():
            raise ConfigError(f"{path} is not a folder; give the folder of a sweep or run.")
        files = sorted(path.rglob("metrics.json"))
        unfinished = sorted(
            d.parent
            for d in path.rglob(".hydra")
            if (d / "overrides.yaml").exists() and not (d.parent / "metrics.json").exists()
        )
        if not files and not unfinished:
            raise ConfigError(
                f"{path} holds no metrics.json: not a sweep folder, or its runs have not finished."
            )
        for f in files:
            try:
                run = json.loads(f.read_text())
            except json.JSONDecodeError as err:  # e.g. cut short by a full disk
                error = f"unreadable metrics.json: {err}"
                if (f.parent / ".hydra" / "overrides.yaml").exists():
                    runs.append(_unfinished(f.parent, error))
                    continue
                run = {"status": "failed", "error": error}
            run["path"] = str(f.parent)
            runs.append(run)
        runs.extend(_unfinished(d) for d in unfinished)
    return runs


def _settings(run: dict[str, Any]) -> dict[str, str]:
    """What defines a run's configuration: config-group choices and overrides, minus repeats."""
    choices = run.get("choices", {})
    out = {g: str(choices[g]) for g in GROUPS if g in choices}
    if run.get("dataset"):
        out["data.name"] = str(run["dataset"])
    for o in run.get("overrides", []):
        key, _, value = o.lstrip("+~").partition("=")
        if key not in REPEAT_KEYS and not key.startswith("hydra"):
            out[key] = value
    return out


def label_runs(runs: Sequence[dict[str, Any]], exclude: Iterable[str] = ()) -> list[str]:
    """A label per run naming only the settings that vary across ``runs`` (minus ``exclude``)."""
    excluded = set(exclude)
    settings = [{k: v for k, v in _settings(r).items() if k not in excluded} for r in runs]
    # Config groups first, in the order a user thinks of them, then other overrides.
    found = {k for s in settings for k in s}
    keys = [g for g in GROUPS if g in found] + sorted(found - set(GROUPS))
    varying = [k for k in keys if len({s.get(k) for s in settings}) > 1]
    if "strategy" in varying:  # a strategy names its sampler and loss
        varying = [k for k in varying if k not in ("sampler", "loss")]
    if not varying:
        varying = [k for k in ("sampler", "loss") if k in keys]
    return [" ".join(f"{k}={s.get(k, '-')}" for k in varying) or "default" for s in settings]


def leaderboard(runs: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per configuration: mean and std of test metrics over its seeds/folds.

    A configuration with a failed run is incomplete (``complete`` False): its means cover only
    the runs that finished, which need not be a fair sample of its folds or seeds (a fold too
    small for a sampler fails, the others do not). Such rows come after the complete ones and
    are never marked best.
    """
    rows = []
    labels = label_runs(runs)
    notes = configuration_notes(runs, labels)
    order = list(dict.fromkeys(labels))
    for label in order:
        group = [r for r, lab in zip(runs, labels, strict=True) if lab == label]
        ok = [r for r in group if r.get("status") == "ok"]
        failed = [r for r in group if r.get("status") != "ok"]
        row: dict[str, Any] = {
            "strategy": label,
            "runs": len(ok),
            "failed": len(failed),
            "complete": bool(ok) and not failed,
        }
        for m in COLUMNS:
            values = [r["test"][m] for r in ok if m in r.get("test", {})]
            values = [v for v in values if v is not None and np.isfinite(v)]
            row[f"{m}_mean"] = float(np.mean(values)) if values else np.nan
            row[f"{m}_std"] = (
                float(np.std(values, ddof=1)) if len(values) > 1 else 0.0 if values else np.nan
            )
        errors = list(dict.fromkeys(r.get("error", "failed") for r in failed))
        n_other = len(errors) - 1
        others = f" (and {n_other} other error{'s' * (n_other > 1)})" if n_other else ""
        row["error"] = errors[0] + others if errors else ""
        row["notes"] = NOTE_SEPARATOR.join(notes.get(label, []))
        rows.append(row)
    df = pd.DataFrame(rows)
    df = df.sort_values(
        ["complete", "f1_mean", "runs"], ascending=False, na_position="last", kind="stable"
    )
    df = df.reset_index(drop=True)
    done = df[df["complete"]]
    best = {
        m: done[f"{m}_mean"].min() if m in LOWER_IS_BETTER else done[f"{m}_mean"].max()
        for m in COLUMNS
    }
    df["best"] = [
        " ".join(m for m in COLUMNS if np.isfinite(best[m]) and row[f"{m}_mean"] == best[m])
        if row["complete"]
        else ""
        for _, row in df.iterrows()
    ]
    return df


def _cell(row: pd.Series, m: str) -> str:
    mean, std = row[f"{m}_mean"], row[f"{m}_std"]
    if not np.isfinite(mean):
        return "-"
    return f"{mean:.3f} ± {std:.3f}" if row["runs"] > 1 else f"{mean:.3f}"


def _runs_cell(row: pd.Series) -> str:
    """``3`` or, with failures, ``1 of 5``: finished runs out of all the configuration's runs."""
    if not row["failed"]:
        return str(row["runs"])
    return f"{row['runs']} of {row['runs'] + row['failed']}"


def _present(df: pd.DataFrame) -> list[str]:
    return [m for m in COLUMNS if df[f"{m}_mean"].notna().any()]


def to_markdown(df: pd.DataFrame, title: str = "") -> str:
    metrics = _present(df)
    lines = [f"# {title}", ""] if title else []
    lines.append(
        "Test metrics, positive class = minority; mean ± std over runs; best in bold "
        "(lowest for ece, the expected calibration error). recall = minority recall, "
        "recall_majority = majority recall. runs: finished runs; `1 of 5` = 4 failed, an "
        "incomplete row: its means cover only the finished runs, it comes after the complete "
        "rows and is never marked best."
    )
    lines.append("")
    lines.append("| strategy | runs | " + " | ".join(metrics) + " | failed |")
    lines.append("|---|---:|" + "---:|" * len(metrics) + "---|")
    for _, row in df.iterrows():
        cells = [
            f"**{_cell(row, m)}**" if m in row["best"].split() else _cell(row, m) for m in metrics
        ]
        failed = f"{row['failed']}: {row['error']}" if row["failed"] else ""
        lines.append(
            f"| {row['strategy']} | {_runs_cell(row)} | " + " | ".join(cells) + f" | {failed} |"
        )
    noted = [(row["strategy"], _notes(row)) for _, row in df.iterrows() if _notes(row)]
    if noted:
        lines += ["", "## Notes", ""]
        lines += [f"- **{label}**: {text}" for label, texts in noted for text in texts]
    return "\n".join(lines) + "\n"


def _notes(row: pd.Series) -> list[str]:
    text = row.get("notes", "")
    return text.split(NOTE_SEPARATOR) if isinstance(text, str) and text else []


def print_leaderboard(df: pd.DataFrame, title: str = "", console: Console | None = None) -> None:
    """The lab's four metrics and PR-AUC in the terminal; every column is in the md/csv files."""
    metrics = [m for m in ("acc", "precision", "recall", "f1", "pr_auc") if m in _present(df)]
    table = Table(title=title or "leaderboard (test, minority = positive)", title_justify="left")
    table.add_column("strategy", no_wrap=True)
    table.add_column("runs", justify="right")
    for m in metrics:
        table.add_column(m, justify="right", no_wrap=True)
    table.add_column("failed")
    for _, row in df.iterrows():
        cells = [
            f"[bold green]{_cell(row, m)}[/]" if m in row["best"].split() else _cell(row, m)
            for m in metrics
        ]
        failed = f"[red]{row['failed']}: {row['error']}[/]" if row["failed"] else ""
        runs = _runs_cell(row) if row["complete"] else f"[red]{_runs_cell(row)}[/]"
        table.add_row(row["strategy"], runs, *cells, failed)
    console = console or Console(width=max(Console().width, 150))
    console.print(table)
    noted = [f"{row['strategy']}: {t}" for _, row in df.iterrows() for t in _notes(row)]
    print_notes(noted, console)


def write_report(
    runs: Sequence[dict[str, Any]],
    out_dir: str | Path,
    console: Console | None = None,
    baseline: str | None = None,
    metric: str = "f1",
    select_on: str | None = None,
) -> dict[str, Path]:
    """Leaderboard (csv, md, terminal) and plots for ``runs``, written into ``out_dir``; with
    several datasets also selection on validation, ranks and tests (see ``statistics``); and
    all of it on one self-contained page, ``report.html`` (see ``html_report``).
    ``select_on``: what selection.md chooses on (see ``selection.CRITERIA``; None = the
    cross-fitted F1 where every run has it)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = leaderboard(runs)
    title = f"leaderboard: {len(runs)} runs in {out}"
    files = {"csv": out / "leaderboard.csv", "md": out / "leaderboard.md"}
    df.to_csv(files["csv"], index=False)
    files["md"].write_text(to_markdown(df, title))
    print_leaderboard(df, title, console)

    files.update(
        write_comparison(
            runs, out, baseline=baseline, metric=metric, console=console, select_on=select_on
        )
    )
    labels = label_runs(runs)
    ok = df[df["runs"] > 0]
    if len(ok):
        files.update(_sweep_figures(runs, labels, ok, out))
    files["html"] = write_html(df, runs, labels, files, _present(df), out, title)
    return files


def _sweep_figures(
    runs: Sequence[dict[str, Any]], labels: Sequence[str], ok: pd.DataFrame, out: Path
) -> dict[str, Path]:
    """metrics_bars.png, pr_curves.png and confusion_matrices.png of the leaderboard rows
    ``ok`` (those with a finished run), in the leaderboard's order."""
    order = ok["strategy"].tolist()
    # An incomplete row says so on the figures too: its means cover only the finished runs.
    names = [
        lab if row["complete"] else f"{lab} ({_runs_cell(row)} runs)"
        for lab, (_, row) in zip(order, ok.iterrows(), strict=True)
    ]
    means = {m: ok[f"{m}_mean"].tolist() for m in ALL_METRICS if f"{m}_mean" in ok}
    stds = {m: ok[f"{m}_std"].fillna(0).tolist() for m in ALL_METRICS if f"{m}_std" in ok}
    files = {
        "bars": plots.save(plots.metric_bars_figure(names, means, stds), out / "metrics_bars.png")
    }
    curves: dict[str, list] = {}
    prevalence: dict[str, list[float]] = {}
    confusion: dict[str, dict[str, int]] = {}
    n_runs: dict[str, int] = {}
    for run, label in zip(runs, labels, strict=True):
        if run.get("status") != "ok":
            continue
        if "pr_curve" in run:
            curves.setdefault(label, []).append(run["pr_curve"])
        total = confusion.setdefault(label, {"tn": 0, "fp": 0, "fn": 0, "tp": 0})
        for k in total:
            total[k] += run["confusion"][k]
        n_runs[label] = n_runs.get(label, 0) + 1
        prevalence.setdefault(label, []).append(plots.prevalence(run["confusion"]))
    rename = dict(zip(order, names, strict=True))
    if curves:
        ap = dict(zip(names, ok["pr_auc_mean"], strict=True)) if "pr_auc_mean" in ok else {}
        figure = plots.pr_curve_figure(
            {rename[k]: curves[k] for k in order if k in curves},
            average_precision=ap,
            prevalence={rename[k]: float(np.mean(v)) for k, v in prevalence.items()},
        )
        files["pr"] = plots.save(figure, out / "pr_curves.png")
    files["confusion"] = plots.save(
        plots.confusion_grid_figure(
            [(rename[k], confusion[k]) for k in order], [n_runs[k] for k in order]
        ),
        out / "confusion_matrices.png",
    )
    return files
