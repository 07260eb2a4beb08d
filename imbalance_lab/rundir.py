"""Run folders are claimed before anything is written into them, so results are never mixed.

A run (or sweep) folder belongs to one process at a time: the claim is an exclusive ``flock`` on
``<folder>/.lock``, held for the life of the process and released by the kernel however the
process ends (SIGKILL included), so a folder whose run was killed can be taken over by its
resume and by nothing else. A folder that holds anything but Hydra's own files for this job is
refused: a finished run, an interrupted one (resume it instead) or someone else's files.

The claim is made by :class:`RunFolderCallback` in Hydra's ``on_run_start`` /
``on_multirun_start``, before Hydra writes ``.hydra/`` or the log file, so a refused run touches
nothing; jobs of a sweep claim their own folder (inside the claimed sweep folder) when they start.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from imbalance_lab.errors import ConfigError, ConfigExit
from imbalance_lab.records import METRICS_FILE, run_status

LOCK_FILE = ".lock"
# Open lock files of the folders this process holds, by resolved path: a second claim of a
# folder the process already holds is a no-op (a second flock on a new descriptor would fail).
_HELD: dict[Path, int] = {}
# What this process began once Hydra had composed its configuration: True for a run, the folder
# of a sweep (whose jobs Hydra composes later, one by one), False before either.
_STARTED: list[bool | Path] = [False]


def _worker_rank() -> bool:
    """A distributed run's process other than rank 0: it works in rank 0's claimed folder
    (Lightning starts the other ranks with the same command line, SLURM starts every task)."""
    ranks = (os.environ.get(k, "0") for k in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))
    return any(r.isdigit() and int(r) > 0 for r in ranks)


def _flock(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _owner(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}"


def _describe(folder: Path) -> str:
    """What a folder that may not be claimed holds, and what to do about it."""
    status = run_status(folder)
    if status is not None:
        if status == "failed":
            return f"it holds a failed run's record ({METRICS_FILE}); delete it to reuse the folder"
        return f"it holds a finished run's results ({METRICS_FILE}, status {status})"
    last = folder / "checkpoints" / "last.ckpt"
    if last.exists():
        return f"it holds an interrupted run: resume it with ckpt_path={last}"
    return "it is not empty"


def claim(
    folder: str | Path, setting: str, allow: Iterable[str] = (), resume: bool = False
) -> Path:
    """Take ``folder`` for this process, or raise :class:`ConfigError` naming ``setting``.

    Args:
        folder: the run or sweep folder; created when missing.
        setting: the setting that chose the folder (``hydra.run.dir``), named in errors.
        allow: entries the folder may already hold (Hydra's ``.hydra`` and log of this job).
        resume: the folder holds an interrupted run that this process resumes: its files stay.

    Returns:
        The folder, resolved.

    Raises:
        ConfigError: another live process holds the folder, or it holds anything else (a
            finished run, an interrupted run when not resuming, foreign files). Nothing is
            created in a refused folder that did not exist.
    """
    path = Path(folder).resolve()
    if path in _HELD or _worker_rank():
        return path
    lock = path / LOCK_FILE
    allowed = {LOCK_FILE, *allow}
    # Refuse a folder with foreign content before creating anything in it.
    if path.is_dir() and not lock.exists():
        extra = sorted(set(os.listdir(path)) - allowed)
        if extra:
            raise _taken(path, setting)
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    if not _flock(fd):
        os.close(fd)
        if resume:
            raise ConfigError(
                f"the run in {path} is still running ({_owner(lock)}); wait for it to end or "
                "stop it before resuming it."
            )
        raise ConfigError(
            f"{setting}={path} is in use by a running job ({_owner(lock)}); results would mix. "
            + _new(setting)
        )
    extra = sorted(set(os.listdir(path)) - allowed)
    if extra and not (resume and run_status(path) != "ok"):
        os.close(fd)
        raise _taken(path, setting)
    os.ftruncate(fd, 0)
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    os.write(fd, json.dumps(owner).encode())
    _HELD[path] = fd
    return path


def _new(setting: str) -> str:
    return f"Set {setting} to a new folder, or leave it at its default."


def _taken(path: Path, setting: str) -> ConfigError:
    return ConfigError(f"{setting}={path} cannot be used: {_describe(path)}. {_new(setting)}")


def started() -> bool:
    """Whether this process began a run, or a sweep that launched a job: by then Hydra had
    composed the configuration. A sweep whose jobs' settings Hydra cannot compose (``-m
    sampler=smote,nope``) fails before its first job folder exists."""
    begun = _STARTED[0]
    if isinstance(begun, Path):
        return begun.is_dir() and any(p.is_dir() for p in begun.iterdir())
    return begun


def claimed() -> set[Path]:
    """The folders this process holds (resolved paths)."""
    return set(_HELD)


def release(folder: str | Path) -> None:
    """Give up a claim (a sweep's job when it ends; a process's claims end with it anyway)."""
    fd = _HELD.pop(Path(folder).resolve(), None)
    if fd is not None:
        os.close(fd)


def _pin(node: DictConfig, key: str, value: Path | None = None) -> Path:
    """Set ``node[key]`` to ``value`` or to its own resolved value, once: ``${now:...}`` must
    keep naming the folder that was claimed."""
    folder = Path(str(node[key])) if value is None else value
    with read_write(node), open_dict(node):
        node[key] = str(folder)
    return folder


def _refuse(err: ConfigError) -> None:
    print(f"error: {err}", file=sys.stderr)
    raise ConfigExit(err)


class RunFolderCallback(Callback):
    """Hydra callback: claim the run (or sweep) folder before Hydra writes into it.

    With ``ckpt_path`` set, a single run resumes in the folder its checkpoint belongs to, after
    the checkpoint was checked against this run's settings (:mod:`imbalance_lab.resume`).
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        ckpt = config.get("ckpt_path")
        try:
            if ckpt:
                from imbalance_lab.resume import check_resume

                folder = _pin(config.hydra.run, "dir", check_resume(config))
                claim(folder, "hydra.run.dir", resume=True)
            else:
                claim(_pin(config.hydra.run, "dir"), "hydra.run.dir")
        except ConfigError as err:
            _refuse(err)
        _STARTED[0] = True

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            if config.get("ckpt_path"):
                raise ConfigError(
                    "ckpt_path resumes one run and cannot be part of a sweep (-m); resume each "
                    "interrupted job as a single run: python train.py <its overrides> "
                    "ckpt_path=<its folder>/checkpoints/last.ckpt"
                )
            subdir = OmegaConf.to_container(config.hydra.sweep, resolve=False).get("subdir")
            if "${" not in str(subdir):
                raise ConfigError(
                    f"hydra.sweep.subdir={subdir} names one folder for every job of the sweep; "
                    "their results would mix. Leave it at its default (${hydra.job.num})."
                )
            folder = claim(_pin(config.hydra.sweep, "dir"), "hydra.sweep.dir")
        except ConfigError as err:
            _refuse(err)
        _STARTED[0] = Path(folder)
