"""What an MLflow run holds beyond Lightning's per-epoch metrics: the settings and the figures.

``logger=mlflow`` is Lightning's ``MLFlowLogger``: it logs the metrics the model logs every
epoch (``train/*``, ``val/*``), and ``pipeline.run`` adds the test metrics at the end, as for every
logger. This module adds what only an MLflow run has a place for: the run's settings as params
(what it is filed under in the leaderboard: config-group choices, command-line overrides,
seed, the decision threshold chosen on validation) and its figures as artifacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import lightning as L


def run_params(results: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The run's settings as flat ``{name: value}`` params: choices (``sampler``: ``smote``),
    overrides as given (``model.optimizer.lr``: ``0.01``), ``seed`` and ``threshold``."""
    params: dict[str, Any] = {k: str(v) for k, v in results.get("choices", {}).items()}
    params.update(o.lstrip("+~").split("=", 1) for o in results.get("overrides", []) if "=" in o)
    params.update({"seed": seed, "threshold": results["threshold"]["value"]})
    if results.get("dataset"):
        params["dataset"] = results["dataset"]
    return params


def log_to_mlflow(
    trainer: L.Trainer, results: Mapping[str, Any], seed: int, figures: Iterable[Path] = ()
) -> None:
    """Log params (:func:`run_params`) and the figure files ``figures`` (PNG, under the
    artifact folder ``figures/``) to every MLflow logger of ``trainer``; no-op without one."""
    from lightning.pytorch.loggers import MLFlowLogger

    paths = [str(p) for p in figures]
    for lg in trainer.loggers:
        if not isinstance(lg, MLFlowLogger):
            continue
        lg.log_hyperparams(run_params(results, seed))
        for path in paths:
            lg.experiment.log_artifact(lg.run_id, path, artifact_path="figures")
