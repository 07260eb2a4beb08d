"""Apply an imbalanced-learn sampler to the training split, with errors a user can act on."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from imbalance_lab.errors import ConfigError

# Parameters through which imblearn samplers take a neighbour count, and how many minority rows
# each needs: SMOTE-style interpolation needs k neighbours besides the row itself.
_NEIGHBOUR_PARAMS = {"k_neighbors": 1, "n_neighbors": 1}


@dataclass
class ResampleResult:
    X: np.ndarray
    y: np.ndarray
    seconds: float


def class_counts(y: np.ndarray) -> dict[str, int]:
    """Counts of class 0 and class 1 as a JSON-friendly dict."""
    y = np.asarray(y)
    return {"0": int((y == 0).sum()), "1": int((y == 1).sum())}


def describe_sampler(sampler: Any) -> dict[str, Any]:
    """The sampler's class and its JSON-friendly parameters, for metrics.json."""
    params = {
        k: v
        for k, v in sampler.get_params(deep=False).items()
        if isinstance(v, (int, float, str, bool, type(None)))
    }
    return {"class": type(sampler).__name__, "params": params}


def _check_neighbours(sampler: Any, n_minority: int) -> None:
    """Fail before imblearn's cryptic 'Expected n_neighbors <= n_samples_fit'."""
    params = sampler.get_params(deep=False)
    cls = type(sampler).__name__
    # NearMiss searches neighbours among minority rows; SMOTE/ADASYN among minority rows + itself.
    for name, extra in _NEIGHBOUR_PARAMS.items():
        k = params.get(name)
        if not isinstance(k, int):
            continue
        need = k + (0 if cls == "NearMiss" else extra)
        if n_minority < need:
            raise ConfigError(
                f"{cls} needs at least {need} minority rows in the training split "
                f"(sampler.{name}={k}), but the split holds {n_minority}. Lower sampler.{name} "
                f"to at most {max(n_minority - (0 if cls == 'NearMiss' else extra), 1)}, "
                "use a larger dataset or train fraction, or choose a sampler without neighbours "
                "(sampler=random_over)."
            )


def resample(sampler: Any, X: np.ndarray, y: np.ndarray) -> ResampleResult:
    """Run ``sampler.fit_resample`` on training data, translating imblearn's failures."""
    n_minority = int((y == 1).sum())
    _check_neighbours(sampler, n_minority)
    cls = type(sampler).__name__
    start = time.perf_counter()
    try:
        X_res, y_res = sampler.fit_resample(X, y)
    except (ValueError, RuntimeError) as err:
        msg = str(err)
        if "neigbours belong to the majority" in msg or "neighbours belong to the majority" in msg:
            raise ConfigError(
                f"{cls}: no minority row of the training split has a majority neighbour, so "
                "ADASYN has nowhere to generate (the classes are well separated). Choose "
                "another sampler, e.g. sampler=smote or sampler=random_over."
            ) from err
        if "n_neighbors <= n_samples" in msg:
            raise ConfigError(
                f"{cls}: too few rows for its neighbour search ({n_minority} minority rows in "
                "the training split). Lower sampler.k_neighbors / sampler.n_neighbors."
            ) from err
        if "No clusters found" in msg:
            raise ConfigError(
                f"{cls}: no k-means cluster holds enough minority rows. Lower "
                "sampler.cluster_balance_threshold (0 always qualifies) or change "
                "sampler.kmeans_estimator (the number of clusters)."
            ) from err
        if "sampling_strategy" in msg or "ratio" in msg:
            raise ConfigError(f"{cls}: {msg} Change sampler.sampling_strategy.") from err
        raise
    seconds = time.perf_counter() - start
    y_res = np.asarray(y_res).astype(np.int64)
    if len(np.unique(y_res)) < 2:
        raise ConfigError(
            f"{cls} left the training split with a single class ({class_counts(y_res)}). "
            "Change sampler.sampling_strategy or choose another sampler."
        )
    return ResampleResult(np.asarray(X_res, dtype=np.float32), y_res, seconds)
