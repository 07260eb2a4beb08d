"""logger=mlflow: the run read back through MLflow's own client; without MLflow, one message."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import TINY

from imbalance_lab.errors import ConfigError
from imbalance_lab.pipeline import run
from imbalance_lab.preflight import preflight

QUIET = [o for o in TINY if not o.startswith("logger=")]


def test_mlflow_run_reads_back_with_mlflows_client(make_cfg, tmp_path: Path) -> None:
    mlflow = pytest.importorskip("mlflow", reason='logger=mlflow needs pip install -e ".[mlflow]"')
    results = run(make_cfg(*QUIET, "logger=[tensorboard,mlflow]", "sampler=smote", tiny=False))

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("train")
    (found,) = client.search_runs([experiment.experiment_id])
    # Params: what the run is filed under.
    params = found.data.params
    assert params["sampler"] == "smote" and params["seed"] == "42"
    assert params["data.n_samples"] == "600"  # a command-line override
    assert float(params["threshold"]) == pytest.approx(results["threshold"]["value"])
    # Per-epoch validation metrics, one per epoch trained; the best is the epoch the run kept.
    history = client.get_metric_history(found.info.run_id, "val/pr_auc")
    assert len(history) == results["epochs"]
    best = max(history, key=lambda m: m.value)
    assert best.value == pytest.approx(results["val"]["pr_auc"], abs=1e-4)
    assert len(client.get_metric_history(found.info.run_id, "train/loss")) == results["epochs"]
    # The test metrics, once, at the end.
    for metric in ("f1", "recall", "precision", "pr_auc"):
        assert found.data.metrics[f"test/{metric}"] == pytest.approx(results["test"][metric])
    assert len(client.get_metric_history(found.info.run_id, "test/f1")) == 1
    # The figures as artifacts, kept in the run folder; TensorBoard logged alongside.
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id, "figures")}
    assert "figures/confusion_matrix.png" in artifacts
    assert (tmp_path / "mlartifacts").is_dir()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_mlflow_missing_names_the_extra(make_cfg, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    with pytest.raises(
        ConfigError, match=r'logger=mlflow needs mlflow.*pip install -e "\.\[mlflow\]"'
    ):
        preflight(make_cfg("logger=[csv,mlflow]"))
