"""``imbalance-lab predict RUN_OR_SWEEP_DIR new.csv --out scores.csv``: score a file with a run's
model, or with the configuration a sweep chose on validation (its runs averaged; said so).

The input is read and scored in chunks (CSV or Parquet, by suffix), so memory follows
``--chunk-rows``, not the file; the output (CSV or Parquet, by suffix) is written beside its
final name and moved there only when every chunk has been scored, so a failure leaves nothing
half written. Each output row: the carried ``--keep`` columns, ``probability`` (of the positive
class) and ``label`` (in the training file's own labels, at the bundle's threshold).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from imbalance_lab.errors import ConfigError

CHUNK_ROWS = 1 << 17


def _kind(path: Path, what: str) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise ConfigError(f"{what} {path}: unknown file type; use a .csv or .parquet file.")


def _chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    if not path.is_file():
        raise ConfigError(f"input {path} does not exist ({path.resolve()}).")
    if _kind(path, "input") == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            yield batch.to_pandas()
    else:
        yield from pd.read_csv(path, chunksize=rows, low_memory=False)


class _Writer:
    """Appends chunks to ``<out>.partial``; :meth:`commit` moves it to ``out``."""

    def __init__(self, out: Path) -> None:
        self.out, self.kind = out, _kind(out, "--out")
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


def predict(args: argparse.Namespace) -> str:
    """Score ``args.input`` into ``args.out``; returns the summary line."""
    from imbalance_lab.bundle.model import load_model

    model = load_model(args.run, args.dataset)
    source, out = Path(args.input), Path(args.out)
    if out.resolve() == source.resolve():
        raise ConfigError(f"--out {out} is the input file; write the scores elsewhere.")
    threshold = model.threshold if args.threshold is None else args.threshold
    writer = _Writer(out)
    n, positives, unseen = 0, 0, Counter()
    notes: list[str] = []
    try:
        for chunk in _chunks(source, args.chunk_rows):
            chunk.columns = [str(c) for c in chunk.columns]
            missing = [k for k in args.keep if k not in chunk.columns]
            if missing:
                raise ConfigError(
                    f"--keep {', '.join(missing)}: not a column of {source}. It has: "
                    f"{', '.join(chunk.columns[:50])}."
                )
            probs = model.predict_proba(chunk, str(source))
            if n == 0:
                notes = _notes(model, model.last_report["extra"], args.keep)
            unseen.update(model.last_report["unseen"])
            labels = model.schema.label_values(probs > threshold)
            scores = chunk[args.keep].reset_index(drop=True)
            scores = scores.assign(probability=probs, label=labels)
            writer.write(scores)
            n += len(chunk)
            positives += int((probs > threshold).sum())
        if n == 0:
            raise ConfigError(f"input {source} holds no rows.")
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    for name, count in unseen.items():
        notes.append(
            f"{count} rows hold a category of {name} unseen in training (encoded as unknown)"
        )
    summary = (
        f"scored {n} rows of {source} with {model.folder} at threshold {threshold:.4g}: "
        f"{positives} labelled {model.schema.labels[1]!r}; wrote {out}"
    )
    return "\n".join([*model.notes, *notes, summary])


def _notes(model, extra: list[str], keep: list[str]) -> list[str]:
    notes = []
    target = model.schema.target
    if target is not None and target in extra:
        notes.append(
            f"column {target} (the training label) is ignored; to check the model against it, "
            "use imbalance-lab evaluate"
        )
    ignored = [c for c in extra if c != target and c not in keep]
    if ignored:
        notes.append(f"ignored columns the model does not use: {', '.join(ignored)}")
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imbalance-lab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="score a CSV/Parquet file with a run's model bundle")
    p.add_argument("run", help="a run folder (it holds model/) or a sweep folder")
    p.add_argument("input", help="rows to score: .csv or .parquet")
    p.add_argument("--out", required=True, help="scores to write: .csv or .parquet")
    p.add_argument("--keep", action="append", default=[], help="a column to carry (repeatable)")
    p.add_argument("--threshold", type=float, default=None, help="default: the bundle's")
    p.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows scored at once")
    p.add_argument("--dataset", help="a sweep over several datasets: the one to use")
    args = parser.parse_args(argv)
    args.keep = [k for item in args.keep for k in item.split(",") if k]
    try:
        print(predict(args))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
