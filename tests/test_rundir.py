"""A run's folder is claimed before anything is written: results are never lost or mixed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ENV, ROOT, TINY, run_cli

from imbalance_lab.errors import ConfigError
from imbalance_lab.rundir import claim, release


def _snapshot(folder: Path) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_two_runs_started_at_once_in_one_folder(tmp_path: Path) -> None:
    def start(sampler: str) -> subprocess.Popen:
        args = [*TINY, f"sampler={sampler}", f"hydra.run.dir={tmp_path}"]
        return subprocess.Popen(
            [sys.executable, str(ROOT / "train.py"), *args],
            cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    procs = [start("none"), start("random_over")]
    codes = [p.wait(timeout=300) for p in procs]
    assert sorted(codes) == [0, 2], [p.stderr.read() for p in procs]
    loser = procs[codes.index(2)].stderr.read()
    assert "hydra.run.dir=" in loser and "Traceback" not in loser
    # The folder holds the winner alone: its config, its overrides and its results agree.
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    overrides = (tmp_path / ".hydra" / "overrides.yaml").read_text()
    winner = metrics["choices"]["sampler"]
    assert f"sampler={winner}" in overrides and f"sampler={winner}" in metrics["overrides"]


def test_rerun_into_a_finished_folder_touches_nothing(tmp_path: Path) -> None:
    run_cli(*TINY, "trainer.max_epochs=1", f"hydra.run.dir={tmp_path}")
    before = _snapshot(tmp_path)
    message = _one_line_error(
        run_cli(*TINY, "sampler=smote", f"hydra.run.dir={tmp_path}", check=False)
    )
    assert "finished run" in message and "hydra.run.dir" in message
    assert _snapshot(tmp_path) == before


def test_sweep_into_a_used_sweep_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "metrics.json").write_text('{"status": "ok"}')
    before = _snapshot(tmp_path)
    proc = run_cli("-m", *TINY, "sampler=none,smote", f"hydra.sweep.dir={tmp_path}", check=False)
    assert "hydra.sweep.dir=" in _one_line_error(proc)
    assert _snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["0"]


def test_foreign_folder_is_refused_without_creating_anything(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"hydra\.run\.dir=.*not empty"):
        claim(tmp_path, "hydra.run.dir")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_claim_is_exclusive_while_held_and_free_when_the_holder_dies(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from imbalance_lab.rundir import claim; "
         f"claim({str(tmp_path)!r}, 'hydra.run.dir'); print('held', flush=True); time.sleep(60)"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=r"in use by a running job \(pid \d+"):
            claim(tmp_path, "hydra.run.dir")
    finally:
        holder.kill()
        holder.wait()
    # Killed without a chance to clean up: the kernel released its lock, the folder is empty.
    assert claim(tmp_path, "hydra.run.dir") == tmp_path.resolve()
    release(tmp_path)


def test_jobs_of_a_sweep_never_share_a_folder(tmp_path: Path) -> None:
    # A subdir that names one folder for every job is refused before any job writes.
    proc = run_cli("-m", *TINY, "sampler=none,random_over", f"hydra.sweep.dir={tmp_path}",
                   "hydra.sweep.subdir=same", check=False)  # fmt: skip
    assert "hydra.sweep.subdir=same" in _one_line_error(proc)
    assert list(tmp_path.iterdir()) == []
