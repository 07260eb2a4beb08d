"""Shared fixtures: compose the real config tree with tiny budgets, as a user's overrides would."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from imbalance_lab.train import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
# Tests may run side by side (pytest -n 2): one torch thread each, or they slow each other 30x.
torch.set_num_threads(1)
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1"}

TINY = [
    "data=synthetic",
    "data.n_samples=600",
    "data.n_features=6",
    "data.n_informative=4",
    "data.minority_fraction=0.1",
    "trainer.max_epochs=3",
    "trainer.accelerator=cpu",
    "logger=none",
    "print_table=false",
    "threads=1",
    "data.cache_dir=null",  # tests never share resampled sets through the repo's logs/
]

# A sweep's jobs one after the other in the sweep's own process (hydra/launcher=basic), for tests
# of what a sweep writes rather than of how its jobs are launched: the default launcher
# (parallel: joblib) starts a worker process per core, each importing torch and Lightning
# again (~10 s of CPU each).
SERIAL = "hydra/launcher=basic"


@contextmanager
def in_folder(path: Path) -> Iterator[None]:
    """Run the block with ``path`` as the working folder (contextlib.chdir is Python 3.11+;
    the project supports 3.10)."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


# Settings for a quick run on data a test brings (tables, digits).
RUN = [
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
    "logger=none",
    "print_table=false",
    "figures=false",
    "threads=1",
    "data.cache_dir=null",
]


def compose_cfg(overrides: list[str], output_dir: Path) -> DictConfig:
    """The train config with ``overrides``, its Hydra runtime set as in a real run."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    OmegaConf.set_readonly(cfg, False)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.paths.output_dir = str(output_dir)
    HydraConfig().set_config(cfg)
    return cfg


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    def make(*overrides: str, tiny: bool = True) -> DictConfig:
        return compose_cfg([*(TINY if tiny else []), *overrides], tmp_path)

    yield make
    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None  # later tests in this worker run outside any Hydra job


def bundle_cli(*args: str, columns: int | None = None) -> subprocess.CompletedProcess:
    """``imbalance-lab ARGS`` (predict, evaluate, export) in this process: the console script's
    ``main`` with its stdout and stderr captured, as a finished process. One process less per
    call (each imports torch and Lightning again, ~10 s of CPU); ``main`` prints everything it
    says and returns the exit status, so the shell sees the same. ``columns``: the terminal
    width the tables are drawn for."""
    from imbalance_lab.bundle.cli import main

    out, err = io.StringIO(), io.StringIO()
    env = {"COLUMNS": str(columns)} if columns else {}
    with mock.patch.dict(os.environ, env), redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as stop:  # argparse's usage errors
            code = stop.code
    return subprocess.CompletedProcess(
        ["imbalance-lab", *args], code, out.getvalue(), err.getvalue()
    )


def run_cli(
    *args: str, cwd: Path = ROOT, check: bool = True, env: dict[str, str] = ENV
) -> subprocess.CompletedProcess:
    """``python train.py ARGS`` in a subprocess, as a user runs it."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"train.py failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple]:
    """``kind -> (run folder, raw rows, labels)`` (tests/test_bundle.py's runs), each kind
    trained once per session, on demand. Defined here, not in test_bundle.py, so that the test
    modules that score these runs share them: a fixture imported into a module is that module's
    own, trained again."""
    from test_bundle import train_kind

    done: dict[str, tuple] = {}

    def train(kind: str) -> tuple:
        if kind not in done:
            done[kind] = train_kind(kind, tmp_path_factory.mktemp(kind))
        return done[kind]

    return train


# Modules whose tests take longest, slowest first: run first, so that `pytest -n 2` does not end
# with one worker still on a long test while the other is idle (from --durations).
SLOW_FIRST = (
    "test_slurm.py",
    "test_search.py",
    "test_resume.py",
    "test_launch.py",
    "test_bundle.py",
    "test_leaderboard.py",
    "test_sweep_model.py",
    "test_records.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collected tests reordered: the modules of :data:`SLOW_FIRST` first, in its order; the rest
    as collected. xdist hands tests (``--dist loadgroup``: groups) to workers in this order."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
