"""A run says what it does while it trains: one log line per epoch, batch sizes that fit the
data, no warnings caused by Lightning's own sanity check."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from conftest import run_cli

import imbalance_lab.data.datamodule as datamodule
from imbalance_lab.data.batches import auto_batch_size
from imbalance_lab.errors import ConfigError
from imbalance_lab.pipeline import build_datamodule
from imbalance_lab.progress import show_progress_bar

# 2 % positives, batches of 4: the sanity check's 2 validation batches (8 rows) hold no
# positive row, which made torchmetrics warn "No positive samples found in target".
RARE = [
    "data=synthetic",
    "data.n_samples=500",
    "data.n_features=4",
    "data.n_informative=3",
    "data.minority_fraction=0.02",
    "data.batch_size=4",
    "trainer.max_epochs=3",
    "callbacks.early_stopping.patience=100",
    "trainer.accelerator=cpu",
    "logger=none",
    "figures=false",
    "threads=1",
    "data.cache_dir=null",
]


def test_each_epoch_logs_one_line_with_val_metrics_and_no_sanity_warnings(tmp_path) -> None:
    proc = run_cli(*RARE, f"hydra.run.dir={tmp_path}")
    lines = re.findall(r"epoch (\d+)/3: (.*)", (tmp_path / "train.log").read_text())
    assert [int(epoch) for epoch, _ in lines] == [1, 2, 3]
    for _, line in lines:
        for metric in ("train/loss", "val/loss", "val/pr_auc", "val/f1"):
            assert re.search(rf"{metric} \d\.\d{{4}}", line), line
        assert re.search(r"\(\d+\.\d s, [\d,]+ steps in all\)", line), line
    output = proc.stdout + proc.stderr
    assert "No positive samples" not in output
    assert "No negative samples" not in output
    assert json.loads((tmp_path / "metrics.json").read_text())["batch_size"] == 4


def test_progress_bar_only_on_a_terminal_outside_sweeps(monkeypatch) -> None:
    assert show_progress_bar(True, multirun=True) and not show_progress_bar(False, False)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert show_progress_bar("auto", multirun=False)
    assert not show_progress_bar("auto", multirun=True)
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert not show_progress_bar("auto", multirun=False)


def test_auto_batch_size_grows_with_the_training_rows() -> None:
    assert auto_batch_size(300) == 64  # small tables keep the lab's batch (and its results)
    assert auto_batch_size(64_000) == 64
    assert auto_batch_size(64_001) == 128
    assert auto_batch_size(1_200_000) == 2048  # 1M rows at 1:500 after SMOTE: 586 steps
    assert auto_batch_size(10**9) == 4096


def test_batch_size_auto_resolves_and_long_epochs_name_the_setting(
    make_cfg, monkeypatch, caplog
) -> None:
    dm = build_datamodule(make_cfg())
    dm.setup()
    assert dm.batch_size == 64  # the default, auto, on 360 training rows
    monkeypatch.setattr(datamodule, "MANY_STEPS", 10)
    monkeypatch.setattr(datamodule, "auto_batch_size", lambda rows: 128)
    dm = build_datamodule(make_cfg("data.batch_size=8"))
    with caplog.at_level(logging.WARNING, logger="imbalance_lab.data.datamodule"):
        dm.setup()
    assert "an epoch is 45 steps at data.batch_size=8 (360 training rows)" in caplog.text
    assert "data.batch_size=auto would take 128 rows a step (3 steps)" in caplog.text
    with pytest.raises(ConfigError, match=r"data\.batch_size=0 must be auto or"):
        build_datamodule(make_cfg("data.batch_size=0"))


def test_epoch_lines_in_a_sweep_job_log(tmp_path: Path) -> None:
    run_cli("-m", *RARE, "trainer.max_epochs=2", "seed=0,1", f"hydra.sweep.dir={tmp_path}")
    for job in ("0", "1"):
        text = (tmp_path / job / "train.log").read_text()
        assert len(re.findall(r"epoch \d+/2: .*val/pr_auc", text)) == 2
