"""The fitted feature pipeline as plain arrays: what a bundle stores and what both training and
scoring apply, so a bundle turns rows into exactly the features the run evaluated.

scikit-learn fits the imputer, scaler and one-hot encoder (``data/features.py``); their fitted
values are copied here and applied with the same numpy operations scikit-learn performs (same
dtypes, same order), so the outputs agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _array(value: Any) -> dict[str, Any]:
    a = np.asarray(value)
    # float32 values written as float64 text read back exactly (every float32 is a float64).
    return {"dtype": str(a.dtype), "values": a.astype(np.float64).tolist()}


def _from(data: dict[str, Any]) -> np.ndarray:
    return np.asarray(data["values"], dtype=np.float64).astype(data["dtype"])


def _quantile_transformer(quantiles: np.ndarray, references: np.ndarray) -> Any:
    """scikit-learn's fitted ``QuantileTransformer(output_distribution="normal")`` rebuilt from
    its arrays, so the bundle applies the library's own interpolation (no hand-written copy)."""
    from sklearn.preprocessing import QuantileTransformer

    qt = QuantileTransformer(n_quantiles=len(references), output_distribution="normal")
    qt.quantiles_, qt.references_ = np.asarray(quantiles), np.asarray(references)
    qt.n_quantiles_, qt.n_features_in_ = len(references), qt.quantiles_.shape[1]
    return qt


@dataclass
class FittedFeatures:
    """Raw feature rows ``(n, n_raw)`` (numeric values, categorical codes, NaN where missing)
    -> network inputs ``(n, n_out)`` float32.

    ``num``/``cat``: raw column indices of the numeric and categorical columns.
    ``fill_num``/``fill_cat``: imputed values per column (``None``: no imputation).
    ``keep``: numeric columns kept (constant ones in train are dropped), bool ``(len(num),)``.
    ``scaler``: ``standard`` (``(x - offset) / factor``), ``minmax`` (``x * factor + offset``),
    ``quantile`` (scikit-learn's ``QuantileTransformer`` to a normal distribution, ``offset``
    its ``quantiles_`` ``(n_quantiles, n_kept)``, ``factor`` its ``references_``
    ``(n_quantiles,)``) or ``none``, on the kept columns. ``categories``: per categorical
    column, the codes that get a one-hot column each (all codes seen in train, or the most
    frequent ones when the column had more than ``data.max_categories`` levels). ``other``:
    per categorical column, whether one more column, last in its block, holds every other code
    (rare in train or unseen), as scikit-learn's
    ``OneHotEncoder(max_categories=..., handle_unknown="infrequent_if_exist")``; without it any
    other code encodes as all zeros.
    """

    num: list[int]
    cat: list[int]
    fill_num: np.ndarray | None
    fill_cat: np.ndarray | None
    keep: np.ndarray
    scaler: str
    offset: np.ndarray | None
    factor: np.ndarray | None
    categories: list[np.ndarray]
    other: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.other = list(self.other) or [False] * len(self.categories)

    @property
    def n_out(self) -> int:
        return int(self.keep.sum()) + sum(len(c) for c in self.categories) + sum(self.other)

    def impute(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(numeric, codes)`` columns of ``X`` with their missing values filled (a copy)."""
        num, codes = X[:, self.num], X[:, self.cat]
        # SimpleImputer assigns its float64 statistics into the float32 array: cast, then fill.
        if self.fill_num is not None:
            num = np.where(np.isnan(num), self.fill_num.astype(num.dtype), num)
        if self.fill_cat is not None:
            codes = np.where(np.isnan(codes), self.fill_cat.astype(codes.dtype), codes)
        return num, codes

    def scale(self, num: np.ndarray) -> np.ndarray:
        """Kept numeric columns scaled as scikit-learn does (in place on a float copy)."""
        num = num[:, self.keep]  # a boolean index copies: the in-place steps below are safe
        if self.scaler == "standard":
            num -= self.offset.astype(num.dtype)
            num /= self.factor.astype(num.dtype)
        elif self.scaler == "minmax":
            num *= self.factor
            num += self.offset
        elif self.scaler == "quantile":
            num = _quantile_transformer(self.offset, self.factor).transform(num)
        return num.astype(np.float32, copy=False)

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Imputed, scaled numeric columns, then the category codes: what samplers see."""
        num, codes = self.impute(X)
        return np.concatenate([self.scale(num), codes], axis=1).astype(np.float32, copy=False)

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Prepared rows with their code columns one-hot encoded: what the network sees."""
        if not self.cat:
            return X
        n_num = X.shape[1] - len(self.cat)
        parts = [X[:, :n_num]]
        for j, cats in enumerate(self.categories):
            codes, cats = X[:, n_num + j], cats.astype(X.dtype)
            parts.append((codes[:, None] == cats[None, :]).astype(np.float32))
            if self.other[j]:
                parts.append((~np.isin(codes, cats))[:, None].astype(np.float32))
        return np.concatenate(parts, axis=1)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.encode(self.prepare(X))

    def to_json(self) -> dict[str, Any]:
        def opt(a: np.ndarray | None) -> dict[str, Any] | None:
            return None if a is None else _array(a)

        return {
            "num": self.num,
            "cat": self.cat,
            "fill_num": opt(self.fill_num),
            "fill_cat": opt(self.fill_cat),
            "keep": self.keep.astype(bool).tolist(),
            "scaler": self.scaler,
            "offset": opt(self.offset),
            "factor": opt(self.factor),
            "categories": [_array(c) for c in self.categories],
            "other": [bool(o) for o in self.other],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FittedFeatures:
        def opt(d: dict[str, Any] | None) -> np.ndarray | None:
            return None if d is None else _from(d)

        return cls(
            num=[int(i) for i in data["num"]],
            cat=[int(i) for i in data["cat"]],
            fill_num=opt(data["fill_num"]),
            fill_cat=opt(data["fill_cat"]),
            keep=np.asarray(data["keep"], dtype=bool),
            scaler=str(data["scaler"]),
            offset=opt(data["offset"]),
            factor=opt(data["factor"]),
            categories=[_from(c) for c in data["categories"]],
            other=[bool(o) for o in data.get("other", [])],  # bundles written before the cap
        )
