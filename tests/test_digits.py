"""Images: the 8x8 digits as an imbalanced problem, the CNN, and the SMOTE digits figure."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import RUN
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from imbalance_lab.data import ImbalanceDataModule
from imbalance_lab.data.sources import make_digits
from imbalance_lab.errors import ConfigError
from imbalance_lab.models.networks import CNN
from imbalance_lab.pipeline import run

ROOT = Path(__file__).resolve().parents[1]


def test_digits_are_an_imbalanced_flat_image_problem() -> None:
    data = make_digits(positive_digit=3, minority_fraction=0.02, random_state=0)
    assert data.X.shape[1] == 64 and data.image_shape == (1, 8, 8)
    assert data.X.min() >= 0 and data.X.max() <= 1
    share = data.y.mean()
    assert 0.015 < share < 0.025
    assert data.name == "digits-3"
    again = make_digits(positive_digit=3, minority_fraction=0.02, random_state=0)
    other = make_digits(positive_digit=3, minority_fraction=0.02, random_state=1)
    np.testing.assert_array_equal(data.X, again.X)
    assert not np.array_equal(data.X[data.y == 1], other.X[other.y == 1])


def test_large_minority_fraction_subsamples_the_majority() -> None:
    data = make_digits(minority_fraction=0.3, random_state=0)
    assert data.y.mean() == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"positive_digit": 10}, r"data\.positive_digit=10"),
        ({"minority_fraction": 0.6}, r"data\.minority_fraction=0\.6"),
        ({"image_shape": (1, 8, 7)}, r"data\.image_shape=\[1, 8, 7\]"),
    ],
)
def test_bad_digits_settings(kwargs: dict, setting: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        make_digits(**kwargs)


def test_image_columns_are_never_dropped() -> None:
    # Corner pixels are 0 in every image: a table would drop them, an image keeps its shape.
    data = make_digits(random_state=0)
    assert (np.ptp(data.X, axis=0) == 0).any()
    dm = ImbalanceDataModule(data, scaler="standard", seed=0)
    assert dm.n_features == 64 and dm.n_dropped_features == 0
    assert dm.image_shape == (1, 8, 8)


def test_cnn_folds_flat_rows() -> None:
    net = CNN(in_features=64, input_shape=[1, 8, 8], channels=[4, 8], hidden=16)
    out = net(torch.rand(5, 64))
    assert out.shape == (5,)
    assert CNN(in_features=12, input_shape=(3, 4))(torch.rand(2, 12)).shape == (2,)  # (H, W)


def test_cnn_shape_must_match_the_features() -> None:
    with pytest.raises(ConfigError, match=r"input_shape=\[1, 8, 8\].*must equal 60"):
        CNN(in_features=60, input_shape=(1, 8, 8))


def test_cnn_on_data_without_image_shape(make_cfg) -> None:
    cfg = make_cfg("model=cnn")  # synthetic tabular data: no data.image_shape
    assert cfg.model.net.input_shape is None
    with pytest.raises((ConfigError, InstantiationException)) as err:
        instantiate(cfg.model.net, in_features=6)
    cause = err.value if isinstance(err.value, ConfigError) else err.value.__cause__
    assert isinstance(cause, ConfigError)
    assert "model=cnn needs" in str(cause) and "data.image_shape" in str(cause)


def test_digits_cnn_end_to_end(make_cfg) -> None:
    cfg = make_cfg("data=digits", "model=cnn", "sampler=smote", *RUN, tiny=False)
    assert list(cfg.model.net.input_shape) == [1, 8, 8]
    results = run(cfg)
    assert results["status"] == "ok"
    assert results["dataset"] == "digits-0"
    assert results["n_features"] == 64
    assert results["sampler"]["class"] == "SMOTE"  # no categorical columns: no switch
    assert results["class_counts"]["train"]["1"] == results["class_counts"]["train"]["0"]
    assert 0.0 <= results["test"]["pr_auc"] <= 1.0


def test_smote_digits_figure(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("smote_digits", ROOT / "scripts/smote_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = module.main(["--out", str(tmp_path)])
    assert path == tmp_path / "smote_digits.png" and path.stat().st_size > 10_000
    # The parents found for a synthetic row are the two rows it was interpolated between.
    rng = np.random.default_rng(0)
    minority = rng.random((10, 64))
    synthetic = minority[2] + 0.3 * (minority[7] - minority[2])
    i, j, lam = module.parents(synthetic, minority)
    assert {i, j} == {2, 7} and min(lam, 1 - lam) == pytest.approx(0.3)
