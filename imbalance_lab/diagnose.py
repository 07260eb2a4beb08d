"""Hydra entry point: diagnose a dataset's imbalance before training on it.

python -m imbalance_lab.diagnose data=keel data.name=yeast4
python -m imbalance_lab.diagnose data=synthetic data.n_samples=600

Composes the training config tree (same data configs, split, scaler and seed), splits the data as
training does but without resampling, prints class counts, imbalance ratios, the minority
typology and class overlap, and writes ``diagnosis.json`` and ``typology_pca.png`` into the run's
output folder (``logs/diagnose/runs/...`` unless ``task_name`` or ``hydra.run.dir`` is set).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from imbalance_lab.data.image_files import thumbnails
from imbalance_lab.data.image_module import ImageDataModule
from imbalance_lab.evaluation import plots
from imbalance_lab.evaluation.advice import as_json, read_report
from imbalance_lab.evaluation.diagnostics import (
    TYPES,
    data_report,
    minority_typology,
    typology_pca_figure,
)
from imbalance_lab.objects import build_datamodule
from imbalance_lab.records import hydra_info
from imbalance_lab.train import CONF_DIR

log = logging.getLogger(__name__)
DIAGNOSIS_FILE = "diagnosis.json"
FIGURE_FILE = "typology_pca.png"


def _fmt_ir(ir: float | None) -> str:
    return "-" if ir is None else f"{ir:.2f}"


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    """Class counts and imbalance ratio per split, typology and overlap as rich tables."""
    console = console or Console()
    title = f"{report['dataset']}: class counts (before resampling)"
    counts = Table(title=title, title_justify="left")
    for col, just in (("split", "left"), ("rows", "right"), ("0 majority", "right")):
        counts.add_column(col, justify=just)
    counts.add_column("1 minority", justify="right")
    counts.add_column("IR (maj/min)", justify="right")
    for split, c in report["counts"].items():
        counts.add_row(split, str(c["n"]), str(c["0"]), str(c["1"]), _fmt_ir(c["imbalance_ratio"]))
    console.print(counts)

    typ = report["typology"]
    title = "minority typology, k=5 neighbours"
    types = Table(title=title, title_justify="left")
    types.add_column("type")
    types.add_column("rows", justify="right")
    types.add_column("share", justify="right")
    for t in TYPES:
        types.add_row(t, str(typ["counts"][t]), f"{typ['shares'][t]:.1%}")
    ov = report["overlap"]
    types.add_section()
    types.add_row("nearest neighbour is majority", "", f"{ov['minority_nn_majority_share']:.1%}")
    types.add_row(
        "feature rows with both labels",
        str(ov["n_conflicting_feature_rows"]),
        f"({ov['n_rows_in_conflict']} rows)",
    )
    console.print(types)
    readings = report.get("readings") or [{"finding": t} for t in report["interpretation"]]
    for r in readings:
        console.print(f"-> [bold]{r['finding']}[/]: {r.get('suggestion', '')}", highlight=False)
        for key in ("basis", "confidence", "check"):
            if r.get(key):
                console.print(f"   [dim]{key}:[/] {r[key]}", highlight=False)


def run(cfg: DictConfig) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray]:
    """Split the configured data as training does (no resampling) and diagnose it.

    Returns the JSON-friendly report, all rows ``X``, ``y`` (scaled as training scales them)
    and the type of each minority row.
    """
    dm = build_datamodule(cfg, resample=False)  # the split training uses, before resampling
    dm.setup()
    splits = dm.splits
    if isinstance(dm, ImageDataModule):  # image files: the samplers' stated feature space
        size = dm.thumbnail_size
        splits = {k: (thumbnails(files, size), y) for k, (files, y) in splits.items()}
        log.info("image files diagnosed on %dx%d grey thumbnails (data.thumbnail_size)", size, size)
    X_all = np.concatenate([X for X, _ in splits.values()])
    y_all = np.concatenate([y for _, y in splits.values()])
    info = hydra_info()
    report: dict[str, Any] = {
        "dataset": dm.name,
        "seed": int(cfg.seed),
        "choices": info["choices"],
        "overrides": info["overrides"],
        "scaler": cfg.data.scaler,
        "n_dropped_constant_features": dm.n_dropped_features,
    }
    types = minority_typology(X_all, y_all)
    report.update(data_report(splits, X_all, y_all, types))
    readings = read_report(report)
    report["interpretation"] = [r.line() for r in readings]
    report["readings"] = as_json(readings)
    return report, X_all, y_all, types


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def main(cfg: DictConfig) -> None:
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    report, X, y, types = run(cfg)
    path = output_dir / DIAGNOSIS_FILE
    path.write_text(json.dumps(report, indent=2))
    plots.save(typology_pca_figure(X, y, types), output_dir / FIGURE_FILE)
    if cfg.get("print_table", True):
        print_report(report)
    log.info("diagnosis written to %s", path)


if __name__ == "__main__":
    # Runs go to logs/diagnose/..., not among training runs, unless the user names a task.
    if not any(a.startswith("task_name=") for a in sys.argv[1:]):
        sys.argv.append("task_name=diagnose")
    main()
