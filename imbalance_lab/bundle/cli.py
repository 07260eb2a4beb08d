"""``imbalance-lab``: use a trained model from the shell.

    imbalance-lab predict RUN_OR_SWEEP_DIR new.csv --out scores.csv [--keep id]
    imbalance-lab predict RUN_DIR new_images/ --out scores.csv      # a model of data=images
    imbalance-lab evaluate RUN_OR_SWEEP_DIR labelled.csv [--out scores.csv]
    imbalance-lab export RUN_DIR --onnx model.onnx

A sweep folder stands for the configuration selection.md chose on validation, its runs'
probabilities averaged (said so). Input is read and scored in chunks (CSV or Parquet, by suffix;
see ``files.py``); each output row: the carried ``--keep`` columns, ``probability`` (of the
positive class) and ``label`` (in the training file's own labels, at the bundle's threshold).
``evaluate`` prints the table a training run prints, for the labelled file, and writes its
metrics beside the scores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imbalance_lab.bundle.columns import rows
from imbalance_lab.bundle.files import CHUNK_ROWS, Writer, chunks
from imbalance_lab.errors import ConfigError


@dataclass
class Scored:
    """What scoring a file found: rows, rows labelled positive, unseen categories per column,
    notes for the user; with a label column, every probability and 0/1 label (for metrics)."""

    n: int = 0
    positives: int = 0
    unseen: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)
    y: list[np.ndarray] = field(default_factory=list)


def score_file(
    model: Any,
    source: Path,
    out: Path | None,
    keep: list[str],
    threshold: float,
    chunk_rows: int,
    target: str | None = None,
) -> Scored:
    """Score ``source`` chunk by chunk into ``out`` (moved into place only when every chunk is
    scored; nothing written on error). With ``target``, that column's labels are read too."""
    if out is not None and out.resolve() == source.resolve():
        raise ConfigError(f"--out {out} is the input file; write the scores elsewhere.")
    writer = Writer(out) if out is not None else None
    done = Scored()
    try:
        for chunk in chunks(source, chunk_rows, model.schema.read_dtypes(), bar=True):
            missing = [k for k in [*keep, *([target] if target else [])] if k not in chunk.columns]
            if missing:
                what = "--keep" if target not in missing else "the label column (--target)"
                raise ConfigError(
                    f"{what} {', '.join(missing)}: not a column of {source}. It has: "
                    f"{', '.join(chunk.columns[:50])}."
                )
            rows = chunk
            if target is not None:
                done.y.append(
                    model.schema.label_codes(chunk[target], f"column {target} of {source}")
                )
                rows = chunk.drop(columns=target)
            probs = model.predict_proba(rows, str(source))
            if done.n == 0:
                done.notes = _notes(model, model.last_report["extra"], keep)
            done.unseen.update(model.last_report["unseen"])
            if target is not None:
                done.probs.append(probs)
            if writer is not None:
                scores = chunk[keep].reset_index(drop=True)
                labels = model.schema.label_values(probs > threshold)
                writer.write(scores.assign(probability=probs, label=labels))
            done.n += len(chunk)
            done.positives += int((probs > threshold).sum())
        if done.n == 0:
            raise ConfigError(f"input {source} holds no rows.")
        if writer is not None:
            writer.commit()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    for name, count in done.unseen.items():
        done.notes.append(
            f"{rows(count)} hold a category of {name} unseen in training (encoded as unknown)"
        )
    return done


def _notes(model: Any, extra: list[str], keep: list[str]) -> list[str]:
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


def predict(args: argparse.Namespace) -> str:
    """Score ``args.input`` into ``args.out``; returns what to print."""
    from imbalance_lab.bundle.model import load_model

    model = load_model(args.run, args.dataset)
    source, out = Path(args.input), Path(args.out)
    threshold = model.threshold if args.threshold is None else args.threshold
    if hasattr(model, "image_shape"):  # a network trained on image files: a folder of images
        from imbalance_lab.bundle.images import score_folder

        if not source.is_dir():
            raise ConfigError(f"{source}: this model scores images; give a folder of images.")
        return score_folder(model, source, out, threshold)
    if source.is_dir():
        raise ConfigError(f"{source} is a folder; this model scores rows of a .csv or .parquet.")
    done = score_file(model, source, out, args.keep, threshold, args.chunk_rows)
    summary = (
        f"scored {rows(done.n)} of {source} with {model.folder} at threshold {threshold:.4g}: "
        f"{done.positives} labelled {model.schema.labels[1]!r}; wrote {out}"
    )
    return "\n".join([*model.notes, *done.notes, summary])


def metrics_path(out: Path) -> Path:
    """``scores.csv`` -> ``scores.metrics.json``: beside the scores, and never named
    ``metrics.json``, which the leaderboard would read as a run's record."""
    name = out.name
    for suffix in (".csv.gz", ".csv", ".parquet", ".pq"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return out.with_name(name + ".metrics.json")


def evaluate(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """Score the labelled ``args.input``; returns the record (as written to
    ``<scores>.metrics.json`` with ``--out``) and the lines to print after its table."""
    import torch

    from imbalance_lab.bundle.model import load_model
    from imbalance_lab.evaluation.diagnostics import calibration
    from imbalance_lab.evaluation.metrics import binary_metrics, confusion_counts

    model = load_model(args.run, args.dataset)
    target = args.target or model.schema.target
    source = Path(args.input)
    if target is None:
        run = model.info.get("run", {})
        data = (run.get("choices") or {}).get("data", "?")
        raise ConfigError(
            f"the model was trained on {run.get('dataset') or 'a built-in dataset'} "
            f"(data={data}), which has no label column name; name the label column of "
            f"{source} with --target COLUMN."
        )
    out = Path(args.out) if args.out else None
    threshold = model.threshold if args.threshold is None else args.threshold
    done = score_file(model, source, out, args.keep, threshold, args.chunk_rows, target)
    probs, y = np.concatenate(done.probs), np.concatenate(done.y)
    p, t = torch.from_numpy(probs), torch.from_numpy(y)
    # As pipeline.run computes a run's test metrics, so a run's own test rows give them back.
    metrics = binary_metrics(p, t, threshold)
    metrics["ece"] = calibration(probs, y)["ece"]
    run = model.info.get("run", {})
    record = {
        "status": "evaluated",
        "model": str(model.folder),
        "input": str(source),
        "target": target,
        "rows": done.n,
        "class_counts": {"0": int((y == 0).sum()), "1": int((y == 1).sum())},
        "threshold": {**model.info["threshold"], "value": threshold}
        if args.threshold is None
        else {"value": threshold, "rule": "--threshold"},
        "metrics": metrics,
        "confusion": confusion_counts(p, t, threshold),
        "val": model.info["metrics"]["val"],
        "dataset": run.get("dataset"),
        "choices": run.get("choices") or {},
        "seed": run.get("seed"),
        "unseen": dict(done.unseen),
    }
    lines = [*model.notes, *done.notes]
    if out is not None:
        path = metrics_path(out)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(json.dumps(record, indent=2, default=float))
        os.replace(tmp, path)
        lines.append(f"wrote {out} and {path}")
    lines.append(
        f"evaluated {rows(done.n)} of {source} ({record['class_counts']['1']} labelled "
        f"{model.schema.labels[1]!r}) with {model.folder} at threshold {threshold:.4g}"
    )
    return record, lines


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run folder (it holds model/) or a sweep folder")
    p.add_argument("--keep", action="append", default=[], help="a column to carry (repeatable)")
    p.add_argument("--threshold", type=float, default=None, help="default: the bundle's")
    p.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows scored at once")
    p.add_argument("--dataset", help="a sweep over several datasets: the one to use")


def main(argv: list[str] | None = None) -> int:
    """``imbalance-lab predict|evaluate|export``; returns the exit status (2: a user error,
    printed as one line)."""
    parser = argparse.ArgumentParser(
        prog="imbalance-lab", description="imbalance-lab: use a trained model from the shell."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="score a CSV/Parquet file with a run's or sweep's model")
    _common(p)
    p.add_argument("input", help="rows to score: .csv or .parquet (a model of images: a folder)")
    p.add_argument("--out", required=True, help="scores to write: .csv or .parquet")
    e = sub.add_parser("evaluate", help="metrics of a run's or sweep's model on a labelled file")
    _common(e)
    e.add_argument("input", help="labelled rows: .csv or .parquet")
    e.add_argument("--out", help="also write the scores here, and <name>.metrics.json beside")
    e.add_argument("--target", help="the label column (default: the training file's)")
    x = sub.add_parser("export", help="a run's model as one ONNX graph (onnxruntime alone)")
    x.add_argument("run", help="a run folder (it holds model/)")
    x.add_argument("--onnx", required=True, help="the .onnx file to write")
    args = parser.parse_args(argv)
    args.keep = getattr(args, "keep", [])
    args.keep = [k for item in args.keep for k in item.split(",") if k]
    try:
        if args.command == "predict":
            print(predict(args))
        elif args.command == "export":
            from imbalance_lab.bundle.onnx_export import export

            print(export(args.run, args.onnx))
        else:
            from rich.console import Console

            from imbalance_lab.evaluation.tables import print_run_table

            record, lines = evaluate(args)
            headers = (("val (training)", "val"), (Path(args.input).name, "metrics"))
            print_run_table(record, Console(), splits=headers)
            print("\n".join(lines))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
