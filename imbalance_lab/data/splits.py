"""Train/validation/test splits, stratified, or a fold of a repeated stratified k-fold; and
the check of their settings, which needs no data."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

from imbalance_lab.data.resampling import class_counts
from imbalance_lab.errors import ConfigError

Split = tuple[np.ndarray, np.ndarray]


def is_whole(value: Any) -> bool:
    """Whether a setting is a whole number (an int, not a bool or a float)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_split_settings(
    val_size: float,
    test_size: float,
    folds: int | None = None,
    fold: int = 0,
    repeat: int = 0,
) -> None:
    """Refuse split settings no data can satisfy, naming the setting; with ``folds`` the test
    share is ``1 / folds``, so the folds are checked first and ``test_size`` is not used."""
    if folds is not None:
        if not is_whole(folds) or folds < 2:
            raise ConfigError(
                f"data.folds={folds} must be a whole number >= 2 (or null for a plain "
                "train/val/test split); set data.folds=5, say."
            )
        if not is_whole(fold) or not 0 <= fold < folds:
            raise ConfigError(
                f"data.fold={fold} must be one of 0..{folds - 1} (data.folds={folds})."
            )
        if not is_whole(repeat) or repeat < 0:
            raise ConfigError(f"data.repeat={repeat} must be a whole number >= 0.")
        if not (0 < val_size < 1 - 1 / folds):
            raise ConfigError(
                f"data.val_size={val_size} must lie in (0, {1 - 1 / folds:g}): the test fold "
                f"takes 1/{folds} of the rows (data.folds={folds})."
            )
        return
    for name, value in (("val_size", val_size), ("test_size", test_size)):
        if not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ConfigError(f"data.{name}={value} must lie in (0, 1), a fraction of all rows.")
    if val_size + test_size >= 1:
        raise ConfigError(
            f"data.val_size={val_size} and data.test_size={test_size} must sum to below 1 "
            "(train gets the rest); lower one of them."
        )


def _test_fold(
    y: np.ndarray, folds: int, fold: int, repeat: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, test) of fold ``fold`` of repetition ``repeat`` of a stratified k-fold."""
    if int((y == 1).sum()) < folds:
        raise ConfigError(
            f"the data holds {int((y == 1).sum())} positive rows, fewer than data.folds={folds}; "
            "lower data.folds."
        )
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeat + 1, random_state=seed)
    rest, test = next(itertools.islice(cv.split(np.zeros(len(y)), y), repeat * folds + fold, None))
    return rest, test


def split_data(
    X: np.ndarray,
    y: np.ndarray,
    val_size: float,
    test_size: float,
    seed: int,
    folds: int | None = None,
    fold: int = 0,
    repeat: int = 0,
) -> tuple[Split, Split, Split]:
    """Stratified train/val/test split; every split must hold both classes.

    With ``folds``, test is fold ``fold`` of a stratified k-fold (repetition ``repeat``, both
    seeded), and the rest is split again into train and val; ``test_size`` is then unused.
    """
    check_split_settings(val_size, test_size, folds, fold, repeat)
    if folds is not None:
        test_size = 1 / folds
    n_pos = int((y == 1).sum())
    # Each split needs a positive row, train at least two (a sampler needs pairs).
    need = {
        "train": 2 / (1 - val_size - test_size),
        "val": 1 / val_size,
        "test": 1 / test_size,
    }
    short = {k: int(np.ceil(v - 1e-9)) for k, v in need.items() if n_pos < v - 1e-9}
    if short:
        raise ConfigError(
            f"the data holds {n_pos} positive rows, too few for a stratified split with "
            f"data.val_size={val_size}, data.test_size={test_size}: "
            + ", ".join(f"{k} needs >= {v} positives in all" for k, v in short.items())
            + ". Use larger data.val_size/data.test_size or more data."
        )
    if folds is not None:
        rest, test = _test_fold(y, folds, fold, repeat, seed)
        X_rest, X_test, y_rest, y_test = X[rest], X[test], y[rest], y[test]
    else:
        X_rest, X_test, y_rest, y_test = train_test_split(
            X, y, test_size=test_size, stratify=y, random_state=seed
        )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_size / (1 - test_size), stratify=y_rest, random_state=seed
    )
    for name, part in (("train", y_train), ("val", y_val), ("test", y_test)):
        if len(np.unique(part)) < 2:
            raise ConfigError(
                f"the {name} split holds a single class ({class_counts(part)}). "
                "Change data.val_size/data.test_size or use more data."
            )
    return (X_train, y_train), (X_val, y_val), (X_test, y_test)
