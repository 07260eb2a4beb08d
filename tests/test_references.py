"""The non-neural references of issue 16 (imbalance ensembles, LightGBM): trained on the same
split and threshold rule as the network, their model bundle scoring as the run did."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_bundle import _test_rows

from imbalance_lab import load_model
from imbalance_lab.bundle.cli import main as cli
from imbalance_lab.data.sources import make_synthetic
from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.metrics import binary_metrics
from imbalance_lab.objects import build_datamodule
from imbalance_lab.pipeline import fit_estimator, run
from imbalance_lab.preflight import preflight

REFERENCES = {
    "brf": "BalancedRandomForestClassifier",
    "easy_ensemble": "EasyEnsembleClassifier",
    "rusboost": "RUSBoostClassifier",
    "balanced_bagging": "BalancedBaggingClassifier",
    "lightgbm": "LGBMClassifier",
}


def _sampled_counts(model) -> list[np.ndarray]:
    """Class counts of the rows each under-sampling member trained on."""
    samplers = getattr(model, "samplers_", None)
    if samplers is None:  # bagging and EasyEnsemble: members are Pipeline(sampler, learner)
        samplers = [member.steps[0][1] for member in model.estimators_]
    return [np.bincount(s._y_seen[s.sample_indices_].astype(int), minlength=2) for s in samplers]


@pytest.mark.parametrize("name", list(REFERENCES))
def test_reference_trains_and_its_bundle_scores_as_the_run(name: str, make_cfg, tmp_path) -> None:
    small = "model.estimator.n_estimators=10"  # a few seconds each; the defaults are larger
    results = run(make_cfg(f"model={name}", small, "threshold=tuned", "seed=0", "figures=false"))
    assert results["status"] == "ok" and results["epochs"] is None
    assert results["threshold"]["rule"] != "fixed"  # chosen on validation, as for the network
    assert results["test"]["roc_auc"] > 0.75 and results["test"]["recall"] > 0
    model = load_model(tmp_path)  # skops, with the package's trusted types only
    assert type(model._estimator).__name__ == REFERENCES[name]
    assert model.info["metrics"]["test"] == results["test"]
    data = make_synthetic(600, 6, 4, 0.1, random_state=0)
    rows, y_test = _test_rows(data.X, data.y)
    probs = model.predict_proba(rows)
    again = binary_metrics(torch.from_numpy(probs), torch.from_numpy(y_test), model.threshold)
    assert again == {k: v for k, v in results["test"].items() if k != "ece"}


@pytest.mark.parametrize("name", ["brf", "easy_ensemble", "rusboost", "balanced_bagging"])
def test_each_ensemble_member_trains_on_balanced_classes(name: str, make_cfg, monkeypatch) -> None:
    from imblearn.under_sampling import RandomUnderSampler

    # Record the labels every member's under-sampler saw, to count what it kept.
    fit_resample = RandomUnderSampler._fit_resample

    def recording(self, X, y):
        self._y_seen = np.asarray(y)
        return fit_resample(self, X, y)

    monkeypatch.setattr(RandomUnderSampler, "_fit_resample", recording)
    cfg = make_cfg(f"model={name}", "model.estimator.n_estimators=5", "figures=false")
    dm = build_datamodule(cfg)
    dm.setup("fit")
    model = fit_estimator(cfg, dm).model
    counts = _sampled_counts(model)
    assert len(counts) >= 5
    for c in counts:
        assert c[0] == c[1] > 0  # as many majority rows as minority rows


def test_lightgbm_missing_is_one_message(monkeypatch, make_cfg) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # import lightgbm raises ImportError
    with pytest.raises(ConfigError, match=r"imbalance-lab\[lightgbm\]"):
        preflight(make_cfg("model=lightgbm"))


def test_predict_cli_scores_a_reference(make_cfg, tmp_path: Path) -> None:
    run(make_cfg("model=rusboost", "threshold=tuned", "seed=0", "figures=false"))
    data = make_synthetic(600, 6, 4, 0.1, random_state=0)
    model = load_model(tmp_path)
    rows = pd.DataFrame(data.X[:50], columns=list(model.feature_names_in_))
    rows.to_csv(tmp_path / "new.csv", index=False)
    code = cli(["predict", str(tmp_path), str(tmp_path / "new.csv"), "--out",
                str(tmp_path / "scores.csv")])  # fmt: skip
    assert code == 0
    scores = pd.read_csv(tmp_path / "scores.csv")
    np.testing.assert_array_equal(
        scores["probability"].to_numpy(np.float32), model.predict_proba(rows)
    )


@pytest.mark.parametrize("name", ["brf", "easy_ensemble", "rusboost", "balanced_bagging"])
def test_preflight_names_a_bad_ensemble_setting(name: str, make_cfg) -> None:
    with pytest.raises(ConfigError, match=r"model\.estimator\.n_estimators=0"):
        preflight(make_cfg(f"model={name}", "model.estimator.n_estimators=0"))
