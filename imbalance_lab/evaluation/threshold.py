"""Decision thresholds chosen on validation data, never on test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.metrics import counts_to_metrics
from imbalance_lab.evaluation.names import TUNABLE

__all__ = ["TUNABLE", "ThresholdChoice", "cross_fitted_metrics", "tune_threshold"]


@dataclass
class ThresholdChoice:
    value: float
    rule: str  # "fixed", "tuned" or "fallback: ..." when the guard kept the fixed value
    val_score: float | None = None


def tune_threshold(
    probs: np.ndarray | torch.Tensor,
    target: np.ndarray | torch.Tensor,
    metric: str = "f1",
    min_positives: int = 10,
    default: float = 0.5,
) -> ThresholdChoice:
    """The threshold among the validation scores that maximises ``metric``.

    Guard: with fewer than ``min_positives`` validation positives the choice overfits a handful
    of rows (a tuned threshold lost 0.1 F1 on test with 3-4 positives), so ``default`` is kept.
    Ties go to the threshold nearest to ``default``.
    """
    if metric not in TUNABLE:
        raise ConfigError(f"threshold.metric={metric!r} is unknown; use one of {TUNABLE}.")
    probs_t = torch.as_tensor(np.asarray(probs), dtype=torch.float32).flatten()
    target_t = torch.as_tensor(np.asarray(target), dtype=torch.float32).flatten()
    n_pos = int(target_t.sum())
    if n_pos < min_positives:
        return ThresholdChoice(
            default, f"fallback: {n_pos} validation positives < threshold.min_positives"
        )
    # Candidates: midpoints between sorted distinct scores, so a threshold separates two scores.
    # Counts for all candidates at once from sorted scores (O(n log n), not one pass per cut).
    p = probs_t.numpy().astype(np.float64)
    y = target_t.numpy() > 0.5
    scores = np.unique(p)
    candidates = np.concatenate([(scores[:-1] + scores[1:]) / 2, [default]])
    pos, neg = np.sort(p[y]), np.sort(p[~y])
    tp = len(pos) - np.searchsorted(pos, candidates, side="right")
    fp = len(neg) - np.searchsorted(neg, candidates, side="right")
    values = counts_to_metrics(tn=len(neg) - fp, fp=fp, fn=len(pos) - tp, tp=tp)[metric]
    best_score = values.max()
    ties = np.flatnonzero(values >= best_score - 1e-12)
    best = candidates[ties[np.argmin(np.abs(candidates[ties] - default))]]
    return ThresholdChoice(float(best), "tuned", float(best_score))


def cross_fitted_metrics(
    probs: np.ndarray,
    target: np.ndarray,
    choose: Callable[[np.ndarray, np.ndarray], float],
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """The threshold rule ``choose`` scored on rows it did not choose on (cross-fitting).

    The validation rows (``probs``, ``target``: shape ``(n,)``, probabilities and 0/1 labels)
    are split into ``folds`` stratified parts; each part is classified at the threshold that
    ``choose(probs, target)`` returns for the other parts, and the confusion counts of all
    parts are pooled into the threshold metrics (acc, precision, recall, F1, MCC, balanced
    accuracy, G-mean, majority recall), averaged over ``repeats`` shufflings. Scored on the
    rows it was tuned on, a tuned threshold looks better than it will do on new rows, and by
    more the noisier the model's scores; this estimate has no such bias, so configurations
    can be compared on it (what ``selection.md`` chooses on). Cross-fitting: Chernozhukov et
    al. 2018; a threshold tuned for F1 on few positives: Lipton et al. 2014.

    With fewer positives or negatives than 2, no split is possible: the rows are scored at
    ``choose``'s threshold for all of them. Returns floats keyed by metric name.
    """
    from sklearn.model_selection import StratifiedKFold

    p = np.asarray(probs, dtype=np.float64).ravel()
    y = np.asarray(target).ravel() > 0.5
    n_pos = int(y.sum())
    k = min(folds, n_pos, len(y) - n_pos)
    # (rows the threshold is chosen on, rows scored at it) for each part of each shuffling
    if k < 2:
        parts = [[(np.arange(len(y)), np.arange(len(y)))]]
    else:
        parts = [
            list(StratifiedKFold(k, shuffle=True, random_state=seed + r).split(p[:, None], y))
            for r in range(repeats)
        ]
    scores = []
    for shuffling in parts:
        tp = fp = 0
        for chosen_on, scored in shuffling:
            # Positive above the threshold, as torchmetrics and the run's own metrics classify.
            pred = p[scored] > choose(p[chosen_on], y[chosen_on].astype(int))
            tp += int((pred & y[scored]).sum())
            fp += int((pred & ~y[scored]).sum())
        scores.append(counts_to_metrics(tn=len(y) - n_pos - fp, fp=fp, fn=n_pos - tp, tp=tp))
    return {m: float(np.mean([s[m] for s in scores])) for m in scores[0]}
