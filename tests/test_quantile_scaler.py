"""data.scaler=quantile: scikit-learn's QuantileTransformer (normal scores) fitted on the
training split only; the bundle applies it bit for bit, ONNX export refuses it clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_bundle import _test_rows

from imbalance_lab import load_model, pipeline
from imbalance_lab.bundle.features import FittedFeatures
from imbalance_lab.data.features import FeatureTransform, quantile_count
from imbalance_lab.data.sources import make_synthetic
from imbalance_lab.data.splits import split_data
from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.metrics import binary_metrics


def test_quantile_scores_are_robust_to_outliers_and_survive_the_bundle_json() -> None:
    rng = np.random.default_rng(0)
    X = rng.lognormal(0, 2, size=(600, 3)).astype(np.float32)
    X[:5, 0] = 1e7  # a few huge outliers in train
    ft = FeatureTransform(X, "quantile")
    train = ft(X)
    assert abs(float(np.median(train[:, 0]))) < 0.05  # ranks -> normal scores, centred
    assert np.abs(train).max() < 5.3  # the outliers land at the normal's edge, not at 1e7 / std
    new = np.array([[1e12, -5.0, 1.0]], dtype=np.float32)  # beyond anything seen in train
    assert np.isfinite(ft(new)).all() and np.abs(ft(new)).max() < 5.3
    again = FittedFeatures.from_json(ft.fitted.to_json())
    np.testing.assert_array_equal(again(X), train)
    np.testing.assert_array_equal(train, ft.scale.scaler.transform(X).astype(np.float32))
    assert ft.scale.scaler.n_quantiles_ == quantile_count(600) == 20


def test_a_quantile_run_is_fitted_on_train_only_and_its_bundle_scores_as_it_did(
    make_cfg, tmp_path
) -> None:
    results = pipeline.run(make_cfg("data.scaler=quantile", "threshold=tuned", "seed=0"))
    data = make_synthetic(600, 6, 4, 0.1, random_state=0)
    index = np.arange(len(data.y), dtype=np.float32)[:, None]
    (train_idx, _), _, _ = split_data(index, data.y, 0.2, 0.2, seed=0)
    X_train = data.X[train_idx[:, 0].astype(int)]
    model = load_model(tmp_path)
    quantiles = model.features.offset
    np.testing.assert_array_equal(quantiles[0], X_train.min(axis=0))
    np.testing.assert_array_equal(quantiles[-1], X_train.max(axis=0))
    rows, y_test = _test_rows(data.X, data.y)
    probs = model.predict_proba(rows)
    again = binary_metrics(torch.from_numpy(probs), torch.from_numpy(y_test), model.threshold)
    assert again == {k: v for k, v in results["test"].items() if k != "ece"}
    pytest.importorskip("onnx")
    from imbalance_lab.bundle.onnx_export import to_onnx

    with pytest.raises(ConfigError, match=r"data\.scaler=quantile"):
        to_onnx(model)
