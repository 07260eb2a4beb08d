"""Resuming is exact: a run killed at any epoch and resumed ends as if never interrupted, and a
checkpoint that does not fit the run is refused before any data is loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from conftest import ENV, ROOT, run_cli

import imbalance_lab

# The default data (KEEL yeast4), a budget early stopping ends: 15 epochs, best epoch 5 here.
ARGS = [
    "seed=1", "trainer.max_epochs=40", "trainer.accelerator=cpu", "logger=none",
    "print_table=false", "figures=false", "threads=1", "data.cache_dir=null",
    # last.ckpt after every epoch, so a kill mid-run resumes mid-run (not from epoch 0).
    "callbacks.last_checkpoint.every_seconds=0",
]  # fmt: skip
# What may differ between a run and its resume: how long it took.
INCIDENTAL = {"timings"}


def _killed_at(epoch: int, folder: Path, *args: str) -> Path:
    """Run train.py until epoch ``epoch`` (from 0) starts, then SIGKILL it; its last.ckpt."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "kill_at_epoch.py"), str(epoch), *args,
         f"hydra.run.dir={folder}"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not (folder / "metrics.json").exists()
    return folder / "checkpoints" / "last.ckpt"


def test_killed_runs_resume_to_the_uninterrupted_result(tmp_path: Path) -> None:
    # Killed in a process of its own; run and resumed in this one, through the Python API (what
    # `train.py` runs, tests/test_api.py).
    whole = imbalance_lab.run([*ARGS, f"hydra.run.dir={tmp_path / 'whole'}"])
    whole.pop("path")
    best, epochs = whole["best_epoch"], whole["epochs"]
    assert 2 <= best < epochs - 1 < 39, "early stopping should end this run after its best epoch"
    # Killed as the best epoch starts (its checkpoint not yet written) and two epochs after it.
    for kill in (best - 1, best + 1):
        folder = tmp_path / f"killed_{kill}"
        last = _killed_at(kill, folder, *ARGS)
        imbalance_lab.run([*ARGS, f"ckpt_path={last}"])  # continues in the checkpoint's folder
        resumed = json.loads((folder / "metrics.json").read_text())
        assert resumed["epochs"] == epochs and resumed["best_epoch"] == best
        assert resumed["best_checkpoint"] == str(folder / "checkpoints" / "best.ckpt")
        for key in set(whole) - INCIDENTAL - {"best_checkpoint"}:
            assert resumed[key] == whole[key], key


def test_resume_with_other_settings_is_refused_and_touches_nothing(tmp_path: Path) -> None:
    last = _killed_at(2, tmp_path, *ARGS)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    proc = run_cli(*ARGS, "sampler=smote", "model.net.hidden_sizes=[8]", f"ckpt_path={last}",
                   check=False)  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "sampler: none -> smote" in lines[0] and "model.net.hidden_sizes" in lines[0]
    assert "seed=1" in lines[0]  # the command that does resume it
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    # Resume goes to the checkpoint's own folder, from its last checkpoint.
    elsewhere = run_cli(*ARGS, f"ckpt_path={last}", f"hydra.run.dir={tmp_path / 'other'}",
                        check=False)  # fmt: skip
    assert elsewhere.returncode == 2 and "Drop hydra.run.dir" in elsewhere.stderr
    best = last.with_name("best.ckpt")
    if best.exists():
        older = run_cli(*ARGS, f"ckpt_path={best}", check=False)
        assert older.returncode == 2 and f"ckpt_path={last}" in older.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def _refused(ckpt: Path) -> str:
    proc = run_cli(*ARGS, f"ckpt_path={ckpt}", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: ckpt_path={ckpt}")
    return lines[0]


class _Payload:
    """Touches ``mark`` when unpickled by a loader that runs a file's code."""

    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.mark,))


def test_missing_unsafe_and_foreign_checkpoints_are_refused(tmp_path: Path) -> None:
    assert "no such file" in _refused(tmp_path / "checkpoints" / "gone.ckpt")

    folder = tmp_path / "planted" / "checkpoints"
    folder.mkdir(parents=True)
    mark = tmp_path / "payload_ran"
    torch.save({"state_dict": _Payload(mark)}, folder / "last.ckpt")
    assert "cannot be read safely" in _refused(folder / "last.ckpt")
    assert not mark.exists(), "the checkpoint's code ran"

    foreign = tmp_path / "foreign" / "checkpoints" / "last.ckpt"
    foreign.parent.mkdir(parents=True)
    torch.save({"state_dict": {"w": torch.zeros(3)}, "epoch": 4}, foreign)
    assert "holds no imbalance-lab run settings" in _refused(foreign)

    loose = tmp_path / "loose.ckpt"
    loose.write_bytes(foreign.read_bytes())
    assert "checkpoints/" in _refused(loose)
