"""Scoring a Parquet file with ``imbalance-lab predict`` against a hand-written loop that reads
the same file and runs the same network forward, in the same process; and the peak memory of
``predict`` in a fresh process per chunk size.

Both paths read ``ParquetFile.iter_batches`` chunks, apply the same standard scaling, run the
MLP 30-64-64-1 forward and write probability and label to a Parquet file. The bundle is built
from that network and scaler (no training: the weights do not change the cost).

    python scripts/bench_predict.py [--rows 1000000] [--features 30] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HIDDEN = (64, 64)
CHUNK = 1 << 17  # imbalance-lab predict's default --chunk-rows
MEMORY_CHUNKS = (1 << 14, 1 << 17, 1 << 20)


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def make_bundle(folder: Path, X: np.ndarray, seed: int = 0) -> Any:
    """A run folder whose bundle holds an MLP and a standard scaler fitted on ``X``; returns
    the network (eval mode)."""
    import torch

    from imbalance_lab.bundle.columns import RawSchema
    from imbalance_lab.bundle.features import FittedFeatures
    from imbalance_lab.bundle.store import BUNDLE_DIR, network_spec, write_bundle
    from imbalance_lab.models.networks import MLP

    torch.manual_seed(seed)
    net = MLP(X.shape[1], hidden_sizes=HIDDEN, dropout=0.0).eval()
    features = FittedFeatures(
        num=list(range(X.shape[1])), cat=[], fill_num=None, fill_cat=None,
        keep=np.ones(X.shape[1], dtype=bool), scaler="standard",
        offset=X.mean(axis=0, dtype=np.float64), factor=X.std(axis=0, dtype=np.float64),
        categories=[],
    )  # fmt: skip
    names = [f"x{j}" for j in range(X.shape[1])]
    spec = {"_target_": "imbalance_lab.models.networks.MLP", "hidden_sizes": list(HIDDEN),
            "dropout": 0.0}  # fmt: skip
    meta = {
        "kind": "network",
        "features": features.to_json(),
        "raw": RawSchema(names, dtypes={n: "float32" for n in names}).to_json(),
        "threshold": {"value": 0.5, "rule": "fixed"},
        "metrics": {"val": {}, "test": {}},
        "run": {},
        "network": network_spec(spec, X.shape[1]),
    }
    write_bundle(folder / BUNDLE_DIR, meta, net=net)
    return net, features


def hand_loop(file: Path, out: Path, net: Any, offset: np.ndarray, factor: np.ndarray,
              chunk: int) -> int:  # fmt: skip
    """The loop a user would write: read, scale, forward, write. Returns the rows scored."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch

    offset, factor = offset.astype(np.float32), factor.astype(np.float32)
    writer, n = None, 0
    with torch.inference_mode():
        for batch in pq.ParquetFile(file).iter_batches(batch_size=chunk):
            X = np.column_stack([c.to_numpy() for c in batch.columns]).astype(np.float32)
            X = (X - offset) / factor
            p = torch.sigmoid(net(torch.from_numpy(X))).numpy()
            table = pa.table({"probability": p, "label": (p > 0.5).astype(np.int64)})
            writer = writer or pq.ParquetWriter(out, table.schema)
            writer.write_table(table)
            n += len(p)
    writer.close()
    return n


def lab_predict(run: Path, file: Path, out: Path, chunk: int) -> None:
    from imbalance_lab.bundle.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        if main(["predict", str(run), str(file), "--out", str(out), "--chunk-rows", str(chunk)]):
            raise RuntimeError("imbalance-lab predict failed")


def _write(df: Any, path: Path) -> Path:
    df.to_parquet(path)
    return path


def rss_probe(run: Path, file: Path, out: Path, chunk: int) -> dict[str, float]:
    """In a fresh process: RSS once everything is imported and the model loaded, and the
    peak (VmHWM) after ``predict``."""
    import pandas as pd
    import pyarrow.parquet as pq

    from imbalance_lab import load_model

    # Everything predict imports lazily, and one small forward pass, before the baseline.
    first = next(pq.ParquetFile(file).iter_batches(batch_size=1000)).to_pandas()
    lab_predict(run, _write(first, out.with_name("first.parquet")), out, 1000)
    load_model(run).predict_proba(pd.DataFrame(first))
    before = _rss_mib("VmRSS")
    start = time.perf_counter()
    lab_predict(run, file, out, chunk)
    return {"chunk": chunk, "seconds": time.perf_counter() - start, "rss_before_mib": before,
            "peak_mib": _rss_mib("VmHWM")}  # fmt: skip


def bench_predict(X: np.ndarray, repeat: int = 5, threads: int | None = None) -> dict[str, Any]:
    """Rows/s of both paths (rounds in turns, reversed every other round, as the training
    benchmark runs them) and the peak memory per chunk size."""
    import pandas as pd

    rows, features = X.shape
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        file = tmp / "rows.parquet"
        pd.DataFrame(X, columns=[f"x{j}" for j in range(features)]).to_parquet(file)
        net, ft = make_bundle(tmp / "run", X)
        paths = {
            "baseline: hand loop (iter_batches, scale, forward, write)": lambda: hand_loop(
                file, tmp / "hand.parquet", net, ft.offset, ft.factor, CHUNK
            ),
            "lab: imbalance-lab predict": lambda: lab_predict(
                tmp / "run", file, tmp / "lab.parquet", CHUNK
            ),
        }
        for run_path in paths.values():  # warm-up: imports, page cache
            run_path()
        seconds: dict[str, list[float]] = {name: [] for name in paths}
        for attempt in range(repeat):
            order = list(paths.items())
            for name, run_path in order if attempt % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                run_path()
                seconds[name].append(time.perf_counter() - start)
        lab = pd.read_parquet(tmp / "lab.parquet")["probability"].to_numpy()
        hand = pd.read_parquet(tmp / "hand.parquet")["probability"].to_numpy()
        names = list(paths)
        base = seconds[names[0]]
        timing = [
            {
                "path": name,
                "best_seconds": min(s),
                "rows_per_s": rows / min(s),
                "ratio": min(base) / min(s),
                "median_round_ratio": float(np.median(np.array(base) / np.array(s))),
            }
            for name, s in seconds.items()
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": str(threads or ""), "PYTHONPATH": os.getcwd()}
        if not threads:
            env.pop("OMP_NUM_THREADS")
        memory = []
        for chunk in MEMORY_CHUNKS:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-probe", str(tmp / "run"),
                   str(file), str(tmp / "probe.parquet"), str(chunk)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            memory.append(json.loads(out.stdout.strip().splitlines()[-1]))
        return {
            "rows": rows,
            "features": features,
            "chunk": CHUNK,
            "repeat": repeat,
            "file_mib": file.stat().st_size / 2**20,
            "float32_matrix_mib": X.nbytes / 2**20,
            "max_abs_diff_vs_hand": float(np.abs(lab - hand).max()),
            "timing": timing,
            "memory": memory,
        }


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        f"## Scoring: imbalance-lab predict on {result['rows']:,} rows x {result['features']} "
        f"from Parquet (MLP 30-64-64-1, chunks of {result['chunk']:,} rows)",
        "",
        "Ratio: rows/s over the hand loop's (best of "
        f"{result['repeat']} rounds; median per round: paths in turns, each round's ratio). "
        "Goal >= 0.8. Both write probability and label to Parquet. Largest difference of the "
        f"probabilities between the two: {result['max_abs_diff_vs_hand']:.2g}.",
        "",
        "| path | best seconds | rows/s | ratio | median per round |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['path']} | {r['best_seconds']:.2f} | {r['rows_per_s']:,.0f} | {r['ratio']:.2f} | "
        f"{r['median_round_ratio']:.2f} |"
        for r in result["timing"]
    ]
    lines += [
        "",
        f"Peak memory of predict in a fresh process (file {result['file_mib']:.0f} MiB; the whole "
        f"file as float32 would be {result['float32_matrix_mib']:.0f} MiB). Growth: peak RSS "
        "(VmHWM) over the RSS after imports and model load.",
        "",
        "| chunk rows | seconds | RSS after imports | peak RSS | growth |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {m['chunk']:,} | {m['seconds']:.2f} | {m['rss_before_mib']:.0f} MiB | "
        f"{m['peak_mib']:.0f} MiB | {m['peak_mib'] - m['rss_before_mib']:.0f} MiB |"
        for m in result["memory"]
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--features", type=int, default=30)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--rss-probe", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rss_probe:
        run, file, out, chunk = args.rss_probe
        print(json.dumps(rss_probe(Path(run), Path(file), Path(out), int(chunk))))
        raise SystemExit
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    X = np.random.default_rng(0).standard_normal((args.rows, args.features), dtype=np.float32)
    result = bench_predict(X, args.repeat, args.threads)
    print(json.dumps(result, indent=2) if args.json else to_markdown(result))
