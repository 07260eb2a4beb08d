"""``imbalance-lab evaluate``: a run's own test rows give back its test metrics exactly; labels
the model does not know are refused with one message."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import test_bundle
from conftest import bundle_cli

# One worker of pytest -n runs every module that scores the `trained` runs (conftest.py):
# each kind is trained once.
pytestmark = pytest.mark.xdist_group("trained")


def evaluate_cli(*args: str) -> subprocess.CompletedProcess:
    """``imbalance-lab evaluate ARGS``, in this process (conftest.bundle_cli)."""
    return bundle_cli("evaluate", *args, columns=120)


def test_evaluate_on_the_runs_test_rows_gives_its_test_metrics(trained, tmp_path: Path) -> None:
    run_dir, X, y = trained("table")
    rows, y_test = test_bundle._test_rows(X, y)
    labelled = rows.assign(Class=np.where(y_test == 1, "fraud", "ok"), id=np.arange(len(rows)))
    labelled = labelled[["Class", *reversed(rows.columns), "id"]]  # any column order
    labelled.to_csv(tmp_path / "labelled.csv", index=False)
    out = tmp_path / "scores.csv"
    proc = evaluate_cli(str(run_dir), str(tmp_path / "labelled.csv"), "--out", str(out),
                        "--keep", "id", "--chunk-rows", "50")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = json.loads((run_dir / "metrics.json").read_text())
    record = json.loads((tmp_path / "scores.metrics.json").read_text())
    assert record["metrics"] == run["test"]  # exactly, ece included
    assert record["confusion"] == run["confusion"]
    assert record["threshold"]["value"] == run["threshold"]["value"]
    assert record["rows"] == len(rows) and record["class_counts"]["1"] == int(y_test.sum())
    # The table a training run prints: metric rows, the file's column, the confusion matrix.
    assert "labelled.csv" in proc.stdout and "confusion" in proc.stdout
    f1 = next(line for line in proc.stdout.splitlines() if line.strip("│┃| ").startswith("f1 "))
    assert f"{run['test']['f1']:.3f}" in f1
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["id", "probability", "label"] and len(scores) == len(rows)


def test_labels_the_model_does_not_know_are_refused(trained, tmp_path: Path) -> None:
    run_dir, X, _ = trained("table")
    rows = X.iloc[:30].assign(Class=["yes"] * 10 + ["no"] * 20)
    rows.to_csv(tmp_path / "labelled.csv", index=False)
    out = tmp_path / "scores.csv"
    proc = evaluate_cli(str(run_dir), str(tmp_path / "labelled.csv"), "--out", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "holds labels the model was not trained with: 'no' (20 rows), 'yes' (10 rows)" in (
        proc.stderr
    )
    assert "knows 'fraud' (class 1) and 'ok' (class 0)" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob("*.json"))
    proc = evaluate_cli(str(run_dir), str(tmp_path / "labelled.csv"), "--target", "Label")
    assert proc.returncode == 2 and "the label column (--target) Label: not a column" in proc.stderr
