"""The default sweep launcher (joblib, jobs side by side) survives a job whose worker dies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ENV, ROOT, TINY


def test_a_killed_job_is_recorded_failed_and_the_sweep_ends_in_its_leaderboard(
    tmp_path: Path,
) -> None:
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", "seed=0,1,2", *TINY,
         "trainer.max_epochs=3", "hydra.launcher.n_jobs=2",
         "+callbacks.kill._target_=self_kill.KillSeed", "+callbacks.kill.seed=${seed}",
         "+callbacks.kill.kill_seed=1",
         f"hydra.sweep.dir={tmp_path}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]  # some job failed, the sweep says so
    runs = {
        r["seed"]: r for r in (json.loads(f.read_text()) for f in tmp_path.glob("*/metrics.json"))
    }
    assert sorted(runs) == [0, 1, 2], "every job has its record"
    assert runs[1]["status"] == "failed" and "killed" in runs[1]["error"]
    # A job that ran beside the killed one may have been stopped with it; one that had not
    # started then ran in new workers.
    assert any(r["status"] == "ok" for r in runs.values())
    assert (tmp_path / "leaderboard.md").exists()
