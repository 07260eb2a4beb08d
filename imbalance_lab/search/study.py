"""Where a study lives, what a trial scored, and the best trial as settings a user can rerun.

Shared by the sweeper (``hydra/sweeper=optuna_study``), which asks for trials and tells their
results, and by the jobs, which open the same study to report per-epoch values for pruning.
"""

from __future__ import annotations

import json
import random
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imbalance_lab.errors import ConfigError
from imbalance_lab.rundir import METRICS_FILE

JOURNAL_FILE = "optuna.journal"
RESULTS_FILE = "optimization_results.yaml"


def storage_setting(storage: str | None, sweep_dir: str | Path) -> str:
    """``hydra.sweeper.storage`` as every process of the search opens it: a database URL
    (``sqlite:///search.db``) as given, a journal file as an absolute path; none = a journal
    file in the sweep folder. Absolute, so SLURM jobs started elsewhere find the same study."""
    if storage is None or str(storage) == "":
        return str((Path(sweep_dir) / JOURNAL_FILE).resolve())
    storage = str(storage)
    if "://" in storage:
        if storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
            return "sqlite:///" + str(Path(storage.removeprefix("sqlite:///")).resolve())
        return storage
    return str(Path(storage).resolve())


def open_storage(setting: str, attempts: int = 5) -> Any:
    """The Optuna storage of a :func:`storage_setting`: a database through SQLAlchemy, or a
    journal file, which several processes on one machine (or on a file system with working
    locks) append to safely."""
    import optuna
    import sqlalchemy.exc
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if "://" not in setting:
        Path(setting).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(setting))
    engine_kwargs = {}
    if setting.startswith("sqlite"):
        # Workers write at once; SQLite's default 5 s wait for the lock is too short for that.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(setting, engine_kwargs=engine_kwargs)
        except sqlalchemy.exc.SQLAlchemyError:
            # Workers started together all create the new database's tables; all but one fail
            # (UNIQUE constraint on alembic_version), and find the tables made a moment later.
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def check_validation_metric(name: str, setting: str) -> str:
    """``val/<metric>`` -> ``<metric>``; a search that looked at test would overfit it."""
    split, _, metric = str(name).partition("/")
    if split != "val" or not metric:
        raise ConfigError(
            f"{setting}={name!r}: a search optimises a validation metric (val/f1, val/pr_auc, "
            "...); test metrics are for reporting the chosen settings, never for choosing them."
        )
    return metric


def trial_outcome(run_dir: Path, metric: str) -> tuple[str, float | None]:
    """A trial's state (``complete``, ``pruned`` or ``failed``) and its validation ``metric``
    from the job's ``metrics.json`` (launchers differ in what they return; the record does not)."""
    try:
        record = json.loads((run_dir / METRICS_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return "failed", None  # killed before writing its record
    if record.get("status") != "ok":
        return "failed", None
    value = record.get("val", {}).get(metric)
    if value is None:
        return "failed", None
    pruned = bool(record.get("search", {}).get("pruned_at_epoch"))
    return ("pruned" if pruned else "complete"), float(value)


def best_trial_summary(study: Any, fixed: Sequence[str], objective: str) -> dict[str, Any]:
    """What ``optimization_results.yaml`` holds: the best finished trial's settings, and the
    command that reruns it as a single run."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    summary: dict[str, Any] = {
        "name": "optuna",
        "study_name": study.study_name,
        "objective": objective,
        "direction": study.direction.name.lower(),
        "trials": {k: v for k, v in counts.items() if v},
    }
    if not counts["complete"]:
        return {**summary, "best_params": None, "best_value": None}
    best = study.best_trial
    params = dict(best.params)
    args = [*fixed, *(f"{k}={v}" for k, v in params.items())]
    return {
        **summary,
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": params,
        "best_run_dir": best.user_attrs.get("run_dir"),
        # A single run of the best settings (no -m): the same config groups, the same fixed
        # settings, the best values.
        "command": "python train.py " + " ".join(shlex.quote(a) for a in args),
    }
