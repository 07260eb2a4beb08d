"""The feature columns of a table by kind: categorical columns (given by ``data.categorical`` or
read from their dtype) as integer codes, numeric ones as floats, identifiers refused.

A categorical column whose values are distinct in most rows (a transaction id, a timestamp
string) is refused, naming it and the ``data.drop`` that removes it: it holds nothing a model
could carry to new rows, and dropping it silently would make the model ignore a column the user
thinks it reads (and a timestamp is better turned into numbers, e.g. hour of day, than dropped).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from imbalance_lab.bundle.columns import as_text, listing
from imbalance_lab.errors import ConfigError

# A categorical column with more distinct values than data.max_categories and than this
# fraction of its rows is an identifier: refused. A real category repeats its levels (a
# merchant or ZIP code column holds ~1-5 % as many levels as rows); an id or a timestamp
# string is near 100 %.
_IDENTIFIER_FRACTION = 0.5


def _is_categorical_dtype(s: pd.Series) -> bool:
    return (
        pd.api.types.is_bool_dtype(s)
        or isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s)
        or pd.api.types.is_string_dtype(s)
    )


def split_kinds(
    df: pd.DataFrame, categorical: list[str] | None, path: Any
) -> tuple[list[str], dict[str, pd.Series]]:
    """Categorical column names and the numeric columns as float Series."""
    cats = [c for c in df if _is_categorical_dtype(df[c])] if categorical is None else categorical
    numeric, unparsable, other = {}, {}, []
    for c in df:
        if c in cats:
            continue
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            numeric[c] = s.astype("float64")
        elif _is_categorical_dtype(s):  # only when data.categorical is given
            parsed = pd.to_numeric(s, errors="coerce")
            bad = parsed.isna() & s.notna()
            if bad.any():
                unparsable[c] = s[bad].iloc[0]
            numeric[c] = parsed.astype("float64")
        else:
            other.append(f"{c} ({s.dtype})")
    if unparsable:
        examples = listing([f"{c} (e.g. {v!r})" for c, v in unparsable.items()])
        raise ConfigError(
            f"columns of {path} hold values that are not numbers: {examples}; they are not in "
            f"data.categorical={categorical}. Add them to data.categorical or to data.drop."
        )
    if other:
        raise ConfigError(
            f"columns of {path} are neither numbers nor categories: {listing(other)}; convert "
            "them to numbers in the file or drop them with data.drop."
        )
    return cats, numeric


def category_codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (as float, NaN where missing) of a column's categories, sorted as text,
    and those categories (code i = category i)."""
    # As scoring reads them (bundle/columns.py): 1.0 and 1 are one category, so an integer
    # column read as float for its missing values matches a new file read as integers.
    cat = pd.Categorical(as_text(s))
    codes = cat.codes.astype(np.float64)
    codes[codes < 0] = np.nan
    return codes, [str(c) for c in cat.categories]


def refuse_identifiers(
    features: pd.DataFrame, cats: list[str], max_categories: int, path: Any
) -> None:
    """Raise if a categorical column holds a distinct value in most of its rows."""
    found = []
    for c in cats:
        present = int(features[c].notna().sum())
        levels = int(features[c].nunique(dropna=True))
        if levels > max_categories and levels > _IDENTIFIER_FRACTION * present:
            found.append((c, levels, present))
    if found:
        names = ",".join(c for c, _, _ in found)
        detail = listing([f"{c} ({v:,} distinct values in {n:,} rows)" for c, v, n in found])
        raise ConfigError(
            f"columns of {path} look like identifiers: {detail}. A value that (nearly) never "
            "repeats teaches the model nothing it can use on new rows, and one-hot encoding it "
            f"costs memory of rows x values. Drop them with data.drop=[{names}] (a timestamp: "
            "turn it into numbers in the file, e.g. hour of day, or drop it)."
        )
