"""Loggers: CSV (read back per epoch), and several loggers in one run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import TINY

from imbalance_lab.pipeline import run


def test_csv_and_tensorboard_loggers_together(make_cfg, tmp_path: Path) -> None:
    tiny = [o for o in TINY if not o.startswith("logger=")]
    results = run(make_cfg(*tiny, "logger=[tensorboard,csv]", "figures=false", tiny=False))

    log = pd.read_csv(tmp_path / "csv" / "metrics.csv")
    val = log.dropna(subset=["val/pr_auc"]).set_index("epoch")
    # One validation row per epoch trained, in order.
    assert val.index.tolist() == list(range(results["epochs"]))
    # The best epoch's logged validation PR-AUC is the one metrics.json reports for the model
    # it kept (PR-AUC needs no threshold, so the two are the same computation).
    best = val.loc[results["best_epoch"] - 1]
    assert best["val/pr_auc"] == pytest.approx(results["val"]["pr_auc"], abs=1e-4)
    assert val["val/pr_auc"].max() == pytest.approx(best["val/pr_auc"])
    # The test metrics land in the same file, once, after training.
    test = log.dropna(subset=["test/f1"])
    assert len(test) == 1
    assert test["test/f1"].iloc[0] == pytest.approx(results["test"]["f1"])
    assert test["test/recall"].iloc[0] == pytest.approx(results["test"]["recall"])
    # And TensorBoard got its event files alongside.
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
