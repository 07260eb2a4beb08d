"""Files in and out of ``imbalance-lab predict`` / ``evaluate``: CSV or Parquet (by suffix) read
in chunks so memory follows the chunk, not the file; scores written beside their final name and
moved there only when complete, so a failure leaves nothing half written."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from imbalance_lab.bundle.columns import rows, where
from imbalance_lab.errors import ConfigError

CHUNK_ROWS = 1 << 17


def kind(path: Path, what: str) -> str:
    """``csv`` or ``parquet`` by the file's suffix; ``ConfigError`` naming ``what`` otherwise."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise ConfigError(f"{what} {path}: unknown file type; use a .csv or .parquet file.")


def chunks(
    path: Path, rows: int, dtypes: dict[str, str] | None = None, bar: bool = False
) -> Iterator[pd.DataFrame]:
    """``path`` as DataFrames of at most ``rows`` rows, in file order, columns named by text.

    Parquet is read ``rows`` at a time with ``ParquetFile.iter_batches`` from streamed pages,
    so memory follows the chunk even when the file is one row group (as pandas writes it). A
    CSV's columns are read with ``dtypes`` (see ``RawSchema.read_dtypes``), the same in every
    chunk; a forced numeric column holding text is reported by name. ``bar``: a progress bar
    on stderr when it is a terminal and the file is large."""
    if not path.is_file():
        raise ConfigError(f"input {where(path)} does not exist.")
    with _progress(path, bar) as advance:
        if kind(path, "input") == "parquet":
            import pyarrow.parquet as pq

            # Streamed pages, not whole column chunks: pandas writes a file as one row group,
            # and by default pyarrow reads the group's column chunks whole (peak growth at
            # 16k-row chunks of 1M x 30: 70 MiB by default, 50 MiB streamed; 131k: 180 / 80).
            parquet = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
            for batch in parquet.iter_batches(batch_size=rows):
                advance(batch.num_rows)
                yield batch.to_pandas()
            return
        dtypes = dtypes or {}
        done = 0
        try:
            for chunk in pd.read_csv(path, chunksize=rows, low_memory=False, dtype=dtypes):
                chunk.columns = [str(c) for c in chunk.columns]
                done += len(chunk)
                advance(len(chunk))
                yield chunk
        except ValueError as err:  # pandas names the value, not the column: find it
            _not_numbers(path, rows, dtypes, done)
            raise ConfigError(f"input {path} could not be read as CSV: {err}") from None


def _not_numbers(path: Path, chunk_rows: int, dtypes: dict[str, str], start: int) -> None:
    """Raise the ``ConfigError`` naming a column read as numbers that holds text, from the
    chunk at row ``start`` on (rereads the file: only on the way to an error)."""
    numeric = [c for c, d in dtypes.items() if d == "float64"]
    text = {c: d for c, d in dtypes.items() if d != "float64"}
    reader = pd.read_csv(
        path, chunksize=chunk_rows, low_memory=False, dtype=text, skiprows=range(1, start + 1)
    )
    for chunk in reader:
        for name in numeric:
            if name not in chunk.columns:
                continue
            s = chunk[name]
            bad = pd.to_numeric(s, errors="coerce").isna() & s.notna()
            if bad.any():
                raise ConfigError(
                    f"column {name} of {path} holds values that are not numbers (e.g. "
                    f"{s[bad].iloc[0]!r}, {rows(int(bad.sum()))}); the model was trained on "
                    "numbers there. Fix those values in the file."
                )


# Files smaller than this score in a few seconds: no bar.
BAR_BYTES = 64 << 20


@contextmanager
def _progress(path: Path, bar: bool) -> Iterator[Callable[[int], None]]:
    """``advance(rows)`` for a rich progress bar on stderr (rows of a Parquet file's total; a
    CSV's total is unknown until read), or a no-op for small files and non-terminals."""
    if not (bar and sys.stderr.isatty() and path.stat().st_size >= BAR_BYTES):
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import Progress

    total = None
    if kind(path, "input") == "parquet":
        import pyarrow.parquet as pq

        total = pq.ParquetFile(path).metadata.num_rows
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"scoring {path.name}", total=total)
        yield lambda n: progress.advance(task, n)


class Writer:
    """Appends chunks to ``<out>.partial``; :meth:`commit` moves it to ``out``."""

    def __init__(self, out: Path) -> None:
        self.out, self.kind = out, kind(out, "--out")
        self.tmp = out.with_name(out.name + ".partial")
        self.parquet = None
        self.first = True

    def write(self, df: pd.DataFrame) -> None:
        """Append the rows of ``df`` (the first call writes the CSV header or the Parquet
        schema, which later chunks must match)."""
        if self.kind == "csv":
            df.to_csv(self.tmp, mode="w" if self.first else "a", header=self.first, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(df, preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.tmp, table.schema)
            self.parquet.write_table(table)
        self.first = False

    def commit(self) -> None:
        """Close the file and move it to ``out`` (replacing an older one there)."""
        if self.parquet is not None:
            self.parquet.close()
        os.replace(self.tmp, self.out)

    def abort(self) -> None:
        """Close and delete the partial file; ``out`` is left as it was."""
        if self.parquet is not None:
            self.parquet.close()
        self.tmp.unlink(missing_ok=True)
