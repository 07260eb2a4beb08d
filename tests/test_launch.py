"""Launchers, threads per job, distributed training, resuming, unique output folders."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ENV, ROOT, SERIAL, TINY, run_cli

import imbalance_lab
from imbalance_lab.pipeline import PARALLEL_BATCH, resolve_threads, run, training_threads
from imbalance_lab.train import sweep_jobs

CORES = len(os.sched_getaffinity(0))


def test_joblib_sweep_gives_each_job_its_share_of_cores(tmp_path: Path) -> None:
    tiny = [o for o in TINY if not o.startswith("threads=")]  # threads: auto
    run_cli(
        "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "sampler=none,random_over",
        # Steps of 2048 rows: large enough for threads=auto to train on more than one thread.
        "data.batch_size=2048", *tiny, f"hydra.sweep.dir={tmp_path}",
    )  # fmt: skip
    runs = [json.loads(f.read_text()) for f in tmp_path.glob("*/metrics.json")]
    assert len(runs) == 2 and all(r["status"] == "ok" for r in runs)
    assert {r["threads"] for r in runs} == {max(1, CORES // 2)}
    assert (tmp_path / "leaderboard.md").exists()


def test_threads_setting(monkeypatch) -> None:
    from hydra.core.hydra_config import HydraConfig

    monkeypatch.setattr(HydraConfig.instance(), "cfg", None)  # outside any Hydra job
    assert resolve_threads(3) == 3
    assert resolve_threads("auto") == CORES  # outside a sweep: every usable core
    # threads=auto trains small steps on one thread; a number given is kept whatever the step.
    assert training_threads("auto", 4, batch_size=64) == 1
    assert training_threads("auto", 4, batch_size=PARALLEL_BATCH) == 4
    assert training_threads(4, 4, batch_size=64) == 4


def test_sweep_jobs_side_by_side_give_the_serial_leaderboard(tmp_path: Path) -> None:
    tiny = [o for o in TINY if not o.startswith("threads=")]  # threads: auto
    grid = ["strategy=none,random_over", "trainer.max_epochs=2"]
    # In this process, through the Python API: what `train.py -m` runs (tests/test_api.py).
    imbalance_lab.sweep(grid, [SERIAL, *tiny, f"hydra.sweep.dir={tmp_path / 'serial'}"])
    # The default launcher: hydra/launcher=parallel, two jobs at once on two cores or more.
    imbalance_lab.sweep(
        grid, ["hydra.launcher.n_jobs=2", *tiny, f"hydra.sweep.dir={tmp_path / 'side'}"]
    )
    serial = (tmp_path / "serial" / "leaderboard.csv").read_text()
    assert serial.count("\n") >= 3  # header and both strategies
    assert (tmp_path / "side" / "leaderboard.csv").read_text() == serial


def test_sweeps_on_an_accelerator_run_one_job_at_a_time() -> None:
    assert sweep_jobs("cpu") == -1
    assert sweep_jobs("gpu") == sweep_jobs("cuda") == sweep_jobs("mps") == 1


def test_ddp_on_two_cpu_processes_matches_single_process(make_cfg) -> None:
    problem = [
        "data=synthetic", "data.n_samples=1500", "data.n_features=6", "data.minority_fraction=0.1",
        "data.class_sep=1.5", "trainer.max_epochs=8", "trainer.accelerator=cpu", "logger=none",
        "callbacks=none", "print_table=false", "figures=false", "threads=1",
    ]  # fmt: skip
    single = run(make_cfg(*problem, tiny=False))
    # Two ranks with half the batch each make the same optimiser steps as one process.
    ddp_args = [
        "trainer=ddp",
        "trainer.strategy=ddp_spawn",
        "trainer.devices=2",
        "data.batch_size=32",
    ]
    ddp = run(make_cfg(*problem, *ddp_args, "trainer.accelerator=cpu", tiny=False))
    assert ddp["class_counts"] == single["class_counts"]
    assert ddp["epochs"] == single["epochs"] == 8
    # Same data and steps, batches drawn differently: close results.
    assert ddp["test"]["roc_auc"] == pytest.approx(single["test"]["roc_auc"], abs=0.05)
    assert ddp["test"]["f1"] == pytest.approx(single["test"]["f1"], abs=0.15)


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    env = {**ENV, "IMBALANCE_LAB_ROOT": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "train.py"), *TINY, "trainer.max_epochs=1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    runs = list((tmp_path / "logs" / "train" / "runs").glob("*/metrics.json"))
    assert len(runs) == 2


def test_optuna_search_maximises_validation_f1(tmp_path: Path) -> None:
    import yaml

    # In this process, through the Python API: what `train.py -m` runs (tests/test_api.py).
    imbalance_lab.sweep(
        ["hparams_search=optuna", "hydra.sweeper.n_trials=3"],
        ["hydra.sweeper.sampler.n_startup_trials=3", *TINY, SERIAL, "trainer.max_epochs=2",
         f"hydra.sweep.dir={tmp_path}"],
    )  # fmt: skip
    trials_by_dir = {
        str(f.parent): json.loads(f.read_text()) for f in tmp_path.glob("*/metrics.json")
    }
    trials = list(trials_by_dir.values())
    assert len(trials) == 3 and all(t["status"] == "ok" for t in trials)
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(t["val"]["f1"] for t in trials))
    assert {"model.optimizer.lr", "loss.scale", "sampler.sampling_strategy"} <= set(
        best["best_params"]
    )
    # The searched settings reached the runs: each trial resolved its own pos_weight scale.
    assert len({t["settings"]["loss"]["scale"] for t in trials}) == 3
    # The command written for the best trial reruns it: same settings, same validation F1.
    command = shlex.split(best["command"])
    assert command[:2] == ["python", "train.py"]
    rerun = imbalance_lab.run([*command[2:], f"hydra.run.dir={tmp_path / 'rerun'}"])
    assert rerun["val"]["f1"] == pytest.approx(best["best_value"])
    assert rerun["settings"] == trials_by_dir[best["best_run_dir"]]["settings"]


def test_local_submitit_launcher_runs_a_sweep(tmp_path: Path) -> None:
    run_cli("-m", "hydra/launcher=local", "sampler=none,random_over", *TINY,
            f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    runs = [json.loads(f.read_text()) for f in tmp_path.glob("*/metrics.json")]
    assert sorted(r["choices"]["sampler"] for r in runs) == ["none", "random_over"]
    assert all(r["status"] == "ok" for r in runs)
    assert (tmp_path / "leaderboard.md").exists()


def test_quick_exit_freezes_the_heap_once_the_exit_handlers_ran() -> None:
    # What the command line and the sweep workers register: the exit handlers registered
    # before it (logging's flush) still run, and the objects alive then are frozen, so the
    # interpreter's final collections skip them (~1.5 s with torch loaded).
    code = (
        "import atexit, gc, logging\n"
        "from imbalance_lab.quick_exit import exit_quickly\n"
        "def say(when): print(f'frozen in a handler registered {when}:', gc.get_freeze_count())\n"
        "atexit.register(say, 'before')\n"
        "exit_quickly(); exit_quickly()\n"
        "atexit.register(say, 'after')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                         cwd=ROOT, check=True).stdout  # fmt: skip
    lines = dict(line.rsplit(": ", 1) for line in out.splitlines())
    # Exit handlers run last-registered first: the freeze comes after the handlers registered
    # after it, and before those registered earlier (logging's own, at its import).
    assert lines["frozen in a handler registered after"] == "0"
    assert int(lines["frozen in a handler registered before"]) > 1000
    assert out.count("frozen") == 2  # registered once


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped by its new parent) has ended too.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_child_processes_are_found_whatever_their_names(tmp_path: Path) -> None:
    """A process whose name is not UTF-8 (its program file named in Latin-1) is listed like
    any other; decoding it stopped the scan, and with it the worker's exit with its sweep."""
    from hydra_plugins.imbalance_lab_launcher import _child_processes

    odd = os.path.join(os.fsencode(tmp_path), b"\xffsleep")
    os.symlink(b"/bin/sleep", odd)
    children = [subprocess.Popen([odd, "60"]), subprocess.Popen(["sleep", "60"])]
    try:
        found = _child_processes()
        assert all(child.pid in found for child in children)
    finally:
        for child in children:
            child.kill()
            child.wait()


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sweep_workers_end_with_a_killed_launching_process(tmp_path: Path) -> None:
    # joblib's workers, as the sweep launcher sets them up, each busy with a long job; the
    # launching process is killed (kill -9): the workers must not train on without it.
    import signal
    import time

    # Each job also starts a process of its own (as DDP's other ranks are started): it must
    # not outlive the sweep either, even when it ignores SIGTERM (job 1's).
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(120)"
    )
    code = (
        "import os, subprocess, sys, time\n"
        "from joblib import Parallel, delayed\n"
        "from hydra_plugins.imbalance_lab_launcher import _in_worker\n"
        "def job(i):\n"
        "    _in_worker()\n"
        f"    stubborn = [sys.executable, '-c', {stubborn!r}]\n"
        "    child = subprocess.Popen(stubborn if i else ['sleep', '120'], stdout=-1)\n"
        "    if i:\n"
        "        child.stdout.readline()  # SIGTERM is ignored from here on\n"
        f"    path = os.path.join({str(tmp_path)!r}, f'{{os.getpid()}}-{{child.pid}}')\n"
        "    open(path, 'w').close()\n"
        "    time.sleep(120)\n"
        "Parallel(n_jobs=2, backend='loky')(delayed(job)(i) for i in range(2))\n"
    )
    launcher = subprocess.Popen([sys.executable, "-c", code], env=ENV, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = [int(pid) for p in tmp_path.iterdir() for pid in p.name.split("-")]
        assert len(pids) == 4 and all(_alive(pid) for pid in pids)  # 2 workers, 2 children
    finally:
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)
