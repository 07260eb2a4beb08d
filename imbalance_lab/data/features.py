"""Features fitted on the training split: impute, scale, category codes for the samplers,
one-hot columns for the network. scikit-learn fits them; their fitted values are kept as plain
arrays (:class:`~imbalance_lab.bundle.features.FittedFeatures`), which apply them here and in a
model bundle alike.

One-hot columns are dense float32 rows x levels, so a categorical column keeps at most
``data.max_categories`` of them: its most frequent levels in train, and one "other" column for
the rest (scikit-learn's ``max_categories`` grouping). Memory then grows with the rows, never
with rows x levels (a 24,000-level id column cost 7 GB at 40k rows before the cap).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    QuantileTransformer,
    StandardScaler,
)

from imbalance_lab.bundle.features import FittedFeatures
from imbalance_lab.errors import ConfigError

SCALERS = ("standard", "minmax", "quantile", "none", None)


def quantile_count(rows: int) -> int:
    """Quantiles of ``data.scaler=quantile`` for ``rows`` training rows: one per 30 rows, from
    10 to 1000, the rule of Gorishniy et al. 2021 ("Revisiting Deep Learning Models for Tabular
    Data") for small tables, where 1000 quantiles of a few hundred rows would map each row to
    its own step."""
    return max(min(rows // 30, 1000), 10)


class FittedScaler:
    """Columns kept (``keep``, bool per column) and the scaler fitted on them; called on rows x
    columns it returns rows x kept columns, float32. A class, not a closure, so a data module
    that holds one can be pickled (``trainer=ddp`` spawns its workers that way)."""

    def __init__(self, keep: np.ndarray, scaler: Any) -> None:
        self.keep, self.scaler = keep, scaler
        self.n_dropped = int((~keep).sum())

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = X[:, self.keep]
        return (self.scaler.transform(X) if self.scaler is not None else X).astype(np.float32)


# One-hot columns per categorical column, "other" included (data.max_categories).
MAX_CATEGORIES = 50


def check_max_categories(value: object) -> int:
    """``data.max_categories`` as an int >= 2, or a ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ConfigError(
            f"data.max_categories={value!r} must be a whole number >= 2 (one-hot columns per "
            "categorical column, the 'other' column included)."
        )
    return value


def fit_scaler(
    X_train: np.ndarray, kind: str, drop_constant: bool = True, required: bool = True
) -> FittedScaler:
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
    elif kind == "quantile":  # ranks mapped to a standard normal: robust to heavy tails
        n_quantiles = min(quantile_count(len(X_train)), len(X_train))
        scaler = QuantileTransformer(
            n_quantiles=n_quantiles, output_distribution="normal", subsample=None
        )
        scaler = scaler.fit(X_train[:, keep]) if keep.any() else None
    elif kind in ("none", None):
        scaler = None
    else:
        raise ConfigError(
            f"data.scaler={kind!r} is unknown; use standard, minmax, quantile or none."
        )
    return FittedScaler(keep, scaler)


class FeatureTransform:
    """Fitted on the train split: impute NaNs, scale the numeric columns and put the categorical
    codes after them (:meth:`prepare`, what samplers see), then one-hot encode the codes
    (:meth:`encode`, what the network sees; categories unseen in train encode as all zeros).

    A categorical column with more than ``max_categories`` levels in train keeps its
    ``max_categories - 1`` most frequent ones and one "other" column for the rest, unseen ones
    included (``grouped``: column position in ``categorical`` -> (levels in train, kept)).
    """

    def __init__(
        self,
        X_train: np.ndarray,
        scaler: str,
        categorical: Sequence[int] = (),
        impute: str | None = None,
        drop_constant: bool = True,
        max_categories: int = MAX_CATEGORIES,
    ) -> None:
        max_categories = check_max_categories(max_categories)
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
        parts = {"num": X_train[:, self.num], "cat": X_train[:, self.cat]}
        for part, imputer in self.imputers.items():
            parts[part] = imputer.transform(parts[part])
        num, codes = parts["num"], parts["cat"]
        self.scale = (
            fit_scaler(num, scaler, drop_constant, required=not self.cat) if self.num else None
        )
        self.n_dropped = self.scale.n_dropped if self.scale else 0
        n_num = len(self.num) - self.n_dropped
        # Indices of the code columns in the prepared layout, for SMOTENC.
        self.sampler_categorical = list(range(n_num, n_num + len(self.cat)))
        self.valid_codes = [np.unique(codes[:, j]) for j in range(len(self.cat))]
        self.encoder = None
        self.grouped: dict[int, tuple[int, int]] = {}
        if self.cat:
            self.encoder = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=max_categories,
                sparse_output=False,
                dtype=np.float32,
            ).fit(codes)
            for j, rare in enumerate(self.encoder.infrequent_categories_):
                if rare is not None:
                    levels = len(self.encoder.categories_[j])
                    self.grouped[j] = (levels, levels - len(rare))
        self.fitted = self._fitted()

    def _fitted(self) -> FittedFeatures:
        """The fitted values as plain arrays (what prepare/encode and a model bundle apply)."""
        fill = {part: imputer.statistics_ for part, imputer in self.imputers.items()}
        scaler = getattr(self.scale, "scaler", None)
        kind, offset, factor = "none", None, None
        if isinstance(scaler, StandardScaler):
            kind, offset, factor = "standard", scaler.mean_, scaler.scale_
        elif isinstance(scaler, MinMaxScaler):
            kind, offset, factor = "minmax", scaler.min_, scaler.scale_
        elif isinstance(scaler, QuantileTransformer):  # quantiles per column, their normal scores
            kind, offset, factor = "quantile", scaler.quantiles_, scaler.references_
        return FittedFeatures(
            num=self.num,
            cat=self.cat,
            fill_num=fill.get("num"),
            fill_cat=fill.get("cat"),
            keep=self.scale.keep if self.scale else np.zeros(0, bool),
            scaler=kind,
            offset=offset,
            factor=factor,
            categories=[
                np.setdiff1d(cats, rare) if rare is not None else cats
                for cats, rare in zip(*self._levels(), strict=True)
            ],
            other=[rare is not None for rare in self._levels()[1]],
        )

    def _levels(self) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """Per categorical column: the levels seen in train and the rare ones (or None)."""
        if self.encoder is None:
            return [], []
        return list(self.encoder.categories_), list(self.encoder.infrequent_categories_)

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """See :meth:`FittedFeatures.prepare`: raw ``(n, n_columns)`` -> imputed and scaled
        numeric columns with category codes, float32, as the samplers see rows."""
        return self.fitted.prepare(X)

    def encode(self, X: np.ndarray) -> np.ndarray:
        """See :meth:`FittedFeatures.encode`: prepared rows -> the network's input, category
        codes one-hot encoded, float32 ``(n, n_features)``."""
        return self.fitted.encode(X)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.fitted(X)
