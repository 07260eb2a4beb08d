"""Your own table (CSV or Parquet) as :class:`TabularData`.

``load_table`` turns a file into float32 features: numeric columns as they are, categorical
columns as integer codes (so samplers see categories), NaNs left for a train-fitted imputer only
when ``data.impute`` says so. Every problem a user can fix raises a ``ConfigError`` naming the
file, the column and the setting. Reading the file is :mod:`~imbalance_lab.data.table_files`,
the target :mod:`~imbalance_lab.data.table_labels`, the feature columns
:mod:`~imbalance_lab.data.table_columns`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from imbalance_lab.bundle.columns import columns_with, listing
from imbalance_lab.data.features import MAX_CATEGORIES, check_max_categories
from imbalance_lab.data.sources import TabularData
from imbalance_lab.data.table_columns import category_codes, refuse_identifiers, split_kinds
from imbalance_lab.data.table_files import check_names, read_table
from imbalance_lab.data.table_labels import binary_labels
from imbalance_lab.errors import ConfigError
from imbalance_lab.records import table_name

log = logging.getLogger(__name__)

IMPUTE = ("median", "most_frequent")


def load_table(
    path: str | None = None,
    target: str | None = None,
    positive_label: Any = None,
    drop: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    impute: str | None = None,
    name: str | None = None,
    sep: str | None = None,
    max_categories: int = MAX_CATEGORIES,
) -> TabularData:
    """A CSV/TSV/Parquet file (chosen by suffix) as features and binary labels.

    ``positive_label``: the class that becomes 1 (others 0); ``None`` = the rarer of two classes.
    ``categorical``: columns to encode as category codes; ``None`` = every column of dtype
    object, string, category or bool. ``impute``: ``None`` (NaNs are an error), ``median`` or
    ``most_frequent`` (numeric columns; categorical ones always take the most frequent code).
    ``sep``: the separator of a CSV/TSV; ``None`` = tab for .tsv, guessed from the first lines
    of a .csv (``,``, ``;``, tab or ``|``).
    ``max_categories``: a categorical column with more distinct values than this and than half
    its rows is an identifier, refused (see :mod:`~imbalance_lab.data.table_columns`).
    """
    if not path:
        raise ConfigError(
            "data.path is not set: python train.py data=table data.path=FILE.csv data.target=COLUMN"
        )
    if target is None or str(target) == "":
        raise ConfigError("data.target is not set: name the label column, e.g. data.target=Class")
    if impute not in (None, *IMPUTE):
        raise ConfigError(f"data.impute={impute!r} is unknown; use null, median or most_frequent.")
    max_categories = check_max_categories(max_categories)
    target = str(target)
    drop = [str(c) for c in drop or []]
    cat_names = None if categorical is None else [str(c) for c in categorical]
    if sep is not None and (not isinstance(sep, str) or not sep):
        raise ConfigError(f"data.sep={sep!r} must be a character such as ',' or ';', or null.")
    df, file, used_sep = read_table(path, sep)
    columns = list(df.columns)
    check_names([target], "data.target", columns, path, used_sep)
    check_names(drop, "data.drop", columns, path)
    check_names(cat_names or [], "data.categorical", columns, path)
    if target in drop or target in (cat_names or []):
        raise ConfigError(
            f"data.target={target} is also in data.drop or data.categorical; remove it there."
        )
    y, labels = binary_labels(df[target], positive_label, target, path)
    features = df.drop(columns=[target, *drop])
    if features.shape[1] == 0:
        raise ConfigError(f"{path} has no feature columns left besides data.target and data.drop.")
    empty = [c for c in features if features[c].isna().all()]
    if empty:
        raise ConfigError(
            f"columns of {path} are entirely missing: {listing(empty)}; drop them with "
            f"data.drop=[{','.join(empty)}]."
        )
    cats, numeric = split_kinds(features, cat_names, path)
    refuse_identifiers(features, cats, max_categories, path)
    names = list(features.columns)
    X = np.empty((len(features), len(names)), dtype=np.float32)
    vocabularies = {}
    with np.errstate(over="ignore"):  # numbers beyond float32 become inf, reported below
        for j, c in enumerate(names):
            if c in cats:
                X[:, j], vocabularies[c] = category_codes(features[c])
            else:
                X[:, j] = numeric[c].to_numpy(na_value=np.nan)
    if bad := columns_with(np.isinf(X), names):
        raise ConfigError(
            f"columns of {path} hold infinite values (or numbers beyond float32): "
            f"{listing(bad)}; fix them in the file or drop the columns with data.drop."
        )
    if impute is None and (bad := columns_with(np.isnan(X), names)):
        raise ConfigError(
            f"columns of {path} hold missing values (NaN): {listing(bad)}. Set "
            "data.impute=median (or most_frequent) to fill them from the train split, or drop "
            "the columns with data.drop."
        )
    cat_idx = [names.index(c) for c in cats]
    log.info(
        "%s: %d rows, %d numeric and %d categorical feature columns",
        file.name,
        len(X),
        len(names) - len(cat_idx),
        len(cat_idx),
    )
    return TabularData(
        X,
        y,
        table_name(file, name),
        names,
        cat_idx,
        impute,
        target=target,
        labels=labels,
        vocabularies=vocabularies,
        dtypes={c: str(features[c].dtype) for c in names},
    )
