"""The raw table a model was trained on: its feature columns, their order and dtypes, the
categories of each categorical column and the original labels; and new rows read the way
``data/tables.py`` read the training file, with the same checks.

Rules for new rows (documented in the README): columns are matched by name, in any order;
extra columns are ignored; a category never seen in the training file encodes as unknown (all
zeros in its one-hot block, as a category absent from the train split always did, or its
"other" column when data.max_categories grouped the column's rare levels) and is counted; a
missing value is filled by the train-fitted imputer, or refused when the model was trained
without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imbalance_lab.errors import ConfigError


def columns_with(mask: np.ndarray, names: Sequence[str]) -> list[str]:
    """``"name (count)"`` for each column of ``mask`` (rows x columns, bool) with a True cell."""
    counts = mask.sum(axis=0)
    return [f"{names[j]} ({counts[j]})" for j in np.flatnonzero(counts)]


def listing(items: Sequence[Any], limit: int = 20) -> str:
    """``items`` joined by commas for a message, the first ``limit`` of them and the count."""
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def rows(n: int) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``: a count of rows for a message."""
    return f"{n:,} row" + ("" if n == 1 else "s")


def where(path: Any) -> str:
    """``path``, and its absolute form in parentheses when it is given relative."""
    p = Path(str(path)).expanduser()
    return str(path) if p.is_absolute() else f"{path} ({p.resolve()})"


def as_text(s: pd.Series) -> pd.Series:
    """Values as the text that categories and labels are compared by: a whole float as an
    integer (an integer column with a missing value reads as float: 1.0 must match 1), the
    rest as ``str``; missing values stay missing."""

    def text(v: Any) -> Any:
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)

    return s.astype("object").where(s.notna(), None).map(text, na_action="ignore")


def _vocabulary(categories: list[str], dtype: str | None) -> list[str]:
    """A bundle's categories as :func:`as_text` writes them: bundles written before it kept
    a float column's whole numbers as "1.0"."""
    if not str(dtype).startswith("float"):
        return list(categories)
    return [str(int(float(c))) if c.endswith(".0") and c[:-2].lstrip("-").isdigit() else c
            for c in categories]  # fmt: skip


@dataclass
class RawSchema:
    """``names``: feature columns in training order; ``categorical``: their indices that hold
    categories (``vocabularies[name]``: category text in code order); ``dtypes``: pandas dtype
    of each column as read in training; ``impute``: the data.impute setting; ``target`` and
    ``labels`` (original labels of class 0 and 1; class 0 ``None`` = every other class)."""

    names: list[str]
    categorical: list[int] = field(default_factory=list)
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)
    impute: str | None = None
    target: str | None = None
    labels: tuple[Any, Any] = (0, 1)
    image_shape: tuple[int, ...] | None = None

    @classmethod
    def of(cls, data: Any) -> RawSchema:
        """The schema of a :class:`~imbalance_lab.data.sources.TabularData`."""
        return cls(
            names=list(data.feature_names),
            categorical=list(data.categorical),
            vocabularies=dict(data.vocabularies),
            dtypes=dict(data.dtypes) or {n: "float32" for n in data.feature_names},
            impute=data.impute,
            target=data.target,
            labels=tuple(data.labels),
            image_shape=data.image_shape,
        )

    def to_json(self) -> dict[str, Any]:
        """The schema as plain JSON types (bundle.json's ``raw``); :meth:`from_json` reads it
        back."""
        return {
            "columns": [
                {
                    "name": n,
                    "dtype": self.dtypes.get(n),
                    "kind": "categorical" if j in self.categorical else "numeric",
                    **({"categories": self.vocabularies[n]} if n in self.vocabularies else {}),
                }
                for j, n in enumerate(self.names)
            ],
            "impute": self.impute,
            "target": self.target,
            "labels": {"0": self.labels[0], "1": self.labels[1]},
            "image_shape": list(self.image_shape) if self.image_shape else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RawSchema:
        """The schema that :meth:`to_json` wrote."""
        cols = data["columns"]
        return cls(
            names=[c["name"] for c in cols],
            categorical=[j for j, c in enumerate(cols) if c["kind"] == "categorical"],
            vocabularies={
                c["name"]: _vocabulary(c["categories"], c["dtype"])
                for c in cols
                if "categories" in c
            },
            dtypes={c["name"]: c["dtype"] for c in cols},
            impute=data["impute"],
            target=data["target"],
            labels=(data["labels"]["0"], data["labels"]["1"]),
            image_shape=tuple(data["image_shape"]) if data["image_shape"] else None,
        )

    def frame(self, X: Any, source: str = "the input") -> pd.DataFrame:
        """A DataFrame as given, or a 2D array whose columns are in training order."""
        if isinstance(X, pd.DataFrame):
            return X
        a = np.asarray(X)
        if a.ndim != 2 or a.shape[1] != len(self.names):
            raise ConfigError(
                f"{source} is an array of shape {a.shape}; the model takes {len(self.names)} "
                f"columns in training order ({listing(self.names)}): pass (rows, "
                f"{len(self.names)}), or a DataFrame with those column names."
            )
        return pd.DataFrame(a, columns=self.names)

    def check_columns(self, columns: Sequence[str], source: str) -> list[str]:
        """Raise if a needed column is missing; return the extra columns (ignored)."""
        have = [str(c) for c in columns]
        missing = [n for n in self.names if n not in set(have)]
        if missing:
            raise ConfigError(
                f"{source} lacks {len(missing)} column(s) the model needs: {listing(missing)}. "
                f"It has: {listing(have, 50)}."
            )
        needed = set(self.names)
        return [c for c in have if c not in needed]

    def matrix(self, df: pd.DataFrame, source: str = "the input") -> tuple[np.ndarray, dict]:
        """Feature rows ``(n, len(names))`` float32 as training read them (numbers; categories
        as codes, -1 if unseen; NaN where missing), and a report: ``unseen`` categories per
        column (count), ``extra`` columns ignored."""
        df = df.rename(columns=str)
        extra = self.check_columns(list(df.columns), source)
        X = np.empty((len(df), len(self.names)), dtype=np.float32)
        # Float columns in one block copy (float -> float32 rounds once, as the training path
        # float -> float64 -> float32 does); the others one by one, as tables.py reads them.
        floats = [j for j, n in enumerate(self.names)
                  if n not in self.vocabularies and pd.api.types.is_float_dtype(df[n])]  # fmt: skip
        if floats:
            with np.errstate(over="ignore"):
                X[:, floats] = df[[self.names[j] for j in floats]].to_numpy(np.float32)
        unseen: dict[str, int] = {}
        done = set(floats)
        for j, name in enumerate(self.names):
            if j in done:
                continue
            s = df[name]
            if name in self.vocabularies:
                X[:, j], n_unseen = self._codes(s, self.vocabularies[name])
                if n_unseen:
                    unseen[name] = n_unseen
            else:
                with np.errstate(over="ignore"):
                    X[:, j] = self._numbers(s, name, source)
        self._check_finite(X, source)
        return X, {"unseen": unseen, "extra": extra}

    def read_dtypes(self) -> dict[str, str]:
        """The dtype to read each CSV column with, the same in every chunk, from the dtypes
        training read the whole file with: text categories as text (a chunk holding only
        "007" would otherwise read as the number 7) and numbers as float64 (a chunk with a
        missing value would read as float, one without as int). Others as pandas infers."""
        out = {}
        for j, name in enumerate(self.names):
            dtype = str(self.dtypes.get(name, ""))
            if j in self.categorical:
                if dtype in ("object", "str", "category") or dtype.startswith("string"):
                    out[name] = "str"
            elif dtype.lower().startswith(("int", "uint", "float")):
                out[name] = "float64"
        return out

    @staticmethod
    def _codes(s: pd.Series, vocabulary: list[str]) -> tuple[np.ndarray, int]:
        # As tables._codes: categories compared as text (as_text); unseen ones get code -1,
        # which no one-hot column matches.
        index = {v: i for i, v in enumerate(vocabulary)}
        present = s.notna().to_numpy()
        codes = np.full(len(s), np.nan)
        text = as_text(s[present])
        mapped = text.map(index)
        codes[present] = mapped.fillna(-1).to_numpy(dtype=np.float64)
        return codes, int(mapped.isna().sum())

    @staticmethod
    def _numbers(s: pd.Series, name: str, source: str) -> np.ndarray:
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            return s.astype("float64").to_numpy(na_value=np.nan)
        parsed = pd.to_numeric(s, errors="coerce")
        bad = parsed.isna() & s.notna()
        if bad.any():
            raise ConfigError(
                f"column {name} of {source} holds values that are not numbers (e.g. "
                f"{s[bad].iloc[0]!r}, {rows(int(bad.sum()))}); the model was trained on numbers "
                "there. Fix those values in the file."
            )
        return parsed.astype("float64").to_numpy(na_value=np.nan)

    def _check_finite(self, X: np.ndarray, source: str) -> None:
        if bad := columns_with(np.isinf(X), self.names):
            raise ConfigError(
                f"columns of {source} hold infinite values (or numbers beyond float32): "
                f"{listing(bad)}; fix them in the file."
            )
        if self.impute is None and (bad := columns_with(np.isnan(X), self.names)):
            raise ConfigError(
                f"columns of {source} hold missing values (NaN): {listing(bad)}. The model was "
                "trained without imputation (data.impute=null): fill them or drop those rows."
            )

    def label_codes(self, col: pd.Series, source: str) -> np.ndarray:
        """0/1 ``(n,)`` int64 of a column of original labels (``source`` names it). Raises
        ``ConfigError`` on a missing label, or one the model was not trained with (with two
        classes; a positive label against the rest takes any other label as class 0)."""
        neg, pos = self.labels
        if col.isna().any():
            raise ConfigError(
                f"{source} is missing in {rows(int(col.isna().sum()))}; every row needs its "
                "label: fill them in or drop those rows."
            )
        text = as_text(col)
        (pos_text,) = as_text(pd.Series([pos]))
        y = (text == pos_text).to_numpy()
        if neg is not None:
            (neg_text,) = as_text(pd.Series([neg]))
            bad = ~y & (text != neg_text).to_numpy()
            if bad.any():
                found = text[bad].value_counts()
                raise ConfigError(
                    f"{source} holds labels the model was not trained with: "
                    f"{listing([f'{k!r} ({v} rows)' for k, v in found.items()])}. The model "
                    f"knows {pos!r} (class 1) and {neg!r} (class 0): write them as those "
                    "values, or name the label column with --target."
                )
        return y.astype(np.int64)

    def label_values(self, y: np.ndarray) -> np.ndarray:
        """Labels 0/1 as the original labels (class 0 with several classes: ``not <pos>``)."""
        neg, pos = self.labels
        if neg is None:
            neg = f"not {pos}"
        out = np.where(y.astype(bool), np.asarray(pos, dtype=object), np.asarray(neg, dtype=object))
        if isinstance(neg, (int, float, bool)) and isinstance(pos, (int, float, bool)):
            return out.astype(np.result_type(np.asarray(neg), np.asarray(pos)))
        return out
