"""What one run shows besides its numbers: figures on disk and in TensorBoard, HPARAMS."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import numpy as np
import torch

from imbalance_lab.models.networks import predict_probs  # noqa: F401  (re-exported)

if TYPE_CHECKING:  # matplotlib loads only in a run that draws (figures=true)
    from matplotlib.figure import Figure


def pr_curve(probs: np.ndarray, target: np.ndarray, max_points: int = 200) -> dict[str, list]:
    """Test precision-recall curve (torchmetrics), thinned to ``max_points`` for metrics.json."""
    from torchmetrics.functional.classification import binary_precision_recall_curve

    precision, recall, _ = binary_precision_recall_curve(
        torch.from_numpy(probs), torch.from_numpy(target).long()
    )
    keep = np.unique(np.linspace(0, len(recall) - 1, min(len(recall), max_points)).astype(int))
    return {"precision": precision[keep].tolist(), "recall": recall[keep].tolist()}


def run_figures(
    results: Mapping[str, Any],
    probs: Mapping[str, np.ndarray],
    targets: Mapping[str, np.ndarray],
    predict: Callable[[np.ndarray], np.ndarray],
    X_2d: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Figure]:
    """Confusion matrix, PR curve, reliability diagram, probability histograms; on 2D data the
    decision boundary over the training rows (the lab's Fig. 1)."""
    from imbalance_lab.evaluation import diagnostics, plots

    threshold = results["threshold"]["value"]
    figures = {
        "confusion_matrix": plots.confusion_figure(results["confusion"], title="test"),
        "pr_curve": plots.pr_curve_figure({"test": [results["pr_curve"]]}),
        "reliability": diagnostics.reliability_figure(results["diagnostics"]["calibration_test"]),
        "probability_histograms": diagnostics.probability_histograms_figure(
            probs["test"], targets["test"], threshold=threshold
        ),
    }
    if X_2d is not None:
        choices = results.get("choices", {})
        title = f"sampler={choices.get('sampler', '?')} loss={choices.get('loss', '?')}"
        figures["decision_boundary"] = diagnostics.decision_boundary_figure(
            lambda grid: predict(grid.astype(np.float32)), *X_2d, title=title
        )
    return figures


def save_figures(figures: Mapping[str, Figure], out_dir: Path) -> None:
    from imbalance_lab.evaluation import plots

    for name, fig in figures.items():
        plots.save(fig, out_dir / f"{name}.png")


def log_to_tensorboard(
    trainer: L.Trainer, figures: Mapping[str, Figure], results: Mapping[str, Any], seed: int
) -> None:
    """Test figures as images; settings and final test metrics to the HPARAMS tab."""
    from lightning.pytorch.loggers import TensorBoardLogger

    for lg in trainer.loggers:
        if not isinstance(lg, TensorBoardLogger):
            continue
        for name, fig in figures.items():
            lg.experiment.add_figure(f"test/{name}", fig, close=False)
        hp: dict[str, Any] = {k: str(v) for k, v in results["choices"].items()}
        hp.update({"seed": seed, "threshold": results["threshold"]["value"]})
        hp.update(dict(o.split("=", 1) for o in results["overrides"] if "=" in o))
        metrics = {f"hp/test_{k}": v for k, v in results["test"].items() if np.isfinite(v)}
        lg.log_hyperparams(hp, metrics=metrics)
