"""A table file read as a DataFrame: the reader chosen by suffix (CSV, TSV, Parquet, optionally
compressed), a CSV's separator guessed from its first lines, and column names a setting gives
checked against the header."""

from __future__ import annotations

import csv
import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from imbalance_lab.bundle.columns import listing
from imbalance_lab.errors import ConfigError, first_line

_READERS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSED = {".gz", ".bz2", ".zip", ".xz", ".zst"}
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


def read_table(path: Any, sep: str | None = None) -> tuple[pd.DataFrame, Path, str | None]:
    """The table at ``path`` (a DataFrame, columns named as text), the file, and the separator it
    was read with (None for Parquet). ``sep`` None: tab for .tsv, guessed for .csv.

    Raises ``ConfigError`` naming ``data.path`` or ``data.sep`` for a file that cannot be read."""
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


def check_names(
    names: Sequence[str], setting: str, columns: list[str], path: Any, sep: str | None = None
) -> None:
    """Raise ``ConfigError`` naming ``setting`` if one of ``names`` is not in ``columns``, with
    the closest names and, for a one-column header, the separator that would split it."""
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
