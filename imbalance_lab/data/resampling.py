"""An imbalanced-learn sampler applied to the training split, with errors a user can act on."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from imbalance_lab.errors import ConfigError

log = logging.getLogger(__name__)

# Samplers whose neighbour search runs among the minority rows, and how many rows beyond the
# neighbour count each needs: SMOTE-style interpolation needs k neighbours besides the row
# itself; NearMiss looks up k minority neighbours of each majority row. Cleaning samplers (ENN,
# AllKNN, ...) search all rows and need no such check.
_MINORITY_SEARCH = {
    "SMOTE": 1,
    "BorderlineSMOTE": 1,
    "SVMSMOTE": 1,
    "KMeansSMOTE": 1,
    "SMOTENC": 1,
    "SMOTEN": 1,
    "ADASYN": 1,
    "NearMiss": 0,
}


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
    """The sampler's class and its JSON-friendly parameters, for metrics.json; a nested sampler
    (SMOTEENN's ``smote``) by its class name."""
    plain = (int, float, str, bool, type(None))
    params = {}
    for k, v in sampler.get_params(deep=False).items():
        if isinstance(v, plain):
            params[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(i, plain) for i in v):
            params[k] = list(v)
        elif hasattr(v, "get_params"):
            params[k] = type(v).__name__
    return {"class": type(sampler).__name__, "params": params}


def _nominal_smote(params: dict[str, Any], categorical: list[int], n_features: int) -> Any:
    from imblearn.over_sampling import SMOTEN, SMOTENC

    keep = {k: params[k] for k in ("sampling_strategy", "k_neighbors", "random_state")}
    if len(categorical) == n_features:
        return SMOTEN(**keep)
    return SMOTENC(categorical_features=list(categorical), **keep)


def adapt_sampler(sampler: Any, categorical: Sequence[int], n_features: int) -> Any:
    """SMOTE for data with categorical code columns: SMOTENC (SMOTEN when every column is
    categorical), also as the SMOTE step of SMOTEENN / SMOTETomek. SMOTE itself would
    interpolate the codes into categories that do not exist. Other samplers are returned as
    they are (:func:`check_category_codes` catches those that invent codes)."""
    from imblearn.combine import SMOTEENN, SMOTETomek
    from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC
    from sklearn.base import clone

    categorical = list(categorical)
    # sampler=smotenc / smoten name the nominal samplers outright; the columns come from here.
    if type(sampler) is SMOTENC:
        if not categorical or len(categorical) == n_features:
            raise ConfigError(
                "sampler=smotenc needs numeric and categorical columns; this data has "
                f"{len(categorical)} categorical of {n_features}. Use sampler=smote (it becomes "
                "SMOTEN when every column is categorical) or list columns in data.categorical."
            )
        return clone(sampler).set_params(categorical_features=categorical)
    if type(sampler) is SMOTEN and len(categorical) != n_features:
        raise ConfigError(
            f"sampler=smoten needs every column categorical; {n_features - len(categorical)} of "
            f"{n_features} are numeric. Use sampler=smotenc or sampler=smote."
        )
    if sampler is None or not categorical:
        return sampler
    if type(sampler) is SMOTE:
        new = _nominal_smote(sampler.get_params(), categorical, n_features)
        outer = None
    elif isinstance(sampler, (SMOTEENN, SMOTETomek)) and type(sampler.smote) in (SMOTE, type(None)):
        # Without its own smote, SMOTEENN builds SMOTE(sampling_strategy, random_state).
        params = {
            "sampling_strategy": sampler.sampling_strategy,
            "k_neighbors": 5,
            "random_state": sampler.random_state,
        }
        if sampler.smote is not None:
            params = sampler.smote.get_params()
        outer = clone(sampler)
        new = _nominal_smote(params, categorical, n_features)
        outer.set_params(smote=new)
    else:
        return sampler
    p = new.get_params()
    log.info(
        "the data has %d categorical column(s): %s replaced by %s (sampling_strategy=%s, "
        "k_neighbors=%s, random_state=%s), which keeps synthetic rows on existing categories",
        len(categorical),
        "the SMOTE step of " + type(sampler).__name__ if outer is not None else "SMOTE",
        type(new).__name__,
        p["sampling_strategy"],
        p["k_neighbors"],
        p["random_state"],
    )
    return new if outer is None else outer


def check_category_codes(
    sampler: Any,
    X: np.ndarray,
    categorical: Sequence[int],
    valid: Sequence[np.ndarray],
    names: Sequence[str],
) -> None:
    """Fail when a sampler left category codes that do not exist (an interpolating sampler)."""
    bad = [
        name
        for c, codes, name in zip(categorical, valid, names, strict=True)
        if not np.isin(X[:, c], codes).all()
    ]
    if bad:
        raise ConfigError(
            f"{type(sampler).__name__} synthesised rows with category codes that do not exist in "
            f"the categorical columns {', '.join(bad)}: it interpolates or averages every "
            "column. With categorical columns use sampler=smote (run as SMOTENC), smote_enn, "
            "smote_tomek, random_over or an under-sampler, or list only the true categories in "
            "data.categorical."
        )


_NEIGHBOUR_PARAMS = ("k_neighbors", "n_neighbors", "m_neighbors", "n_neighbors_ver3")


def _steps(sampler: Any, setting: str = "sampler") -> list[tuple[str, Any]]:
    """The sampler and the samplers nested in it (SMOTEENN's ``smote``), each with the setting
    that configures it (``sampler``, ``sampler.smote``)."""
    steps = [(setting, sampler)]
    for key, value in sampler.get_params(deep=False).items():
        if hasattr(value, "fit_resample"):
            steps += _steps(value, f"{setting}.{key}")
    return steps


def neighbour_settings(sampler: Any) -> list[str]:
    """The settings of ``sampler`` (nested samplers included) that set a neighbour count, e.g.
    ``["sampler.smote.k_neighbors"]`` for SMOTETomek: the ones an error may tell a user to lower."""
    return [
        f"{setting}.{name}"
        for setting, step in _steps(sampler)
        for name, value in step.get_params(deep=False).items()
        if name in _NEIGHBOUR_PARAMS and isinstance(value, int)
    ]


def _check_neighbours(sampler: Any, n_minority: int) -> None:
    """Fail before imblearn's cryptic 'Expected n_neighbors <= n_samples_fit', naming the
    setting to lower, nested steps included (``sampler.smote.k_neighbors`` of SMOTETomek)."""
    for setting, step in _steps(sampler):
        params = step.get_params(deep=False)
        cls = type(step).__name__
        # By class or imblearn base class (the project's drop-in samplers subclass imblearn's).
        bases = [b.__name__ for b in type(step).__mro__]
        extra = next((_MINORITY_SEARCH[b] for b in bases if b in _MINORITY_SEARCH), None)
        if extra is None:
            continue
        for name in ("k_neighbors", "n_neighbors"):
            k = params.get(name)
            if not isinstance(k, int):
                continue
            need = k + extra
            if n_minority < need:
                what = cls if step is sampler else f"the {cls} step of {type(sampler).__name__}"
                raise ConfigError(
                    f"{what} needs at least {need} minority rows in the training split "
                    f"({setting}.{name}={k}), but the split holds {n_minority}. Lower "
                    f"{setting}.{name} to at most {max(n_minority - extra, 1)}, use a larger "
                    "dataset or train fraction, or choose a sampler without neighbours "
                    "(sampler=random_over)."
                )


def _check_sampling_strategy(sampler: Any, y: np.ndarray) -> None:
    """imblearn's own check of each step's ``sampling_strategy`` against the training labels
    (a ratio, or per-class counts: ``{0: 100000}`` asks an under-sampler for more rows than
    there are), raised before the sampler runs, naming the setting."""
    from imblearn.utils import check_sampling_strategy

    for setting, step in _steps(sampler):
        kind = getattr(step, "_sampling_type", "bypass")
        strategy = getattr(step, "sampling_strategy", None)
        if kind == "bypass" or strategy is None:
            continue
        try:
            check_sampling_strategy(strategy, y, kind)
        except ValueError as err:
            raise ConfigError(
                f"{type(step).__name__}: {err} Change {setting}.sampling_strategy."
            ) from err


def resample(sampler: Any, X: np.ndarray, y: np.ndarray) -> ResampleResult:
    """Run ``sampler.fit_resample`` on training data, translating imblearn's failures."""
    n_minority = int((y == 1).sum())
    _check_sampling_strategy(sampler, y)
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
            settings = " / ".join(neighbour_settings(sampler))
            advice = f"Lower {settings}" if settings else "Choose another sampler"
            raise ConfigError(
                f"{cls}: too few rows for its neighbour search ({n_minority} minority rows in "
                f"the training split). {advice}, or use more data."
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
