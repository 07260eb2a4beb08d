"""The target column of a table as binary labels: the positive class (the rarer of two, or
``data.positive_label`` against the rest) becomes 1, and a target that is a measurement rather
than a label is refused as such."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from imbalance_lab.bundle.columns import listing
from imbalance_lab.errors import ConfigError

log = logging.getLogger(__name__)

# A numeric target with more distinct whole numbers than this is a count or an amount, not a
# set of classes (unless data.positive_label names one of them).
MAX_CLASSES = 20


def _plain(value: Any) -> Any:
    """A label as a JSON value (numpy scalars as Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def _refuse_continuous(
    col: pd.Series, counts: pd.Series, positive_label: Any, target: str, path: Any
) -> None:
    """A numeric target that is a measurement, not a label, stops the run as such: fractional
    values, or more than ``MAX_CLASSES`` distinct whole numbers without ``data.positive_label``
    (an amount, a count, a score). Listing its first classes would hide what is wrong."""
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return
    values = counts.index.to_numpy(dtype=float)
    fractional = not np.all(np.isclose(values, np.round(values)))
    if not fractional and (len(counts) <= MAX_CLASSES or positive_label is not None):
        return
    kind = "fractional values" if fractional else "whole numbers"
    raise ConfigError(
        f"data.target={target} looks continuous, not like class labels: {len(counts):,} "
        f"distinct {kind} from {values.min():g} to {values.max():g} in {len(col):,} rows of "
        f"{path}. A binary classifier needs a column of two classes: name it with "
        "data.target=<column>, or turn this value into two classes in the file first (e.g. "
        f"{target} > threshold as 1, the rest 0)."
    )


def binary_labels(
    col: pd.Series, positive_label: Any, target: str, path: Any
) -> tuple[np.ndarray, tuple[Any, Any]]:
    """Labels 0/1 (int64, shape ``(rows,)``) and the original labels of class 0 and 1 (class 0:
    ``None`` when it stands for several classes, the rest against ``positive_label``).

    Raises ``ConfigError`` for missing labels, one class, several classes without
    ``data.positive_label``, a label that is no class, or a continuous target."""
    if col.isna().any():
        raise ConfigError(
            f"data.target={target} is missing in {int(col.isna().sum())} rows of {path}; "
            "remove those rows or fill in their labels."
        )
    counts = col.value_counts()
    _refuse_continuous(col, counts, positive_label, target, path)
    classes = listing([f"{k!r} ({v} rows)" for k, v in counts.items()])
    if len(counts) < 2:
        raise ConfigError(
            f"data.target={target} holds a single class ({classes}) in {path}; a binary "
            "classifier needs two. Check data.target."
        )
    if positive_label is None:
        if len(counts) > 2:
            raise ConfigError(
                f"data.target={target} holds {len(counts)} classes: {classes}. Name the positive "
                "class with data.positive_label=<class> (that class against the rest)."
            )
        # The rarer class; on a tie, the label last in text order, so 0/1 keeps 1 positive.
        order = sorted(counts.index, key=str)
        positive = min(order, key=lambda k: (counts[k], -order.index(k)))
    else:
        positive = positive_label
    mask = (col == positive).to_numpy()
    if not mask.any():  # data.positive_label=1 against a text column "1", or the reverse
        mask = (col.astype(str) == str(positive)).to_numpy()
    if not mask.any():
        raise ConfigError(
            f"data.positive_label={positive_label!r} is not a class of data.target={target} "
            f"in {path}: {classes}."
        )
    if mask.all():
        raise ConfigError(
            f"data.positive_label={positive_label!r} matches every row of data.target={target}; "
            "nothing is left for class 0."
        )
    n_pos = int(mask.sum())
    if n_pos > len(mask) - n_pos:
        log.warning(
            "data.positive_label=%r is the larger class (%d of %d rows); the lab assumes class 1 "
            "is the minority.",
            positive,
            n_pos,
            len(mask),
        )
    log.info("data.target=%s: class 1 = %r (%d rows), class 0 = the rest", target, positive, n_pos)
    rest = col[~mask].unique()
    labels = (_plain(rest[0]) if len(rest) == 1 else None, _plain(col[mask].iloc[0]))
    return mask.astype(np.int64), labels
