"""What one run shows besides its numbers: figures on disk and in TensorBoard, HPARAMS."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import numpy as np
import torch

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
        "pr_curve": plots.pr_curve_figure(
            {"test": [results["pr_curve"]]},
            average_precision={"test": results["test"]["pr_auc"]},
            prevalence={"test": plots.prevalence(results["confusion"])},
        ),
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


def save_figures(figures: Mapping[str, Figure], out_dir: Path) -> dict[str, bytes]:
    """Each figure as ``<out_dir>/<name>.png``; returns the PNG files' bytes by name (what
    TensorBoard shows too: drawn once, not again for it)."""
    from imbalance_lab.evaluation import plots

    return {
        name: plots.save(fig, out_dir / f"{name}.png").read_bytes() for name, fig in figures.items()
    }


def _png_summary(tag: str, png: bytes) -> Any:
    """A TensorBoard image summary holding ``png`` as it is (TensorBoard stores images as PNG;
    ``add_figure`` would draw the figure again and encode it anew: ~40 % of a run's figures)."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR chunk
    image = Summary.Image(height=height, width=width, colorspace=4, encoded_image_string=png)
    return Summary(value=[Summary.Value(tag=tag, image=image)])


# Parameters of every sampler or model that say nothing about the method.
_NOT_SETTINGS = frozenset({"_target_", "_partial_", "random_state", "n_jobs", "in_features"})


def _hp_value(value: Any) -> str | int | float | bool:
    """A value as TensorBoard's HPARAMS takes it: numbers as numbers (so the tab filters them
    by interval), anything else as text."""
    if isinstance(value, (bool, int, float)):
        return value
    try:
        return float(value) if isinstance(value, str) and value.strip() else str(value)
    except ValueError:
        return str(value)


def _flat(prefix: str, node: Any) -> dict[str, Any]:
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k not in _NOT_SETTINGS:
                out.update(_flat(f"{prefix}.{k}", v))
        return out
    return {prefix: node}


def threshold_rule(results: Mapping[str, Any], metric: str | None = None) -> str:
    """``fixed``, ``tuned on val <metric>``, or ``fixed (too few val positives to tune)``."""
    rule = str(results["threshold"]["rule"])
    if rule == "tuned":
        return f"tuned on val {metric}" if metric else "tuned on val"
    return "fixed (too few val positives to tune)" if rule.startswith("fallback") else rule


def hparams(
    results: Mapping[str, Any],
    threshold_metric: str | None = None,
    varying: set[str] | None = None,
) -> dict[str, str | int | float | bool]:
    """What HPARAMS shows of a run, in the order a reader compares runs by: what the run sets on
    the command line (only the ``varying`` settings of its sweep, when given), dataset, fold,
    seed, the config groups chosen, the threshold rule and value, then the sampler's and the
    model's parameters as they were resolved (sampling_strategy, k_neighbors, lr, hidden
    sizes, pos_weight, batch size).

    Config groups that never vary within a sweep (callbacks, logger, experiment) are left out.
    """
    hp: dict[str, Any] = {}
    for override in results.get("overrides", []):
        key, sep, value = override.lstrip("+~").partition("=")
        if varying is not None and key not in varying:
            continue
        if sep and key not in ("experiment", "hparams_search") and not key.startswith("hydra"):
            hp[key] = value
    hp["dataset"] = results.get("dataset")
    fold = results.get("fold")
    if fold:
        hp["fold"] = f"{fold['fold']} of {fold['folds']}" + (
            f", repeat {fold['repeat']}" if fold.get("repeat") else ""
        )
    hp["seed"] = results.get("seed")
    choices = results.get("choices", {})
    for group in ("strategy", "sampler", "loss", "model"):
        if choices.get(group) is not None:
            hp[group] = choices[group]
    hp["threshold"] = threshold_rule(results, threshold_metric)
    hp["threshold_value"] = results["threshold"]["value"]
    settings = results.get("settings", {})
    if choices.get("sampler") not in (None, "none"):
        hp.update(_flat("sampler", results.get("sampler", {}).get("params", {})))
    hp.update(_flat("model", settings.get("model", {})))
    hp.update(_flat("loss", settings.get("loss", {})))
    if results.get("pos_weight") is not None:  # auto resolved to n_neg / n_pos
        hp["loss.pos_weight"] = results["pos_weight"]
    hp["batch_size"] = results.get("batch_size")
    return {k: _hp_value(v) for k, v in hp.items() if v is not None}


def log_to_tensorboard(
    trainer: L.Trainer,
    images: Mapping[str, bytes],
    results: Mapping[str, Any],
    threshold_metric: str | None = None,
) -> None:
    """Test figures as images (``images``: PNG bytes by name, from :func:`save_figures`);
    :func:`hparams` with the validation PR-AUC as ``hp_metric`` (threshold-free, without test
    data; selection.md chooses on the cross-fitted validation F1), validation F1 and the test
    metrics to the HPARAMS tab."""
    from lightning.pytorch.loggers import TensorBoardLogger

    from imbalance_lab.run_names import varying_keys

    varying = varying_keys()
    metrics = {"hp_metric": results["val"]["pr_auc"], "hp/val_f1": results["val"]["f1"]}
    metrics.update({f"hp/test_{k}": v for k, v in results["test"].items()})
    metrics = {k: v for k, v in metrics.items() if v is not None and np.isfinite(v)}
    for lg in trainer.loggers:
        if not isinstance(lg, TensorBoardLogger):
            continue
        for name, png in images.items():
            lg.experiment._get_file_writer().add_summary(_png_summary(f"test/{name}", png))
        lg.log_hyperparams(hparams(results, threshold_metric, varying), metrics=metrics)
