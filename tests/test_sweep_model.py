"""A sweep folder as a model: the configuration selection.md names, its seeds averaged, from
Python and from the shell; sweeps it cannot use are refused with one message."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ENV, ROOT, SERIAL, TINY, in_folder
from test_predict_cli import predict_cli

import imbalance_lab
from imbalance_lab import load_model
from imbalance_lab.data.sources import make_synthetic
from imbalance_lab.errors import ConfigError

# One worker of pytest -n runs this module: its sweep (a module fixture) runs once.
pytestmark = pytest.mark.xdist_group("sweep_model")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 configurations x 2 seeds, as a user runs them."""
    folder = tmp_path_factory.mktemp("sweep")
    # In this process, through the Python API: what `train.py -m` runs (tests/test_api.py).
    with in_folder(folder):
        shared = [*TINY, SERIAL, "figures=false", f"hydra.sweep.dir={folder}"]
        imbalance_lab.sweep(["sampler=none,random_over", "seed=0,1"], shared)
    return folder


def _selected(sweep: Path) -> tuple[str, str]:
    """(dataset, configuration) of selection.md's one row (its first table: the choice)."""
    choice = (sweep / "selection.md").read_text().split("\n## ")[0]
    rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in choice.splitlines()
        if line.startswith("|")
    ]
    header, body = rows[0], [r for r in rows[2:]]
    assert len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    return row["dataset"], row["selected"]


def _runs_of(sweep: Path, label: str) -> list[Path]:
    sampler = label.split("=", 1)[1]
    return sorted(
        f.parent
        for f in sweep.glob("*/metrics.json")
        if json.loads(f.read_text())["choices"]["sampler"] == sampler
    )


def test_sweep_resolves_to_selection_and_averages_its_seeds(sweep: Path, tmp_path: Path) -> None:
    dataset, selected = _selected(sweep)
    model = load_model(sweep)
    assert (model.info["dataset"], model.info["selected"]) == (dataset, selected)
    runs = _runs_of(sweep, selected)
    assert len(runs) == 2 and sorted(model.info["runs"]) == [str(r) for r in runs]
    singles = [load_model(r) for r in runs]
    assert model.threshold == pytest.approx(np.mean([m.threshold for m in singles]))

    X = make_synthetic(300, 6, 4, 0.1, random_state=5).X
    rows = pd.DataFrame(X, columns=list(model.feature_names_in_)).assign(id=np.arange(300))
    rows.to_parquet(tmp_path / "new.parquet")
    proc = predict_cli(str(sweep), str(tmp_path / "new.parquet"), "--out",
                       str(tmp_path / "s.parquet"), "--keep", "id")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert re.search(rf"configuration '{re.escape(selected)}' chosen on validation", proc.stdout)
    assert "averaging the probabilities of its 2 runs" in proc.stdout
    scores = pd.read_parquet(tmp_path / "s.parquet")
    mean = np.mean([m.predict_proba(rows) for m in singles], axis=0, dtype=np.float64)
    np.testing.assert_array_equal(scores["probability"], mean.astype(np.float32))
    np.testing.assert_array_equal(scores["probability"], model.predict_proba(rows))
    np.testing.assert_array_equal(scores["label"], (mean.astype(np.float32) > model.threshold))


def test_a_sweep_over_several_datasets_needs_one_named(sweep: Path, tmp_path: Path) -> None:
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    for f in list(copy.glob("*/metrics.json"))[:2]:  # the first runs: another dataset
        f.write_text(json.dumps({**json.loads(f.read_text()), "dataset": "other"}))
    with pytest.raises(ConfigError, match=r"covers 2 datasets \(.*\).*--dataset NAME"):
        load_model(copy)
    assert load_model(copy, dataset="other").info["dataset"] == "other"
    with pytest.raises(ConfigError, match=r"--dataset nope is not a dataset"):
        load_model(copy, dataset="nope")


def test_sweeps_and_folders_without_a_model_are_refused(tmp_path: Path) -> None:
    failing = tmp_path / "failing"
    with in_folder(tmp_path):
        shared = [*TINY, SERIAL, "data.n_samples=40", f"hydra.sweep.dir={failing}"]
        imbalance_lab.sweep(["seed=1,2"], shared)
    with pytest.raises(ConfigError, match=r"every run of sweep .* failed \(2 runs; .*holds no mo"):
        load_model(failing)
    proc = predict_cli(str(failing), str(tmp_path / "x.csv"), "--out", str(tmp_path / "s.csv"))
    assert proc.returncode == 2 and "every run of sweep" in proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"holds no model bundle"):
        load_model(empty)


def test_evaluate_on_a_sweep_scores_its_averaged_model(sweep: Path, tmp_path: Path) -> None:
    model = load_model(sweep)
    runs = _runs_of(sweep, model.info["selected"])
    rules = {load_model(r).info["threshold"]["rule"] for r in runs}
    wording = "the fixed threshold" if rules == {"fixed"} else "chose on validation"
    assert wording in model.info["threshold"]["rule"]

    data = make_synthetic(400, 6, 4, 0.1, random_state=7)
    rows = pd.DataFrame(data.X, columns=list(model.feature_names_in_)).assign(y=data.y)
    rows.to_csv(tmp_path / "labelled.csv", index=False)
    out = tmp_path / "checked.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "imbalance_lab.bundle.cli", "evaluate", str(sweep),
         str(tmp_path / "labelled.csv"), "--target", "y", "--out", str(out)],
        cwd=ROOT, env={**ENV, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "averaging the probabilities of its 2 runs" in proc.stdout
    record = json.loads((tmp_path / "checked.metrics.json").read_text())
    probs = model.predict_proba(rows.drop(columns="y"))
    predicted = probs > model.threshold
    tp = int((predicted & (data.y == 1)).sum())
    assert record["rows"] == 400
    assert record["confusion"]["tp"] == tp
    assert record["metrics"]["recall"] == pytest.approx(tp / int((data.y == 1).sum()))
