"""Network ensembles whose members' probabilities are averaged before the threshold is chosen.

``model=underbagging`` (``model.subsample: balanced``): EasyEnsemble's idea (Liu, Wu & Zhou
2009) with a network as the member. Each of ``model.members`` networks trains on its own
balanced random under-sample of the training split (every positive, as many negatives drawn
without replacement). Under-bagging for networks: Wallace et al. 2011, "Class Imbalance, Redux".

``model=deep_ensemble`` (``model.subsample: none``): each member trains on the whole training
split, apart only in its initial weights and batch order (Lakshminarayanan, Pritzel & Blundell
2017, "Simple and Scalable Predictive Uncertainty Estimation using Deep Ensembles").

Every member has the same validation split for its early stopping and best checkpoint; the
members' probabilities are averaged (:class:`~imbalance_lab.models.networks.ProbabilityAverage`)
before the threshold is chosen on validation.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from imblearn.under_sampling import RandomUnderSampler
from omegaconf import DictConfig

from imbalance_lab.data.resampling import class_counts
from imbalance_lab.errors import ConfigError
from imbalance_lab.models.networks import ProbabilityAverage, predict_probs

log = logging.getLogger(__name__)


def balanced_subsets(y: np.ndarray, members: int, seed: int) -> list[np.ndarray]:
    """Row indices of ``members`` balanced random under-samples of labels ``y`` (shape ``(n,)``),
    each drawn by imblearn's ``RandomUnderSampler`` with its own seed spawned from ``seed``.

    Raises ``ConfigError`` when ``members < 1`` or ``y`` lacks a class.
    """
    if members < 1:
        raise ConfigError(f"model.members={members} must be at least 1.")
    if len(np.unique(y)) < 2:
        raise ConfigError("model=underbagging needs both classes in the training split.")
    seeds = np.random.SeedSequence(seed).generate_state(members)
    X_index = np.arange(len(y))[:, None]
    out = []
    for s in seeds:
        sampler = RandomUnderSampler(sampling_strategy="majority", random_state=int(s))
        sampler.fit_resample(X_index, y)
        out.append(np.sort(sampler.sample_indices_))
    return out


def fit_underbagging(cfg: DictConfig, dm: Any, fit_one: Callable[[DictConfig, Any], Any]) -> Any:
    """Train ``cfg.model.members`` networks with ``fit_one`` (``pipeline.fit_network``), each on
    a copy of the data module whose training split is one balanced subset
    (``model.subsample: balanced``) or the whole split (``none``), its batch order seeded apart
    and its batch size ``cfg.model.batch_size`` or the data's; returns ``fit_one``'s ``Fitted``
    whose model averages the members.

    Raises ``ConfigError`` naming ``model.subsample`` for another value."""
    X, y = dm.splits["train"]
    fits = []
    start = time.perf_counter()
    members, subsample = int(cfg.model.members), cfg.model.get("subsample", "balanced")
    subsets: list[Any]  # row indices, or a slice of the whole split
    if subsample == "balanced":
        subsets = balanced_subsets(y, members, int(cfg.seed))
    elif subsample == "none":
        subsets = [slice(None)] * members  # the whole split, not copied
    else:
        raise ConfigError(f"model.subsample={subsample!r} is unknown; use balanced or none.")
    for k, rows in enumerate(subsets):
        log.info("ensemble member %d/%d: %d training rows", k + 1, len(subsets), len(y[rows]))
        member = copy.copy(dm)
        member.splits = {**dm.splits, "train": (X[rows], y[rows])}
        member.counts = {**dm.counts, "train": class_counts(y[rows])}
        member.seed = int(cfg.seed) + k
        member.batch_size = int(cfg.model.get("batch_size") or dm.batch_size)
        fits.append(fit_one(cfg, member))
    ensemble = ProbabilityAverage([f.model for f in fits]).eval()
    last = fits[-1]
    last.model = ensemble
    last.predict = _predictor(ensemble)
    last.train_seconds = time.perf_counter() - start
    last.epochs = max(f.epochs or 0 for f in fits)
    last.best_epoch = None
    last.best_checkpoint = ""
    return last


def _predictor(net: ProbabilityAverage) -> Callable[[np.ndarray], np.ndarray]:
    return lambda X: predict_probs(net, X)
