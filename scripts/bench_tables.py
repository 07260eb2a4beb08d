"""Memory of reading and encoding a table with text columns, against the table's size.

A fraud-like CSV: ``txn_id`` (one value per row), 10 float columns, ``merchant`` (one level per
20 rows: a high-cardinality category that is not an identifier) and a 2 % ``Class``. Each case
runs in a fresh process that reads the file with ``load_table`` and builds the network's inputs
(``ImbalanceDataModule.setup``, no sampler); its peak RSS (getrusage) is compared with the
CSV's size and with the raw feature matrix (rows x columns float32).

    python scripts/bench_tables.py [--rows 10000 40000] [--md PATH] [--json PATH]

Cases: ``as is`` (every column; an identifier is refused since data.max_categories) and
``data.drop=[txn_id]`` (``merchant`` one-hot encoded, at most data.max_categories columns).
The parent imports only the standard library and writes the files from a child process too,
so each probe starts small (Linux carries the peak RSS of a forking process over ``exec``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# The checkout this script belongs to, ahead of any installed copy of the package.
ROOT = Path(__file__).resolve().parents[1]
CASES = {"as is": [], "data.drop=[txn_id]": ["txn_id"]}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_table(path: Path, rows: int, seed: int = 0) -> None:
    """Write the benchmark's CSV (run in a child process)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.02).astype(int)
    df = pd.DataFrame(
        rng.standard_normal((rows, 10), dtype=np.float32), columns=[f"f{i}" for i in range(10)]
    )
    df.iloc[:, :3] += y[:, None]
    df.insert(0, "txn_id", [f"T{i:08d}" for i in range(rows)])
    df["merchant"] = [f"M{i:06d}" for i in rng.integers(0, max(1, rows // 20), rows)]
    df["Class"] = y
    df.to_csv(path, index=False)


def probe(path: Path, drop: list[str]) -> dict[str, Any]:
    """Peak RSS of load_table + DataModule.setup on ``path`` (run in a fresh process)."""
    sys.path.insert(0, str(ROOT))
    from imbalance_lab.data import ImbalanceDataModule
    from imbalance_lab.data.tables import load_table
    from imbalance_lab.errors import ConfigError

    start = _peak_mib()
    out: dict[str, Any] = {"peak_after_imports_mib": start}
    try:
        data = load_table(str(path), target="Class", drop=drop)
        out["raw_matrix_mib"] = data.X.nbytes / 2**20
        dm = ImbalanceDataModule(data, sampler=None, seed=0, cache_dir=None)
        dm.setup()
        out["encoded_columns"] = dm.n_features
        out["outcome"] = "encoded"
    except ConfigError as err:
        out["outcome"] = "refused: " + str(err).split("identifiers: ")[-1].split(". ")[0]
    out["peak_mib"] = _peak_mib()
    out["growth_mib"] = out["peak_mib"] - start
    return out


def _child(*args: str) -> str:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def bench_tables(rows: list[int]) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in rows:
            path = Path(tmp) / f"id{n}.csv"
            _child("--make", str(path), str(n))
            for case, drop in CASES.items():
                print(f"  {n:,} rows, {case} ...", file=sys.stderr, flush=True)
                out = json.loads(_child("--probe", str(path), json.dumps(drop)).splitlines()[-1])
                results.append(
                    {"rows": n, "case": case, "csv_mib": path.stat().st_size / 2**20, **out}
                )
            path.unlink()
    return results


def _version() -> str:
    try:
        cmd = ["git", "-C", str(ROOT), "describe", "--always", "--dirty"]
        head = subprocess.run(cmd, capture_output=True, text=True)
        return head.stdout.strip() or "?"
    except OSError:
        return "?"


def to_markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        f"## Memory: reading and encoding a table with an id column (commit {_version()})",
        "",
        "Peak RSS of a fresh process (getrusage) reading the CSV and building the network's "
        "inputs, no sampler; growth = peak minus the peak after imports. raw matrix = rows x "
        "feature columns as float32, the floor any reader pays.",
        "",
        "| rows | case | CSV | raw matrix | peak RSS | growth | growth / CSV | encoded columns "
        "| outcome |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        raw = f"{r['raw_matrix_mib']:.1f} MiB" if "raw_matrix_mib" in r else "-"
        lines.append(
            f"| {r['rows']:,} | {r['case']} | {r['csv_mib']:.1f} MiB | {raw} | "
            f"{r['peak_mib']:,.0f} MiB | {r['growth_mib']:,.0f} MiB | "
            f"{r['growth_mib'] / r['csv_mib']:.1f} | {r.get('encoded_columns', '-')} | "
            f"{r['outcome']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[10_000, 40_000])
    p.add_argument("--md", type=Path)
    p.add_argument("--json", type=Path)
    p.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.make:
        make_table(Path(args.make[0]), int(args.make[1]))
        return
    if args.probe:
        print(json.dumps(probe(Path(args.probe[0]), json.loads(args.probe[1]))))
        return
    results = bench_tables(args.rows)
    markdown = to_markdown(results)
    if args.md:
        args.md.write_text(markdown + "\n")
    else:
        print(markdown)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
