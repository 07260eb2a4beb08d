"""Shared fixtures: compose the real config tree with tiny budgets, as a user's overrides would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

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


def run_cli(*args: str, cwd: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess:
    """``python train.py ARGS`` in a subprocess, as a user runs it."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"train.py failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc
