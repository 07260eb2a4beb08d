"""One metric vocabulary: ``{split}/{metric}``, positive class = minority = label 1."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryF1Score,
    BinaryPrecision,
    BinaryRecall,
)
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_average_precision,
    binary_confusion_matrix,
)

from imbalance_lab.evaluation.names import (
    ALL_METRICS,
    BALANCED_METRICS,
    RANKING_METRICS,
    THRESHOLD_METRICS,
)

__all__ = [
    "ALL_METRICS",
    "BALANCED_METRICS",
    "RANKING_METRICS",
    "THRESHOLD_METRICS",
    "binary_metrics",
    "confusion_counts",
    "counts_to_metrics",
    "epoch_metrics",
]


def epoch_metrics() -> MetricCollection:
    """The lab's four metrics at threshold 0.5 (one shared stat-scores state) plus PR-AUC and
    ROC-AUC, accumulated over an epoch of validation batches."""
    metrics = {
        "acc": BinaryAccuracy(),
        "precision": BinaryPrecision(zero_division=0),
        "recall": BinaryRecall(zero_division=0),
        "f1": BinaryF1Score(zero_division=0),
        # thresholds=None keeps exact scores; validation sets are small enough for that.
        "pr_auc": BinaryAveragePrecision(),
        "roc_auc": BinaryAUROC(),
    }
    return MetricCollection(metrics, compute_groups=True)


def confusion_counts(probs: torch.Tensor, target: torch.Tensor, threshold: float) -> dict:
    """``{"tn", "fp", "fn", "tp"}`` at ``threshold``."""
    cm = binary_confusion_matrix(probs, target.long(), threshold=threshold)
    (tn, fp), (fn, tp) = cm.tolist()
    return {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}


def counts_to_metrics(tn: ArrayLike, fp: ArrayLike, fn: ArrayLike, tp: ArrayLike) -> dict:
    """Threshold-dependent metrics from confusion counts; works element-wise on arrays."""
    tn, fp, fn, tp = (np.asarray(v, dtype=np.float64) for v in (tn, fp, fn, tp))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        specificity = np.where(tn + fp > 0, tn / (tn + fp), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        mcc = np.where(denom > 0, (tp * tn - fp * fn) / denom, 0.0)
        acc = (tp + tn) / np.maximum(tp + tn + fp + fn, 1)
    return {
        "acc": acc,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "mcc": mcc,
        "balanced_acc": (recall + specificity) / 2,
        "g_mean": np.sqrt(recall * specificity),
        "recall_majority": specificity,
    }


def binary_metrics(probs: torch.Tensor, target: torch.Tensor, threshold: float) -> dict:
    """Every metric of :data:`ALL_METRICS` (plus majority recall) from probabilities.

    The threshold-dependent ones derive from one torchmetrics confusion matrix, so they agree
    with each other exactly; PR-AUC is average precision.
    """
    target = target.long()
    c = confusion_counts(probs, target, threshold)
    out = {k: float(v) for k, v in counts_to_metrics(**c).items()}
    has_both = bool(target.min() < 1 <= target.max())
    out["pr_auc"] = float(binary_average_precision(probs, target)) if has_both else float("nan")
    out["roc_auc"] = float(binary_auroc(probs, target)) if has_both else float("nan")
    return out
