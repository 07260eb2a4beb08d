"""Where users run the product: one KEEL-size run against a hand-written loop, and whole sweeps.

KEEL-size run: ``data.name=segment0 strategy=random_over`` with the default MLP and batch size,
trained for the run's own epochs (early stopping) on one thread. In the same process it times
``trainer.fit`` (the run's ``train_s``); ``pipeline.fit_network`` (the same with the module,
callbacks and Trainer built and the best checkpoint read back); the whole run (pipeline.run:
split, resample, fit, threshold, metrics, metrics.json contents, model bundle); and a
hand-written PyTorch loop doing the same optimizer steps with one validation pass (average
precision) per epoch, timed from its network, optimizer and loss built, as ``trainer.fit`` is
handed its module. Rounds are taken in turns and the fastest of each kept, so other processes
on the machine move the seconds more than the ratios.

Sweeps: ``python train.py -m experiment=lab`` (35 runs) and ``experiment=benchmark`` (350 runs)
as a user starts them, wall seconds, with the load average before and after (other processes
on the cores slow every job).

    python scripts/bench_small.py [--rounds 4] [--sweep lab benchmark] [--before DIR]

``--before DIR``: the same measurements of another checkout of the project (an older commit,
e.g. ``git worktree add /tmp/before <commit>``): its KEEL-size run in a process of its own,
importing its package; each sweep run with it and then with this checkout, in turns. The table
printed first compares them, and says whether the two leaderboards hold the same numbers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEEL_RUN = ["data.name=segment0", "strategy=random_over", "threads=1", "figures=false"]


def _config(overrides: list[str], out: Path) -> Any:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    from imbalance_lab.train import CONF_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    OmegaConf.set_readonly(cfg, False)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = cfg.paths.output_dir = str(out)
    HydraConfig().set_config(cfg)
    return cfg


def _hand_loop(cfg: Any, dm: Any, steps: int, epochs: int) -> float:
    """Seconds of a plain PyTorch loop: the run's network, optimizer, loss, batch size and
    optimizer steps, reshuffling each epoch, then validation average precision."""
    import lightning as L
    import torch
    from torchmetrics.functional.classification import binary_average_precision

    from imbalance_lab.objects import build

    L.seed_everything(cfg.seed, verbose=False)
    net = build(cfg.model.net, "model.net", in_features=dm.n_features)
    optimizer = build(cfg.model.optimizer, "model.optimizer")(net.parameters())
    loss_fn = build(cfg.loss, "loss")
    start = time.perf_counter()  # as trainer.fit, which is handed its module built
    X, y = (torch.from_numpy(a) for a in dm.splits["train"])
    X_val, y_val = (torch.from_numpy(a) for a in dm.splits["val"])
    y, bs, done = y.float(), int(dm.batch_size), 0
    generator = torch.Generator().manual_seed(cfg.seed)
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(y), generator=generator)
        X_epoch, y_epoch = X[order], y[order]
        for i in range(0, len(y), bs):
            if done == steps:
                break
            optimizer.zero_grad()
            loss_fn(net(X_epoch[i : i + bs]), y_epoch[i : i + bs]).backward()
            optimizer.step()
            done += 1
        net.eval()
        with torch.no_grad():
            probs = torch.cat([net(X_val[i : i + bs]) for i in range(0, len(X_val), bs)]).sigmoid()
            binary_average_precision(probs, y_val.long())
    return time.perf_counter() - start


def bench_keel_run(rounds: int = 4) -> dict[str, Any]:
    """Fit and whole run of the KEEL-size run against the hand loop, fastest of ``rounds``."""
    import torch

    from imbalance_lab import pipeline

    torch.set_num_threads(1)
    logging.disable(logging.INFO)  # the runs' epoch lines
    fits, setups, runs, hands, result = [], [], [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            # Whole run first (cold in round 0, as a run of its own is), then its fit alone.
            cfg = _config([*KEEL_RUN, "logger=none", "print_table=false"], Path(tmp) / f"run{r}")
            start = time.perf_counter()
            result = pipeline.run(cfg)
            runs.append(time.perf_counter() - start)
            cfg = _config([*KEEL_RUN, "logger=none"], Path(tmp) / f"fit{r}")
            import lightning as L

            L.seed_everything(cfg.seed, verbose=False)
            dm = pipeline.build_datamodule(cfg)
            dm.setup("fit")
            start = time.perf_counter()
            fitted = pipeline.fit_network(cfg, dm)
            setups.append(time.perf_counter() - start)
            fits.append(fitted.train_seconds)  # trainer.fit alone
            steps, epochs = fitted.trainer.global_step, int(fitted.epochs or 0)
            hands.append(_hand_loop(cfg, dm, steps, epochs))
    logging.disable(logging.NOTSET)
    hand = min(hands)
    return {
        "run": " ".join(KEEL_RUN),
        "training_rows": sum(result["class_counts"]["train"].values()),
        "epochs": epochs,
        "optimizer_steps": steps,
        "best_epoch": result["best_epoch"],
        "hand_loop_s": hand,
        "fit_s": min(fits),
        "fit_network_s": min(setups),
        "run_s": min(runs),
        "fit_over_hand": min(fits) / hand,
        "fit_network_over_hand": min(setups) / hand,
        "run_over_hand": min(runs) / hand,
    }


def bench_sweep(experiment: str = "lab", root: Path = ROOT) -> dict[str, Any]:
    """Wall seconds of ``python train.py -m experiment=<experiment>`` in a fresh folder, with the
    checkout in ``root`` (its package imported, PYTHONPATH); the leaderboard's mean test F1 and
    PR-AUC per row, to check that two checkouts give the same numbers."""
    with tempfile.TemporaryDirectory() as tmp:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(root / "train.py"), "-m", f"experiment={experiment}"],
            cwd=root,
            env={**os.environ, "IMBALANCE_LAB_ROOT": tmp, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        runs = len(list(Path(tmp).glob("logs/*/multiruns/*/*/metrics.json")))
        boards = list(Path(tmp).glob("logs/*/multiruns/*/leaderboard.csv"))
        means = _leaderboard_means(boards[0]) if boards else {}
    if proc.returncode != 0:
        raise RuntimeError(f"the sweep failed:\n{proc.stderr[-2000:]}")
    return {
        "experiment": experiment,
        "runs": runs,
        "seconds": seconds,
        "load_average_1m_start_end": [load, os.getloadavg()[0]],
        "leaderboard": means,
    }


def _leaderboard_means(path: Path) -> dict[str, list[float]]:
    import csv

    with path.open() as f:
        return {
            row["strategy"]: [round(float(row[k]), 6) for k in ("f1_mean", "pr_auc_mean")]
            for row in csv.DictReader(f)
            if row.get("f1_mean")
        }


def bench_keel_run_of(folder: Path, rounds: int) -> dict[str, Any]:
    """:func:`bench_keel_run` with the package of the checkout in ``folder`` (an older commit),
    in a process of its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--rounds", str(rounds), "--json", "--sweep"],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(folder)},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the benchmark of {folder} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout[proc.stdout.index("{") :])["keel_run"]


def bench_small(
    rounds: int = 4, sweeps: Sequence[str] = ("lab",), before: Path | None = None
) -> dict[str, Any]:
    """The KEEL-size run and each sweep of ``sweeps``; with ``before`` (another checkout), the
    same for it, the sweeps taken in turns (before, after) so that both meet the same load."""
    report: dict[str, Any] = {"before": None, "sweeps": []}
    if before is not None:
        report["before"] = {"folder": str(before), "sweeps": []}
        report["before"]["keel_run"] = bench_keel_run_of(before, rounds)
    load = os.getloadavg()[0]
    report["keel_run"] = bench_keel_run(rounds)
    report["keel_run"]["load_average_1m_start_end"] = [load, os.getloadavg()[0]]
    for experiment in sweeps:
        if before is not None:
            report["before"]["sweeps"].append(bench_sweep(experiment, before))
        report["sweeps"].append(bench_sweep(experiment))
    return report


def to_markdown(keel: dict[str, Any] | None, sweeps: Sequence[dict[str, Any]]) -> str:
    lines: list[str] = []
    if keel:
        lines += [
            f"## A KEEL-size run ({keel['run']}; {keel['training_rows']:,} training rows, "
            f"{keel['epochs']} epochs, {keel['optimizer_steps']} optimizer steps, one thread)",
            "",
            "Ratio: seconds over a hand-written loop with the same steps and per-epoch "
            "validation (goals: trainer.fit <= 1.3, whole run <= 1.6).",
            "",
            "| path | seconds | ratio |",
            "|---|---:|---:|",
            f"| hand-written loop | {keel['hand_loop_s']:.2f} | 1.00 |",
            f"| trainer.fit | {keel['fit_s']:.2f} | {keel['fit_over_hand']:.2f} |",
        ]
        if "fit_network_s" in keel:
            lines.append(
                "| fit_network (module, callbacks and Trainer built; trainer.fit; best "
                f"checkpoint read) | {keel['fit_network_s']:.2f} | "
                f"{keel['fit_network_over_hand']:.2f} |"
            )
        lines.append(
            f"| whole run (pipeline.run) | {keel['run_s']:.2f} | {keel['run_over_hand']:.2f} |"
        )
        if "load_average_1m_start_end" in keel:
            start, end = keel["load_average_1m_start_end"]
            lines += ["", f"Load average {start:.1f} at the start, {end:.1f} at the end."]
    for sweep in sweeps:
        start, end = sweep["load_average_1m_start_end"]
        lines += [
            "",
            f"## Sweep: python train.py -m experiment={sweep['experiment']}",
            "",
            f"{sweep['runs']} runs in {sweep['seconds']:.1f} s (load average {start:.1f} at the "
            f"start, {end:.1f} at the end).",
        ]
    return "\n".join(lines).strip()


def before_after_markdown(report: dict[str, Any]) -> str:
    """One table: the KEEL-size run's ratios and each sweep's seconds, before and after, and
    whether the sweeps' leaderboards (mean test F1 and PR-AUC per row) are the same."""
    before, keel = report["before"], report["keel_run"]
    old = before["keel_run"]
    lines = [
        f"## Before ({before['folder']}) and after (this checkout)",
        "",
        "| measure | before | after |",
        "|---|---:|---:|",
        f"| KEEL-size run: trainer.fit / hand loop | {old['fit_over_hand']:.2f} | "
        f"{keel['fit_over_hand']:.2f} |",
        f"| KEEL-size run: whole run / hand loop | {old['run_over_hand']:.2f} | "
        f"{keel['run_over_hand']:.2f} |",
    ]
    for a, b in zip(before["sweeps"], report["sweeps"], strict=True):
        same = "same" if a["leaderboard"] == b["leaderboard"] else "DIFFERENT"
        lines.append(
            f"| experiment={b['experiment']} ({b['runs']} runs), seconds; leaderboard {same} | "
            f"{a['seconds']:.1f} | {b['seconds']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument(
        "--sweep",
        nargs="*",
        default=["lab"],
        help="experiments to time as whole sweeps: lab (35 runs), benchmark (350 runs); none: "
        "--sweep with no name",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--before", type=Path, default=None, help="an older checkout to compare")
    args = p.parse_args()
    report = bench_small(args.rounds, args.sweep, args.before)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        if report["before"]:
            print(before_after_markdown(report), "\n")
        print(to_markdown(report["keel_run"], report["sweeps"]))
