"""Features fitted on the training split: impute, scale, category codes for the samplers,
one-hot columns for the network."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from imbalance_lab.errors import ConfigError

SCALERS = ("standard", "minmax", "none", None)


def fit_scaler(
    X_train: np.ndarray, kind: str, drop_constant: bool = True, required: bool = True
) -> Callable[[np.ndarray], np.ndarray]:
    """Fit on train only. Columns constant in train are dropped: they carry nothing to learn, and
    scaling them turns any other value in val/test into a huge number (z-scores near 1e9 on
    KEEL's kddcup sets). ``drop_constant=False`` keeps them (pixels of an image)."""
    keep = np.ptp(X_train, axis=0) > 0 if drop_constant else np.ones(X_train.shape[1], bool)
    if required and not keep.any():
        raise ConfigError("every feature is constant in the training split; nothing to learn.")
    if kind == "standard":
        scaler: Any = StandardScaler().fit(X_train[:, keep]) if keep.any() else None
    elif kind == "minmax":
        scaler = MinMaxScaler().fit(X_train[:, keep]) if keep.any() else None
    elif kind in ("none", None):
        scaler = None
    else:
        raise ConfigError(f"data.scaler={kind!r} is unknown; use standard, minmax or none.")

    def transform(X: np.ndarray) -> np.ndarray:
        X = X[:, keep]
        return (scaler.transform(X) if scaler is not None else X).astype(np.float32)

    transform.n_dropped = int((~keep).sum())  # type: ignore[attr-defined]
    return transform


class FeatureTransform:
    """Fitted on the train split: impute NaNs, scale the numeric columns and put the categorical
    codes after them (:meth:`prepare`, what samplers see), then one-hot encode the codes
    (:meth:`encode`, what the network sees; categories unseen in train encode as all zeros)."""

    def __init__(
        self,
        X_train: np.ndarray,
        scaler: str,
        categorical: Sequence[int] = (),
        impute: str | None = None,
        drop_constant: bool = True,
    ) -> None:
        self.cat = list(categorical)
        self.num = [c for c in range(X_train.shape[1]) if c not in set(self.cat)]
        self.imputers: dict[str, Any] = {}
        if impute is not None:
            if impute not in ("median", "most_frequent"):
                raise ConfigError(
                    f"data.impute={impute!r} is unknown; use median or most_frequent."
                )
            for part, strategy in (("num", impute), ("cat", "most_frequent")):
                if getattr(self, part):
                    imputer = SimpleImputer(strategy=strategy, keep_empty_features=True)
                    self.imputers[part] = imputer.fit(X_train[:, getattr(self, part)])
        num, codes = self._impute(X_train)
        self.scale = (
            fit_scaler(num, scaler, drop_constant, required=not self.cat) if self.num else None
        )
        self.n_dropped = self.scale.n_dropped if self.scale else 0  # type: ignore[attr-defined]
        n_num = len(self.num) - self.n_dropped
        # Indices of the code columns in the prepared layout, for SMOTENC.
        self.sampler_categorical = list(range(n_num, n_num + len(self.cat)))
        self.valid_codes = [np.unique(codes[:, j]) for j in range(len(self.cat))]
        self.encoder = None
        if self.cat:
            self.encoder = OneHotEncoder(
                handle_unknown="ignore", sparse_output=False, dtype=np.float32
            ).fit(codes)

    def _impute(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = {"num": X[:, self.num], "cat": X[:, self.cat]}
        for part, imputer in self.imputers.items():
            parts[part] = imputer.transform(parts[part])
        return parts["num"], parts["cat"]

    def prepare(self, X: np.ndarray) -> np.ndarray:
        num, codes = self._impute(X)
        num = self.scale(num) if self.scale else num
        return np.concatenate([num, codes], axis=1).astype(np.float32)

    def encode(self, X: np.ndarray) -> np.ndarray:
        if self.encoder is None:
            return X
        n_num = X.shape[1] - len(self.cat)
        return np.concatenate([X[:, :n_num], self.encoder.transform(X[:, n_num:])], axis=1)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.encode(self.prepare(X))
