"""Sweeps on a real SLURM cluster through ``hydra/launcher=slurm`` (submitit).

``bash scripts/slurm/start.sh`` starts a single-node cluster on localhost; without a cluster
that answers (``sinfo``) and keeps accounting (``sacct``), these tests are skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import ENV, ROOT, SERIAL, TINY

from imbalance_lab.pipeline import run


def _no_cluster() -> str | None:
    """Why no sweep can run on SLURM here, or None."""
    hint = "start one on this machine with: bash scripts/slurm/start.sh"
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return f"no SLURM cluster: sinfo/sbatch not found ({hint})"
    try:
        info = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=5, check=False
        )
    except subprocess.TimeoutExpired:
        return f"no SLURM cluster: sinfo did not answer within 5 s ({hint})"
    if info.returncode != 0:
        return f"no SLURM cluster: sinfo failed: {info.stderr.strip()[:300]} ({hint})"
    states = info.stdout.split()
    if not {"idle", "mixed"} & set(states):
        return f"no SLURM node free to run jobs (node states: {' '.join(states) or 'none'})"
    try:
        acct = subprocess.run(
            ["sacct", "-n", "-X", "-S", "now-1minutes"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"SLURM accounting (sacct) unavailable: {err}"
    if acct.returncode != 0:
        # Without accounting submitit never learns that a killed job ended: the sweep would hang.
        return f"SLURM accounting (sacct) unavailable: {acct.stderr.strip()[:300]} ({hint})"
    return None


NO_CLUSTER = _no_cluster()
pytestmark = pytest.mark.skipif(NO_CLUSTER is not None, reason=str(NO_CLUSTER))
# A job past this many minutes is killed by SLURM: a broken test never leaves work behind.
LIMIT = "hydra.launcher.timeout_min=10"


def _array_ids(sweep: Path) -> list[str]:
    """SLURM ids of the job arrays a sweep submitted (submitit's folders <array>_<task>)."""
    names = (p.name for p in (sweep / ".submitit").glob("*_*"))
    return sorted({m.group(1) for n in names if (m := re.fullmatch(r"(\d+)_\d+", n))})


def _states(sweep: Path) -> dict[str, str]:
    """SLURM accounting's end state of each job of the sweep, by job number: {"0": "COMPLETED"}."""
    states = {}
    for array in _array_ids(sweep):
        out = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", array],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        for line in out.split():
            job, state = line.split("|")
            states[job.partition("_")[2]] = state.split()[0]
    return states


def _job_processes(sweep: Path, task: int) -> list[int]:
    """Pids of the Python processes of the sweep's job ``task`` running on this machine."""
    arrays = set(_array_ids(sweep))
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            if b"submitit.core._submit" not in cmd or not Path(cmd[0].decode()).name.startswith(
                "python"
            ):
                continue
            env = dict(
                kv.split("=", 1)
                for kv in (proc / "environ").read_bytes().decode(errors="replace").split("\0")
                if "=" in kv
            )
        except (OSError, ValueError):
            continue  # ended meanwhile, or not ours to read
        if env.get("SLURM_ARRAY_JOB_ID") in arrays and env.get("SLURM_ARRAY_TASK_ID") == str(task):
            pids.append(int(proc.name))
    return pids


def _cancel(sweep: Path) -> None:
    for array in _array_ids(sweep):
        subprocess.run(["scancel", array], capture_output=True, timeout=30, check=False)


def test_sweep_ends_in_a_leaderboard_when_a_job_is_killed_from_outside(tmp_path: Path) -> None:
    """Jobs of a sweep run as SLURM jobs and end in its leaderboard; one killed from outside
    fails alone, and the sweep still ends (one sweep checks both: each costs a SLURM round)."""
    sweep, log = tmp_path / "sweep", tmp_path / "sweep.log"
    tiny = [o for o in TINY if not o.startswith(("data.n_samples=", "trainer.max_epochs="))]
    # Job #0 trains 1 epoch; job #1 would train for minutes: it is killed while it trains.
    args = [
        "-m", "hydra/launcher=slurm", LIMIT, *tiny, "data.n_samples=3000", "figures=false",
        "callbacks.early_stopping.patience=1000", "trainer.max_epochs=1,400",
        f"hydra.sweep.dir={sweep}",
    ]  # fmt: skip

    def tail() -> str:
        return log.read_text()[-3000:] if log.exists() else ""

    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "train.py"), *args],
            cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        # Wait until job #0 has finished and job #1 runs its training (jobs may queue first).
        deadline, pids = time.time() + 300, []
        while time.time() < deadline and proc.poll() is None:
            started = (sweep / "1" / ".hydra").is_dir() and (sweep / "0" / "metrics.json").exists()
            if started and (pids := _job_processes(sweep, task=1)):
                break
            time.sleep(0.5)
        assert pids, f"job #1 was never seen running on this machine; sweep log:\n{tail()}"
        assert not (sweep / "1" / "metrics.json").exists(), "job #1 ended before it was killed"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)  # as the out-of-memory killer would
        killed = time.time()
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the sweep still waits 120 s after its job was killed; log:\n{tail()}")
        print(f"sweep ended {time.time() - killed:.1f} s after job #1 was killed")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _cancel(sweep)

    assert code != 0, "a sweep with a failed job exits non-zero"
    # They ran as SLURM jobs, and accounting saw them end.
    states = _states(sweep)
    assert states["0"] == "COMPLETED" and states["1"] in ("FAILED", "CANCELLED")
    fast = json.loads((sweep / "0" / "metrics.json").read_text())
    assert fast["status"] == "ok" and fast["epochs"] == 1
    board = sweep / "leaderboard.md"
    assert board.exists(), (
        "the sweep ended without a leaderboard: the launcher raised on the killed job instead of "
        f"recording it as failed; sweep log:\n{tail()}"
    )
    lines = board.read_text().splitlines()
    rows = {r.split("|")[1].strip(): r for r in lines if r.startswith("| ") and "---" not in r}
    rows.pop("strategy")  # the header
    assert set(rows) == {"trainer.max_epochs=1", "trainer.max_epochs=400"}, board.read_text()
    assert "| trainer.max_epochs=1 | 1 |" in rows["trainer.max_epochs=1"]
    assert "| trainer.max_epochs=400 | 0 of 1 |" in rows["trainer.max_epochs=400"]
    assert "killed" in rows["trainer.max_epochs=400"]
    killed_record = json.loads((sweep / "1" / "metrics.json").read_text())
    assert killed_record["status"] == "failed" and "killed" in killed_record["error"]


def test_ddp_as_one_slurm_job_with_two_tasks(tmp_path: Path, make_cfg) -> None:
    """One training as a SLURM job of 2 tasks (srun starts both ranks, Lightning reads SLURM's
    variables, gloo on CPU), as on a multi-node cluster: disjoint shards, the single-process
    numbers."""
    problem = [
        "data=synthetic", "data.n_samples=1500", "data.n_features=6", "data.minority_fraction=0.1",
        "data.class_sep=1.5", "trainer.max_epochs=8", "trainer.accelerator=cpu", "logger=none",
        "print_table=false", "figures=false", "threads=1", "data.cache_dir=null",
        "callbacks.early_stopping.patience=1000",
    ]  # fmt: skip
    shards = tmp_path / "shards"
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    args = [
        "-m", "hydra/launcher=slurm", LIMIT, "hydra.launcher.tasks_per_node=2",
        "trainer=ddp", "trainer.devices=2", "trainer.strategy=ddp", "data.batch_size=32",
        *problem, "+callbacks.shards._target_=record_shards.RecordShards",
        f"+callbacks.shards.out={shards}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "train.py"), *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        _cancel(tmp_path / "sweep")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # One SLURM job (a sweep of one is no job array), its srun step of 2 tasks completed.
    (job,) = [p.name for p in (tmp_path / "sweep" / ".submitit").iterdir() if p.name.isdigit()]
    deadline = time.time() + 60  # the results come back before the tasks have exited
    while True:
        steps = subprocess.run(
            ["sacct", "-n", "-P", "-o", "JobID,State,NTasks", "-j", job],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.split()  # fmt: skip
        if f"{job}.0|COMPLETED|2" in steps or time.time() > deadline:
            break
        time.sleep(1)
    assert f"{job}.0|COMPLETED|2" in steps, steps
    ddp = json.loads((tmp_path / "sweep" / "0" / "metrics.json").read_text())
    assert ddp["status"] == "ok"
    # A sweep whose jobs all finished: exit status 0 (above) and its leaderboard.
    board = pd.read_csv(tmp_path / "sweep" / "leaderboard.csv")
    assert board[["runs", "failed"]].values.tolist() == [[1, 0]]

    ranks = [torch.load(shards / f"rank{r}.pt") for r in (0, 1)]
    # Two processes of one SLURM job, ranks from SLURM_PROCID, joined over gloo.
    assert [r["slurm_procid"] for r in ranks] == ["0", "1"]
    assert ranks[0]["slurm_job_id"] == ranks[1]["slurm_job_id"] == job
    assert ranks[0]["pid"] != ranks[1]["pid"]
    assert all(r["environment"] == "SLURMEnvironment" and r["world_size"] == 2 for r in ranks)
    assert all(r["backend"] == "gloo" for r in ranks)
    # Disjoint shards that together make the epoch (one row repeated to even them out).
    rows = [{tuple(x.tolist()) for x in r["rows"]} for r in ranks]
    n_train = sum(ddp["class_counts"]["train"].values())
    assert len(rows[0] & rows[1]) <= 1
    assert len(rows[0] | rows[1]) == n_train
    assert len(ranks[0]["rows"]) == len(ranks[1]["rows"])  # equal steps: all-reduce needs both

    # The same seed in one process (batch 64 = 2 ranks x 32: the same optimiser steps).
    single = run(make_cfg(*problem, tiny=False))
    assert ddp["class_counts"] == single["class_counts"]
    assert ddp["epochs"] == single["epochs"] == 8
    assert ddp["test"]["roc_auc"] == pytest.approx(single["test"]["roc_auc"], abs=0.05)
    assert ddp["test"]["pr_auc"] == pytest.approx(single["test"]["pr_auc"], abs=0.1)
    assert ddp["test"]["f1"] == pytest.approx(single["test"]["f1"], abs=0.15)


def test_one_optuna_study_shared_by_slurm_jobs(tmp_path: Path) -> None:
    """scripts/slurm/search.sbatch as a job array of 2: two SLURM jobs add their trials to one
    study, and the search's trials are the runs of one leaderboard."""
    optuna = pytest.importorskip("optuna")
    from imbalance_lab.evaluation.leaderboard import leaderboard, load_runs
    from imbalance_lab.search.study import open_storage

    search = tmp_path / "search"
    env = {**ENV, "SEARCH_DIR": str(search), "PYTHON": sys.executable}
    submit = [
        "sbatch", "--parsable", "--array=0-1", "--time=10", f"--output={tmp_path}/%A_%a.out",
        str(ROOT / "scripts" / "slurm" / "search.sbatch"),
        *TINY, SERIAL, "figures=false", "trainer.max_epochs=2", "hydra.sweeper.n_trials=2",
    ]  # fmt: skip
    array = subprocess.run(
        submit, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    try:
        deadline, states = time.time() + 600, {}
        while time.time() < deadline:
            out = subprocess.run(
                ["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", array],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout  # fmt: skip
            states = dict(line.split("|") for line in out.split())
            done = {f"{array}_{i}" for i in (0, 1)} <= set(states)
            if done and not {"PENDING", "RUNNING", "COMPLETING"} & set(states.values()):
                break
            time.sleep(2)
    finally:
        subprocess.run(["scancel", array], capture_output=True, timeout=30, check=False)
    logs = "\n".join(p.read_text()[-1500:] for p in sorted(tmp_path.glob("*.out")))
    assert states == {f"{array}_0": "COMPLETED", f"{array}_1": "COMPLETED"}, logs

    study = optuna.load_study(
        study_name="imbalance", storage=open_storage(str(search / "search.journal"))
    )
    trials = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    folders = {t.number: Path(t.user_attrs["run_dir"]) for t in trials}
    assert {p.parent.name for p in folders.values()} == {"worker_0", "worker_1"}
    # The search's trials are the runs of one leaderboard (python -m imbalance_lab.report DIR).
    runs = load_runs([search])
    assert len(runs) == 4 and all(r["status"] == "ok" for r in runs)
    assert leaderboard(runs)["runs"].sum() == 4
    assert max(
        yaml.safe_load((search / w / "optimization_results.yaml").read_text())["best_value"]
        for w in ("worker_0", "worker_1")
    ) == pytest.approx(study.best_value)
