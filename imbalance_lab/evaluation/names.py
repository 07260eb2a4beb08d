"""The metric names, apart from the code that computes them: what a setting may name
(``threshold.metric``, ``callbacks.monitor``), importable without torch.
:mod:`imbalance_lab.evaluation.metrics` and :mod:`imbalance_lab.evaluation.threshold` re-export
them."""

from __future__ import annotations

THRESHOLD_METRICS = ("acc", "precision", "recall", "f1")
RANKING_METRICS = ("pr_auc", "roc_auc")
BALANCED_METRICS = ("mcc", "balanced_acc", "g_mean")
ALL_METRICS = THRESHOLD_METRICS + RANKING_METRICS + BALANCED_METRICS

# What a decision threshold can be tuned for (threshold.metric).
TUNABLE = ("f1", "mcc", "balanced_acc", "g_mean")

# What the LightningModule logs, and so what callbacks.monitor may watch.
MONITORABLE = (
    *(f"val/{m}" for m in (*THRESHOLD_METRICS, *RANKING_METRICS, "loss")),
    *(f"train/{m}" for m in (*THRESHOLD_METRICS, "loss")),
)
