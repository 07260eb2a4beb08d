"""Throughput of the lab's training path and resamplers, as ratios against baselines run alongside.

Usage:
    python scripts/benchmark.py [--rows 1000000] [--features 30] [--minority 0.01]
                                [--only training|resampling|parallel|predict|tables|images|small]
                                [--table-rows 40000 1000000] [--json PATH] [--md PATH]
                                [--sweeps lab benchmark] [--before DIR]

Training: one epoch of an MLP 30-64-64-1 (AdamW, BCE with logits) over in-memory data.
    baseline  a hand-written loop slicing pre-shuffled tensors (ratio 1.00); also the same
              loop reshuffling every epoch as hand-written loops usually do (randperm, X[idx])
    lab       lightning.Trainer fitting imbalance_lab's ImbalanceClassifier on TensorBatches,
              with data.batches_per_fetch as configured, and with 1 batch per Lightning step
    also      DataLoader(TensorDataset) in the hand-written loop, for reference, and a
              diagnostic bare LightningModule that locates Lightning's own overhead.
Resampling: fit_resample of every lab sampler at --rows; for TomekLinks and NearMiss, imblearn's
    class against imbalance_lab.data.samplers (speed ratio, identical output or not).
Memory: peak RSS of a fresh process that runs SMOTE, against the resampled float32 train set;
    and of reading + encoding a table with an id and a high-cardinality column
    (scripts/bench_tables.py, at --table-rows), against the table's size.
Scoring (bench_predict.py): imbalance-lab predict on --rows x --features from Parquet against a
    hand-written loop over the same file and network in the same process; peak RSS per chunk.
Images (bench_images.py): images/s of data=images' training loader against a hand-written
    Pillow + DataLoader loop on the same folder of PNGs.
Small (bench_small.py): a KEEL-size run (segment0, random_over, defaults, one thread): fit and
    whole run against a hand-written loop with the same steps; python train.py -m
    experiment=lab (--sweeps lab benchmark: and the 350-run benchmark), wall seconds with the
    load average; --before DIR: the same for an older checkout, before/after in one table.

Progress goes to stderr; the markdown tables to --md, or stdout without it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

# imblearn's all-vs-all searches: quadratic time (TomekLinks) or a majority x minority float64
# matrix twice over (NearMiss-2). Above this many rows they are not run.
IMBLEARN_QUADRATIC_MAX_ROWS = 200_000
SKIP_NOTE = "skipped: quadratic / out of memory at this size"
HIDDEN = (64, 64)
BATCH_SIZES = (1024, 4096)
WARMUP_STEPS = 20


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_data(rows: int, features: int, minority: float, seed: int) -> tuple[np.ndarray, ...]:
    """Standard-normal float32 features; minority rows (label 1) shifted on 5 features."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < minority).astype(np.int64)
    y[:2] = 1  # at least two minority rows, whatever the size
    X = rng.standard_normal((rows, features), dtype=np.float32)
    X[:, : min(5, features)] += 0.8 * y[:, None].astype(np.float32)
    return X, y


def peak_rss_mib() -> float:
    """Peak RSS of this process (getrusage). Linux carries it over ``exec`` from the process
    that forked, so a probe must be started while its parent is still small."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def vm_hwm_mib() -> float | None:
    """Peak RSS of this process image alone (/proc VmHWM, reset by exec), as a cross-check."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------------------- training


def bench_training(
    X_np: np.ndarray, y_np: np.ndarray, seed: int, repeat: int, device: str = "cpu"
) -> list[dict[str, Any]]:
    import lightning as L
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from imbalance_lab.data.batches import TensorBatches
    from imbalance_lab.models.module import ImbalanceClassifier
    from imbalance_lab.models.networks import MLP

    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*GPU available but not used.*")
    warnings.filterwarnings("ignore", ".*val_dataloader.*")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)

    from omegaconf import OmegaConf

    from imbalance_lab.train import CONF_DIR

    # The lab path runs as the config would run it.
    per_fetch = int(OmegaConf.load(CONF_DIR / "data" / "_split.yaml").batches_per_fetch)

    n, features = X_np.shape
    # Every path starts from the data on the training device (the lab: data.on_device=auto).
    X = torch.from_numpy(X_np).to(device)
    y = torch.from_numpy(y_np.astype(np.float32)).to(device)
    on_gpu = torch.device(device).type == "cuda"

    def sync() -> None:  # GPU kernels run asynchronously: time them to completion
        if on_gpu:
            torch.cuda.synchronize()

    def new_net() -> nn.Module:
        torch.manual_seed(seed)
        return MLP(features, hidden_sizes=HIDDEN, dropout=0.0).to(device)

    def hand_loop(batches: Any, max_steps: int | None = None) -> tuple[int, int]:
        """The hand-written loop; returns (steps, samples)."""
        net = new_net()
        opt = torch.optim.AdamW(net.parameters())
        loss_fn = nn.BCEWithLogitsLoss()
        net.train()
        steps = samples = 0
        for xb, yb in batches:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            steps += 1
            samples += len(yb)
            if max_steps is not None and steps >= max_steps:
                break
        sync()
        return steps, samples

    def sliced(Xs: torch.Tensor, ys: torch.Tensor, bs: int) -> Any:
        for start in range(0, len(ys), bs):
            yield Xs[start : start + bs], ys[start : start + bs]

    def reshuffled(Xs: torch.Tensor, ys: torch.Tensor, bs: int) -> Any:
        perm = torch.randperm(len(ys), device=Xs.device)
        for start in range(0, len(ys), bs):
            idx = perm[start : start + bs]
            yield Xs[idx], ys[idx]

    class StepTimer(L.Callback):
        """Time from the first fetch at or past step WARMUP_STEPS to the end of the epoch
        (steady state). A fetch is one batch, or a list of them (batches_per_fetch > 1)."""

        def __init__(self, per_fetch: int) -> None:
            self.first = -(-WARMUP_STEPS // per_fetch)
            self.start = self.end = 0.0
            self.samples = 0

        def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
            if batch_idx == self.first:
                self.start = time.perf_counter()
            if batch_idx >= self.first:
                fetched = [batch] if isinstance(batch[0], torch.Tensor) else batch
                self.samples += sum(len(b[1]) for b in fetched)

        def on_train_epoch_end(self, trainer, module) -> None:
            sync()
            self.end = time.perf_counter()

    class BareModule(L.LightningModule):
        """Diagnostic: Lightning alone, a training_step that only returns the loss."""

        def __init__(self) -> None:
            super().__init__()
            self.net = new_net()
            self.loss_fn = nn.BCEWithLogitsLoss()

        def training_step(self, batch, _):
            return self.loss_fn(self.net(batch[0]), batch[1])

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW(self.parameters())

    def lightning_fit(
        module: L.LightningModule, bs: int, per_fetch: int, limit: int | None = None
    ) -> dict:
        timer = StepTimer(per_fetch)
        trainer = L.Trainer(
            max_epochs=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="gpu" if on_gpu else "cpu",
            devices=1,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            limit_train_batches=limit if limit is not None else 1.0,
            callbacks=[timer],
        )
        batches = TensorBatches(X, y, bs, shuffle=True, seed=seed, batches_per_fetch=per_fetch)
        start = time.perf_counter()
        trainer.fit(module, train_dataloaders=batches)
        wall = time.perf_counter() - start
        steady = None  # too few steps past the warm-up to say
        if timer.start and timer.end > timer.start:
            steady = timer.samples / (timer.end - timer.start)
        return {"seconds": wall, "samples_per_s": n / wall, "steady_samples_per_s": steady}

    results: list[dict[str, Any]] = []
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(device)
    X_shuf, y_shuf = X[perm].contiguous(), y[perm].contiguous()
    for bs in BATCH_SIZES:
        hand_variants: list[tuple[str, Any]] = [
            (
                "baseline: hand loop, pre-shuffled tensor slices",
                lambda bs=bs: sliced(X_shuf, y_shuf, bs),
            ),
            # What a hand-written loop that reshuffles every epoch typically does.
            (
                "hand loop, randperm each epoch, X[idx] per batch",
                lambda bs=bs: reshuffled(X, y, bs),
            ),
            # The lab's loader alone (a permutation copy each epoch) in the same loop.
            (
                "hand loop, lab TensorBatches (shuffle)",
                lambda bs=bs: TensorBatches(X, y, bs, shuffle=True, seed=seed),
            ),
        ]
        # Reference: collates one row at a time. Slow, so timed once, after the rounds (its
        # millions of small allocations slow down whatever runs next).
        reference = (
            "hand loop, DataLoader(TensorDataset) (reference)",
            lambda bs=bs: DataLoader(
                TensorDataset(X.cpu(), y.cpu()), batch_size=bs, shuffle=True, pin_memory=on_gpu
            ),
        )
        lab_variants: list[tuple[str, Any, int, str]] = [
            (
                "lab: Trainer + ImbalanceClassifier + TensorBatches",
                ImbalanceClassifier,
                per_fetch,
                f"batches_per_fetch={per_fetch} (the default)",
            ),
            (
                "lab, one batch per Lightning step",
                ImbalanceClassifier,
                1,
                "batches_per_fetch=1",
            ),
            ("diagnostic: Trainer + bare LightningModule", None, 1, "loss only, no self.log"),
        ]

        def build(cls: Any) -> L.LightningModule:
            return BareModule() if cls is None else cls(new_net(), nn.BCEWithLogitsLoss())

        # Warm-up: a few steps of each (imports, kernels, Trainer machinery).
        for _, make in [*hand_variants, reference]:
            hand_loop(make(), max_steps=WARMUP_STEPS)
        for _, cls, k, _ in lab_variants:
            lightning_fit(build(cls), bs, k, limit=-(-WARMUP_STEPS // k))

        def hand_epoch(make: Any) -> dict[str, Any]:
            start = time.perf_counter()
            hand_loop(make())
            seconds = time.perf_counter() - start
            # The hand loops have no setup: their steady rate is their rate.
            return {"seconds": seconds, "steady_samples_per_s": n / seconds, "note": ""}

        def lab_epoch(cls: Any, batch_size: int, per_fetch: int, note: str) -> dict[str, Any]:
            return {**lightning_fit(build(cls), batch_size, per_fetch), "note": note}

        paths: list[tuple[str, Any]] = [
            *((name, partial(hand_epoch, make)) for name, make in hand_variants),
            *((name, partial(lab_epoch, cls, bs, k, note)) for name, cls, k, note in lab_variants),
        ]
        # `repeat` rounds, each path once per round, in turns (reversed every other round) so
        # that a busy spell on the machine does not fall on one path only. Per path: the best
        # round; and its steady samples/s over the baseline's in each round, since paths in
        # one round share the machine's state of the moment (its load comes in bursts).
        best: dict[str, dict[str, Any]] = {}
        rounds: dict[str, list[float | None]] = {}
        for attempt in range(repeat + 1):
            if attempt < repeat:
                in_turn = paths if attempt % 2 == 0 else paths[::-1]
            else:
                in_turn = [(reference[0], partial(hand_epoch, reference[1]))]
            for name, run_epoch in in_turn:
                res = run_epoch()
                rounds.setdefault(name, []).append(res["steady_samples_per_s"])
                if name not in best:
                    best[name] = res
                    continue
                steady = max(
                    res["steady_samples_per_s"] or 0, best[name]["steady_samples_per_s"] or 0
                )
                if res["seconds"] < best[name]["seconds"]:
                    best[name] = res
                best[name]["steady_samples_per_s"] = steady or None

        rows: list[dict[str, Any]] = []
        names = [v[0] for v in hand_variants] + [reference[0]] + [v[0] for v in lab_variants]
        for name in names:
            res = best[name]
            row = {
                "path": name,
                "batch_size": bs,
                "seconds": res["seconds"],
                "samples_per_s": n / res["seconds"],
                "steady_samples_per_s": res["steady_samples_per_s"],
                "epochs_timed": 1 if "DataLoader" in name else repeat,
                "note": res["note"],
            }
            rows.append(row)
            log(f"  train bs={bs} {name}: {row['seconds']:.2f}s, {row['samples_per_s']:,.0f}/s")
        base = rows[0]
        base_rounds = rounds[base["path"]]
        for row in rows:
            row["ratio"] = row["samples_per_s"] / base["samples_per_s"]
            steady = row["steady_samples_per_s"]
            row["steady_ratio"] = steady / base["steady_samples_per_s"] if steady else None
            # The reference runs once, after the rounds: against the last round's baseline.
            own = rounds[row["path"]]
            pairs = zip(own, base_rounds[-len(own) :], strict=True)
            paired = [rate / base_rate for rate, base_rate in pairs if rate]
            row["steady_ratio_per_round"] = paired
            row["median_round_ratio"] = float(np.median(paired)) if paired else None
        results += rows
    return results


# -------------------------------------------------------------------------------- resampling


def _samplers() -> list[tuple[str, str, Any, bool]]:
    """(name, implementation, factory, quadratic) with the parameters of conf/sampler/*.yaml.
    Quadratic: every row searched against all rows, whichever implementation."""
    from imblearn import combine
    from imblearn import over_sampling as over
    from imblearn import under_sampling as under

    from imbalance_lab.data import samplers as fast

    out: list[tuple[str, str, Any, bool]] = [
        ("RandomOverSampler", "imblearn", lambda: over.RandomOverSampler(random_state=0), False),
        ("SMOTE", "imblearn", lambda: over.SMOTE(k_neighbors=5, random_state=0), False),
        ("ADASYN", "imblearn", lambda: over.ADASYN(n_neighbors=5, random_state=0), False),
        ("RandomUnderSampler", "imblearn", lambda: under.RandomUnderSampler(random_state=0), False),
        ("TomekLinks", "imbalance_lab", fast.TomekLinks, False),
        ("TomekLinks", "imblearn", under.TomekLinks, False),
    ]
    for version in (1, 2, 3):
        params = {"version": version, "n_neighbors": 3, "n_neighbors_ver3": 3}
        ours = (f"NearMiss-{version}", "imbalance_lab", lambda p=params: fast.NearMiss(**p), False)
        out += [ours, (ours[0], "imblearn", lambda p=params: under.NearMiss(**p), False)]
    # The ENN family and the combinations are (imblearn) or may be (ours) quadratic: run at
    # --quadratic-rows, against each other. Ours ENN also runs at --rows (see data/samplers/enn.py).
    enn = {"n_neighbors": 3, "kind_sel": "all"}
    full_enn = partial(fast.EditedNearestNeighbours, **enn)
    out.append(("EditedNearestNeighbours", "imbalance_lab", full_enn, False))
    for name, params, module in [
        ("EditedNearestNeighbours", enn, under),
        ("RepeatedEditedNearestNeighbours", enn, under),
        ("AllKNN", enn, under),
        ("NeighbourhoodCleaningRule", {"n_neighbors": 3}, under),
        ("SMOTEENN", {"random_state": 0}, combine),
        ("SMOTETomek", {"random_state": 0}, combine),
    ]:
        out.append((name, "imbalance_lab", lambda n=name, p=params: getattr(fast, n)(**p), True))
        out.append((name, "imblearn", lambda n=name, p=params, m=module: getattr(m, n)(**p), True))
    return out


def bench_resampling(
    X_all: np.ndarray, y_all: np.ndarray, quadratic_rows: int
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    ours: dict[str, tuple[Any, Any, Any]] = {}
    for name, impl, factory, quadratic in _samplers():
        X, y = X_all, y_all
        if quadratic and len(y_all) > quadratic_rows:
            X, y = X_all[:quadratic_rows], y_all[:quadratic_rows]  # rows are i.i.d.
        rows = len(y)
        row: dict[str, Any] = {"sampler": name, "impl": impl, "rows_in": rows}
        too_big = name in ("TomekLinks", "NearMiss-2") and impl == "imblearn"
        if too_big and rows > IMBLEARN_QUADRATIC_MAX_ROWS:
            row.update(seconds=None, note=SKIP_NOTE)
            results.append(row)
            log(f"  resample {name} [{impl}]: {SKIP_NOTE}")
            continue
        sampler = factory()
        start = time.perf_counter()
        X_res, y_res = sampler.fit_resample(X, y)
        row["seconds"] = time.perf_counter() - start
        row["rows_out"] = len(y_res)
        row["minority_out"] = int((y_res == 1).sum())
        row["note"] = f"quadratic: run at {rows:,} rows" if quadratic else ""
        indices = getattr(sampler, "sample_indices_", None)
        # Ours ENN (alone, or SMOTEENN's step): the rows searched among all rows, the part of
        # its work that stays quadratic. Every row it removes is among them.
        cleaner = getattr(sampler, "enn_", sampler)
        if name in ("EditedNearestNeighbours", "SMOTEENN") and impl == "imbalance_lab":
            row["searched_rows"] = int(sum(cleaner.searched_rows_.values()))
        if impl == "imbalance_lab":
            ours[name] = (X_res, y_res, indices)
            if name in ("NearMiss-1", "NearMiss-3"):
                row["note"] = "delegates to imblearn"
        elif name in ours:
            X_o, y_o, idx_o = ours.pop(name)
            row["identical_to_ours"] = bool(
                np.array_equal(X_o, X_res)
                and np.array_equal(y_o, y_res)
                and (idx_o is None or np.array_equal(idx_o, indices))
            )
            mine = next(
                r for r in reversed(results) if r["sampler"] == name and r["impl"] != "imblearn"
            )
            mine["speedup_vs_imblearn"] = row["seconds"] / mine["seconds"]
            mine["identical_to_imblearn"] = row["identical_to_ours"]
        results.append(row)
        log(f"  resample {name} [{impl}]: {row['seconds']:.2f}s -> {len(y_res):,} rows")
        del X_res, y_res
    return results


def smote_rss_probe(rows: int, features: int, minority: float, seed: int) -> dict[str, Any]:
    """Run in a fresh process: peak RSS around one SMOTE resample."""
    from imblearn.over_sampling import SMOTE

    X, y = make_data(rows, features, minority, seed)
    before, hwm_before = peak_rss_mib(), vm_hwm_mib()
    start = time.perf_counter()
    X_res, y_res = SMOTE(k_neighbors=5, random_state=0).fit_resample(X, y)
    seconds = time.perf_counter() - start
    after, hwm_after = peak_rss_mib(), vm_hwm_mib()
    train_set = len(y_res) * (features + 1) * 4 / 2**20  # X and y as float32, as trained on
    return {
        "rows_in": rows,
        "rows_out": len(y_res),
        "X_res_dtype": str(X_res.dtype),
        "smote_seconds": seconds,
        "input_mib": (X.nbytes + y.nbytes) / 2**20,
        "resampled_float32_mib": train_set,
        "peak_rss_before_smote_mib": before,
        "peak_rss_after_smote_mib": after,
        "peak_rss_over_resampled_set": after / train_set,
        "smote_peak_growth_mib": after - before,
        "vm_hwm_before_smote_mib": hwm_before,
        "vm_hwm_after_smote_mib": hwm_after,
    }


def run_rss_probe(args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--smote-rss-probe",
        f"--rows={args.rows}",
        f"--features={args.features}",
        f"--minority={args.minority}",
        f"--seed={args.seed}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------- output


def _fmt(value: Any, spec: str = ".2f") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    return format(value, spec)


def to_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    c = report["config"]
    lines = [
        f"# imbalance-lab benchmark: {c['rows']:,} rows x {c['features']} features, "
        f"{c['minority']:.1%} minority",
        "",
        f"Machine: {m['cpus']} CPU cores available, torch {m['torch_threads']} threads, "
        f"{m['platform']}; python {m['python']}, {m['versions']}. Load average (1 min) at "
        f"start / end: {m['load_average_1m_start_end'][0]:.2f} / "
        f"{m['load_average_1m_start_end'][1]:.2f}."
        + (f" GPU: {m['gpu']}." if m.get("gpu") else ""),
        "",
    ]
    if "training" in report:
        lines += [
            "## Training throughput (1 epoch, MLP 30-64-64-1, AdamW, BCE with logits, "
            f"{c.get('device', 'cpu')})",
            "",
            "Ratio: samples/s over the baseline's, same batch size, same run. `seconds` is "
            f"the best of {report['config'].get('repeat', 1)} epochs after a warm-up "
            "(DataLoader: one); for the Trainer rows the whole `trainer.fit` call. "
            f"`steady` leaves out the first {WARMUP_STEPS} steps of the fit (Trainer setup). "
            "`median per round`: the paths run in turns, once per round; the median over "
            "rounds of steady samples/s over the baseline's in the same round (robust to "
            "bursts of load from elsewhere on the machine).",
            "",
            "| batch | path | seconds | samples/s | ratio | steady samples/s | steady ratio "
            "| median per round |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in report["training"]:
            lines.append(
                f"| {r['batch_size']} | {r['path']} | {r['seconds']:.2f} | "
                f"{r['samples_per_s']:,.0f} | {r['ratio']:.2f} | "
                f"{_fmt(r['steady_samples_per_s'], ',.0f')} | {_fmt(r['steady_ratio'])} | "
                f"{_fmt(r.get('median_round_ratio'))} |"
            )
        lines.append("")
    if "resampling" in report:
        lines += [
            "## Resampling (fit_resample)",
            "",
            "Speed-up: imblearn's seconds over ours, same data, same run. Identical: same "
            "X, y and sample_indices_. The ENN family and the combinations (imblearn's search "
            "every row against all rows) run on the first rows only; the estimate at "
            f"{c['rows']:,} rows is seconds x (rows / rows in)^2, right for imblearn's, an upper "
            "bound for ours (ENN bounds most rows without a search; see the ENN row at full "
            "size). Ours search on the GPU when there is one.",
            "",
            "| sampler | implementation | rows in | seconds | rows out | speed-up vs imblearn "
            f"| identical | est. seconds at {c['rows']:,} rows | note |",
            "|---|---|---:|---:|---:|---:|---|---:|---|",
        ]

        def estimate(r: dict[str, Any]) -> float | None:
            if r.get("seconds") is None or r["rows_in"] >= c["rows"]:
                return None
            return r["seconds"] * (c["rows"] / r["rows_in"]) ** 2

        for r in report["resampling"]:
            note = r.get("note", "")
            # Ours at full size against imblearn's quadratic estimate at that size.
            reference = [
                estimate(q)
                for q in report["resampling"]
                if q["sampler"] == r["sampler"] and q["impl"] == "imblearn" and estimate(q)
            ]
            if r["impl"] == "imbalance_lab" and r["rows_in"] == c["rows"] and reference:
                speedup = reference[0] / r["seconds"]
                note = f"imblearn's estimated {reference[0]:,.0f} s: {speedup:.1f}x"
            if r.get("searched_rows") is not None:
                removed = r["rows_in"] - r["rows_out"] if r["sampler"] != "SMOTEENN" else None
                note += f"{'; ' if note else ''}searched in full: {r['searched_rows']:,} rows"
                if removed is not None:
                    note += f" ({r['searched_rows'] / r['rows_in']:.1%}; removed {removed:,})"
            lines.append(
                f"| {r['sampler']} | {r['impl']} | {r['rows_in']:,} | {_fmt(r.get('seconds'))} | "
                f"{_fmt(r.get('rows_out'), ',')} | {_fmt(r.get('speedup_vs_imblearn'))} | "
                f"{_fmt(r.get('identical_to_imblearn', r.get('identical_to_ours')))} | "
                f"{_fmt(estimate(r), ',.0f')} | {note} |"
            )
        lines.append("")
    if "memory" in report:
        mem = report["memory"]
        lines += [
            "## Memory: SMOTE in a fresh process",
            "",
            "| rows in | rows out | resampled train set (float32 X+y) | peak RSS before "
            "SMOTE | peak RSS after SMOTE | peak RSS / train set | SMOTE's peak growth / "
            "train set |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {mem['rows_in']:,} | {mem['rows_out']:,} | "
            f"{mem['resampled_float32_mib']:.0f} MiB | {mem['peak_rss_before_smote_mib']:.0f} "
            f"MiB | {mem['peak_rss_after_smote_mib']:.0f} MiB | "
            f"{mem['peak_rss_over_resampled_set']:.2f} | "
            f"{mem['smote_peak_growth_mib'] / mem['resampled_float32_mib']:.2f} |",
            "",
            f"Peak RSS from getrusage; /proc VmHWM {_fmt(mem['vm_hwm_before_smote_mib'], '.0f')}"
            f" -> {_fmt(mem['vm_hwm_after_smote_mib'], '.0f')} MiB. The input "
            f"(float32 X, int64 y) is {mem['input_mib']:.0f} MiB. SMOTE took "
            f"{mem['smote_seconds']:.2f}s; its output dtype is {mem['X_res_dtype']}.",
            "",
        ]
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    import imblearn
    import sklearn
    import torch

    versions = f"torch {torch.__version__}, sklearn {sklearn.__version__}, "
    versions += f"imblearn {imblearn.__version__}"
    try:
        import lightning

        versions += f", lightning {lightning.__version__}"
    except ImportError:
        pass
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--features", type=int, default=30)
    p.add_argument("--minority", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--only",
        choices=("training", "resampling", "parallel", "predict", "tables", "images", "small"),
    )
    p.add_argument(
        "--table-rows",
        type=int,
        nargs="+",
        default=[40_000, 1_000_000],
        help="tables: rows of the id-column tables whose reading is measured",
    )
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument(
        "--repeat", type=int, default=9, help="training: rounds (epochs per path, taken in turns)"
    )
    p.add_argument("--device", default="cpu", help="training: cpu or cuda (a GPU)")
    p.add_argument(
        "--quadratic-rows",
        type=int,
        default=50_000,
        help="resampling: rows for the samplers that stay quadratic (ENN family, combinations)",
    )
    p.add_argument(
        "--sweeps",
        nargs="*",
        default=["lab"],
        help="small: experiments timed as whole sweeps (lab: 35 runs, benchmark: 350 runs)",
    )
    p.add_argument(
        "--before",
        type=Path,
        help="small: an older checkout (git worktree add DIR COMMIT) measured beside this one",
    )
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    p.add_argument("--md", type=Path, help="write the markdown tables here (default: stdout)")
    p.add_argument("--smote-rss-probe", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.smote_rss_probe:
        print(json.dumps(smote_rss_probe(args.rows, args.features, args.minority, args.seed)))
        return

    memory = None
    if args.only in (None, "resampling"):
        # First, while this process is small: the probe inherits its peak RSS (see above).
        log("SMOTE peak RSS probe ...")
        memory = run_rss_probe(args)
    tables = None
    if args.only in (None, "tables"):
        from bench_tables import bench_tables  # scripts/ is on sys.path when run as a script

        log("tables: peak RSS probes ...")  # as early, for the same reason
        tables = bench_tables(args.table_rows)
    if args.only == "images":  # no table data needed
        from bench_images import bench_images
        from bench_images import to_markdown as images_markdown

        log("images ...")
        markdown = images_markdown(bench_images())
        if args.md:
            args.md.write_text(markdown + "\n")
        else:
            print(markdown)
        return
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    X, y = make_data(args.rows, args.features, args.minority, args.seed)
    report: dict[str, Any] = {
        "machine": machine_info(),
        "config": {
            "rows": args.rows,
            "features": args.features,
            "minority": args.minority,
            "minority_rows": int(y.sum()),
            "seed": args.seed,
            "repeat": args.repeat,
            "device": args.device,
        },
    }
    if tables is not None:
        report["tables"] = tables
    if args.only in (None, "training"):
        log("training ...")
        report["training"] = bench_training(X, y, args.seed, args.repeat, args.device)
    if args.only in (None, "parallel"):
        from bench_parallel import bench_parallel  # scripts/ is on sys.path when run as a script

        log("parallel jobs ...")
        report["parallel"] = bench_parallel()
    if args.only in (None, "predict"):
        from bench_predict import bench_predict  # scripts/ is on sys.path when run as a script

        log("scoring ...")
        report["predict"] = bench_predict(X, repeat=min(args.repeat, 5), threads=args.threads)
    if args.only is None:
        from bench_images import bench_images

        log("images ...")
        report["images"] = bench_images()
    if args.only in (None, "small"):
        from bench_small import bench_small  # scripts/ is on sys.path

        log(f"a KEEL-size run against a hand-written loop; sweeps {args.sweeps} ...")
        report["small"] = bench_small(sweeps=args.sweeps, before=args.before)
    if args.only in (None, "resampling"):
        log("resampling ...")
        report["resampling"] = bench_resampling(X, y, args.quadratic_rows)
        report["memory"] = memory
    report["peak_rss_this_process_mib"] = peak_rss_mib()
    # Other processes on the cores distort every ratio: the load says whether there were any.
    report["machine"]["load_average_1m_start_end"] = [load_before[0], os.getloadavg()[0]]

    markdown = to_markdown(report)
    if "parallel" in report:
        from bench_parallel import to_markdown as parallel_markdown

        markdown += "\n\n" + parallel_markdown(report["parallel"])
    if "predict" in report:
        from bench_predict import to_markdown as predict_markdown

        markdown += "\n\n" + predict_markdown(report["predict"])
    if "images" in report:
        from bench_images import to_markdown as images_markdown

        markdown += "\n\n" + images_markdown(report["images"])
    if "small" in report:
        from bench_small import before_after_markdown
        from bench_small import to_markdown as small_markdown

        small = report["small"]
        if small["before"]:
            markdown += "\n\n" + before_after_markdown(small)
        markdown += "\n\n" + small_markdown(small["keel_run"], small["sweeps"])
    if "tables" in report:
        from bench_tables import to_markdown as tables_markdown

        markdown += "\n\n" + tables_markdown(report["tables"])
    if args.md:
        args.md.write_text(markdown + "\n")
    else:
        print(markdown)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
