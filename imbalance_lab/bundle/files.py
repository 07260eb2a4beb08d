"""Files in and out of ``imbalance-lab predict`` / ``evaluate``: CSV or Parquet (by suffix) read
in chunks so memory follows the chunk, not the file; scores written beside their final name and
moved there only when complete, so a failure leaves nothing half written."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

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


def chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """``path`` as DataFrames of at most ``rows`` rows, in file order, columns named by text."""
    if not path.is_file():
        raise ConfigError(f"input {path} does not exist ({path.resolve()}).")
    if kind(path, "input") == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            yield batch.to_pandas()
    else:
        for chunk in pd.read_csv(path, chunksize=rows, low_memory=False):
            chunk.columns = [str(c) for c in chunk.columns]
            yield chunk


class Writer:
    """Appends chunks to ``<out>.partial``; :meth:`commit` moves it to ``out``."""

    def __init__(self, out: Path) -> None:
        self.out, self.kind = out, kind(out, "--out")
        self.tmp = out.with_name(out.name + ".partial")
        self.parquet = None
        self.first = True

    def write(self, df: pd.DataFrame) -> None:
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
        if self.parquet is not None:
            self.parquet.close()
        os.replace(self.tmp, self.out)

    def abort(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        self.tmp.unlink(missing_ok=True)
