"""Your own table (CSV or Parquet) as :class:`TabularData`.

``load_table`` turns a file into float32 features: numeric columns as they are, categorical
columns as integer codes (so samplers see categories), NaNs left for a train-fitted imputer only
when ``data.impute`` says so. Every problem a user can fix raises a ``ConfigError`` naming the
file, the column and the setting.

A categorical column whose values are distinct in most rows (a transaction id, a timestamp
string) is refused, naming it and the ``data.drop`` that removes it: it holds nothing a model
could carry to new rows, and dropping it silently would make the model ignore a column the user
thinks it reads (and a timestamp is better turned into numbers, e.g. hour of day, than dropped).
"""

from __future__ import annotations

import csv
import difflib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imbalance_lab.bundle.columns import as_text, columns_with, listing
from imbalance_lab.data.features import MAX_CATEGORIES, check_max_categories
from imbalance_lab.data.sources import TabularData
from imbalance_lab.errors import ConfigError, first_line
from imbalance_lab.records import table_name

log = logging.getLogger(__name__)

IMPUTE = ("median", "most_frequent")
# A numeric target with more distinct whole numbers than this is a count or an amount, not a
# set of classes (unless data.positive_label names one of them).
MAX_CLASSES = 20
_READERS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSED = {".gz", ".bz2", ".zip", ".xz", ".zst"}
# A categorical column with more distinct values than data.max_categories and than this
# fraction of its rows is an identifier: refused. A real category repeats its levels (a
# merchant or ZIP code column holds ~1-5 % as many levels as rows); an id or a timestamp
# string is near 100 %.
_IDENTIFIER_FRACTION = 0.5


# Bytes read to guess a CSV's separator, and the separators guessed among.
_SNIFF_BYTES = 64 * 1024
_SEPARATORS = ",;\t|"


def _sniff_sep(file: Path) -> str:
    """The separator of a text table, guessed from its first lines (``,`` when unsure).

    Reads through pandas' decompression so a ``.csv.gz`` is sniffed like a ``.csv``.
    """
    try:
        with pd.io.common.get_handle(file, "r", compression="infer", errors="replace") as h:
            head = h.handle.read(_SNIFF_BYTES)
    except OSError:
        return ","
    lines = head.splitlines()
    if len(lines) > 1 and len(head) == _SNIFF_BYTES:
        head = "\n".join(lines[:-1])  # the last line may be cut short
    try:
        return csv.Sniffer().sniff(head, delimiters=_SEPARATORS).delimiter
    except csv.Error:
        return ","


def _read(path: Any, sep: str | None = None) -> tuple[pd.DataFrame, Path, str | None]:
    """The table at ``path`` and the separator it was read with (None for Parquet)."""
    file = Path(str(path)).expanduser()
    suffixes = [s.lower() for s in file.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    kind = _READERS.get(suffixes[-1] if suffixes else "")
    if kind is None:
        raise ConfigError(
            f"data.path={path}: unknown file type; use a .csv, .tsv (optionally compressed) "
            "or .parquet file."
        )
    if not file.is_file():
        what = "is a folder" if file.is_dir() else "does not exist"
        raise ConfigError(f"data.path={path} {what} ({file.resolve()}); point it at the file.")
    if file.stat().st_size == 0:
        raise ConfigError(f"data.path={path} is an empty file: no header, no rows.")
    if kind != "parquet" and sep is None:
        sep = "\t" if kind == "tsv" else _sniff_sep(file)
    try:
        if kind == "parquet":
            df = pd.read_parquet(file)
        else:
            df = pd.read_csv(file, sep=sep, low_memory=False)
    except ImportError as err:
        raise ConfigError(
            f"data.path={path}: reading Parquet needs pyarrow (pip install pyarrow)."
        ) from err
    except pd.errors.EmptyDataError as err:
        raise ConfigError(f"data.path={path} holds no data: no header, no rows.") from err
    except (OSError, ValueError, pd.errors.ParserError) as err:
        how = f" with separator {sep!r} (data.sep)" if sep is not None else ""
        raise ConfigError(
            f"data.path={path} could not be read as {kind}{how}: {first_line(err)}"
        ) from err
    if df.shape[0] == 0:
        raise ConfigError(f"data.path={path} holds a header but no rows.")
    df.columns = [str(c) for c in df.columns]
    return df, file, sep if kind != "parquet" else None


def _check_names(
    names: Sequence[str], setting: str, columns: list[str], path: Any, sep: str | None = None
) -> None:
    missing = [n for n in names if n not in columns]
    if not missing:
        return
    close = difflib.get_close_matches(missing[0], columns, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    read = "" if sep is None else f", read with separator {sep!r}"
    # One column whose name holds another separator: the file was split on the wrong one.
    other = [c for c in _SEPARATORS if c != sep and len(columns) == 1 and c in columns[0]]
    if other:
        hint += f" The header holds {other[0]!r}: set data.sep={other[0]!r}."
    raise ConfigError(
        f"{setting} names {listing(missing)}, not a column of {path}.{hint} "
        f"Columns found ({len(columns)}{read}): {listing(columns, 50)}."
    )


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


def _labels(
    col: pd.Series, positive_label: Any, target: str, path: Any
) -> tuple[np.ndarray, tuple[Any, Any]]:
    """Labels 0/1 and the original labels of class 0 and 1 (class 0: ``None`` when it stands
    for several classes, the rest against ``positive_label``)."""
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


def _is_categorical_dtype(s: pd.Series) -> bool:
    return (
        pd.api.types.is_bool_dtype(s)
        or isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s)
        or pd.api.types.is_string_dtype(s)
    )


def _split_kinds(
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


def _codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (as float, NaN where missing) of a column's categories, sorted as text,
    and those categories (code i = category i)."""
    # As scoring reads them (bundle/columns.py): 1.0 and 1 are one category, so an integer
    # column read as float for its missing values matches a new file read as integers.
    cat = pd.Categorical(as_text(s))
    codes = cat.codes.astype(np.float64)
    codes[codes < 0] = np.nan
    return codes, [str(c) for c in cat.categories]


def _refuse_identifiers(
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
    its rows is an identifier, refused (see the module's docstring).
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
    df, file, used_sep = _read(path, sep)
    columns = list(df.columns)
    _check_names([target], "data.target", columns, path, used_sep)
    _check_names(drop, "data.drop", columns, path)
    _check_names(cat_names or [], "data.categorical", columns, path)
    if target in drop or target in (cat_names or []):
        raise ConfigError(
            f"data.target={target} is also in data.drop or data.categorical; remove it there."
        )
    y, labels = _labels(df[target], positive_label, target, path)
    features = df.drop(columns=[target, *drop])
    if features.shape[1] == 0:
        raise ConfigError(f"{path} has no feature columns left besides data.target and data.drop.")
    empty = [c for c in features if features[c].isna().all()]
    if empty:
        raise ConfigError(
            f"columns of {path} are entirely missing: {listing(empty)}; drop them with "
            f"data.drop=[{','.join(empty)}]."
        )
    cats, numeric = _split_kinds(features, cat_names, path)
    _refuse_identifiers(features, cats, max_categories, path)
    names = list(features.columns)
    X = np.empty((len(features), len(names)), dtype=np.float32)
    vocabularies = {}
    with np.errstate(over="ignore"):  # numbers beyond float32 become inf, reported below
        for j, c in enumerate(names):
            if c in cats:
                X[:, j], vocabularies[c] = _codes(features[c])
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
