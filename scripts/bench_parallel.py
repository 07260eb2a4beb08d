"""Parallel jobs on one machine: throughput of N training jobs side by side against one alone.

Each job is a fresh process training the benchmark MLP for a fixed number of steps with a given
number of torch threads. ``threads=auto`` (imbalance_lab.pipeline.resolve_threads) gives each of
N jobs cores // N threads; the oversubscribed row gives every job all cores, which is what
happens when nobody sizes the pools.

    python scripts/bench_parallel.py [--jobs N] [--steps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

JOB = r"""
import sys, time, torch
threads, steps, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(seed)
X, y = torch.randn(65536, 30), (torch.rand(65536) < 0.01).float()
net = torch.nn.Sequential(torch.nn.Linear(30, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                          torch.nn.ReLU(), torch.nn.Linear(64, 1))
opt, loss_fn, bs = torch.optim.AdamW(net.parameters()), torch.nn.BCEWithLogitsLoss(), 1024
for step in range(steps):
    s = (step * bs) % (len(y) - bs)
    opt.zero_grad(); loss_fn(net(X[s:s+bs]).squeeze(-1), y[s:s+bs]).backward(); opt.step()
"""


def _run_jobs(n_jobs: int, threads: int, steps: int) -> float:
    """Wall seconds for ``n_jobs`` processes of ``steps`` steps each, started together."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-c", JOB, str(threads), str(steps), str(i)], env=env)
        for i in range(n_jobs)
    ]
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError("a benchmark job failed")
    return time.perf_counter() - start


def bench_parallel(n_jobs: int | None = None, steps: int = 300) -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0))
    n_jobs = n_jobs or cores
    samples = steps * 1024
    _run_jobs(1, 1, 20)  # warm the file cache and torch import
    one = _run_jobs(1, max(1, cores // n_jobs), steps)
    rows = [{"setup": f"1 job, {max(1, cores // n_jobs)} thread(s)", "seconds": one, "ratio": 1.0}]
    for label, threads in (
        (f"{n_jobs} jobs, threads=auto ({max(1, cores // n_jobs)} each)", max(1, cores // n_jobs)),
        (f"{n_jobs} jobs, oversubscribed ({cores} each)", cores),
    ):
        wall = _run_jobs(n_jobs, threads, steps)
        rows.append(
            {"setup": label, "seconds": wall, "ratio": (n_jobs * samples / wall) / (samples / one)}
        )
    return {"cores": cores, "jobs": n_jobs, "steps_per_job": steps, "rows": rows}


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        f"## Parallel jobs ({result['jobs']} jobs on {result['cores']} cores, "
        f"{result['steps_per_job']} steps of batch 1024 each)",
        "",
        "Ratio: total samples/s over one job alone (goal: >= 0.8 x the number of jobs).",
        "",
        "| setup | seconds | throughput ratio |",
        "|---|---:|---:|",
    ]
    lines += [f"| {r['setup']} | {r['seconds']:.2f} | {r['ratio']:.2f} |" for r in result["rows"]]
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = bench_parallel(args.jobs, args.steps)
    print(json.dumps(result, indent=2) if args.json else to_markdown(result))
