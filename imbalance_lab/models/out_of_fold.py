"""Out-of-fold decisions (``threshold=oof``): the decision threshold chosen on the pooled
out-of-fold probabilities of an inner cross-validation, not on one small validation split.

A KEEL validation split holds 6-18 positives, so a threshold tuned on it is noisy. Here every
row that is not test (the run's training and validation splits together) is out of fold once:
``threshold.folds`` inner models each train on the other folds, resampled by the run's sampler
inside that inner training part only, with their own held-out fold as validation (early stopping
and best checkpoint). The threshold maximising ``threshold.metric`` on the pooled out-of-fold
probabilities of all of them is then applied to test, scored by the **average of the k inner
models' probabilities**, not by a refit on all rows: the threshold was chosen on the scores of
models of exactly this kind (trained on (k-1)/k of the rows, stopped on a held-out fold), a
refit would move the score distribution under the threshold (more rows, another stopping
epoch), and it would cost one training more. Cross-validation with the fold models averaged
("cross-validation bagging"): Krogh & Vedelsby 1995; threshold from out-of-fold predictions:
Lipton et al. 2014, "Thresholding Classifiers to Maximize F1 Score".
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from omegaconf import DictConfig
from sklearn.model_selection import StratifiedKFold

from imbalance_lab.data.resampling import class_counts
from imbalance_lab.errors import ConfigError
from imbalance_lab.models.networks import ProbabilityAverage, predict_probs

log = logging.getLogger(__name__)


def inner_folds(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(training rows, out-of-fold rows)`` of a stratified ``folds``-fold split of labels ``y``
    (shape ``(n,)``), shuffled by ``seed`` (scikit-learn's ``StratifiedKFold``). Every row is
    out of fold exactly once.

    Raises ``ConfigError`` naming ``threshold.folds`` when it is below 2 or above the number of
    positives (a fold without a positive cannot stop early on PR-AUC).
    """
    n_pos = int((np.asarray(y) == 1).sum())
    if not (isinstance(folds, int) and 2 <= folds <= max(n_pos, 2)):
        raise ConfigError(
            f"threshold.folds={folds!r} must be a whole number from 2 to the {n_pos} positives "
            "outside test; lower threshold.folds or use threshold=tuned."
        )
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(split.split(np.zeros((len(y), 1)), y))


class AveragedEstimator:
    """Scikit-learn classifiers whose ``predict_proba`` outputs are averaged, ``(n, 2)``."""

    def __init__(self, estimators: list[Any]) -> None:
        self.estimators = estimators

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.mean([e.predict_proba(X) for e in self.estimators], axis=0)


def fit_out_of_fold(cfg: DictConfig, dm: Any, fit_one: Callable[[DictConfig, Any], Any]) -> Any:
    """Fit ``cfg.threshold.folds`` inner models with ``fit_one`` (``pipeline.fit_network`` or
    ``fit_estimator``) on folds of every non-test row of ``dm``; returns the last one's
    ``Fitted`` whose ``predict`` and ``model`` average all of them and whose ``oof`` holds the
    pooled ``(out-of-fold probabilities, labels)``, shapes ``(n_train + n_val,)``.
    """
    X_parts, y_parts = zip(*(dm.prepared[s] for s in ("train", "val")), strict=True)
    X, y = np.concatenate(X_parts), np.concatenate(y_parts)
    folds = inner_folds(y, cfg.threshold.folds, int(cfg.seed))
    encode = dm.features.encode
    oof = np.full(len(y), np.nan, dtype=np.float32)
    fits = []
    dm.resample_seconds = 0.0  # the inner training parts' resampling (the split's is skipped)
    inner_counts: list[dict[str, int]] = []
    start = time.perf_counter()
    for k, (train_rows, held_rows) in enumerate(folds):
        X_train, y_train = X[train_rows], y[train_rows]
        if dm.sampler is not None:  # resampled inside the inner training part only
            X_train, y_train, seconds, _ = dm.resample(X_train, y_train)
            dm.resample_seconds += seconds
        inner_counts.append(class_counts(y_train))
        log.info(
            "out-of-fold model %d/%d: %d training rows, %d held out",
            k + 1,
            len(folds),
            len(y_train),
            len(held_rows),
        )
        member = copy.copy(dm)
        held = (encode(X[held_rows]), y[held_rows])
        member.splits = {**dm.splits, "train": (encode(X_train), y_train), "val": held}
        member.counts = {**dm.counts, "train": class_counts(y_train), "val": class_counts(held[1])}
        member.seed = int(cfg.seed) + k
        fitted = fit_one(cfg, member)
        oof[held_rows] = fitted.predict(held[0])
        fits.append(fitted)
    last = fits[-1]
    if "estimator" not in cfg.model:
        ensemble = ProbabilityAverage([f.model for f in fits]).eval()
        last.model = ensemble
        last.predict = lambda rows: predict_probs(ensemble, rows)
    else:
        averaged = AveragedEstimator([f.model for f in fits])
        last.model = averaged
        last.predict = lambda rows: averaged.predict_proba(rows)[:, 1].astype(np.float32)
    last.train_seconds = time.perf_counter() - start
    last.epochs = max((f.epochs or 0 for f in fits), default=None) or None
    last.best_checkpoint = ""
    last.best_epoch = None
    last.oof = (oof, y)
    # What the models trained on: the inner training parts (resampled), their mean as "train".
    dm.counts["train_folds"] = inner_counts
    dm.counts["train"] = {
        c: round(float(np.mean([n.get(c, 0) for n in inner_counts]))) for c in ("0", "1")
    }
    return last
