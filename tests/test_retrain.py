"""retrain=crt (Kang et al. 2020): stage 2 re-trains only the network's last linear layer, on
class-balanced batches, which moves its decisions toward the minority."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from imbalance_lab import pipeline
from imbalance_lab.errors import ConfigError
from imbalance_lab.models.networks import MLP
from imbalance_lab.models.retrain import retrain_classifier
from imbalance_lab.preflight import preflight


def _imbalanced(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.08).astype(np.float32)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    X[:, 0] += 1.2 * y  # overlapping classes: a plain BCE fit rarely says "positive"
    return X, y


def _stage1(X: np.ndarray, y: np.ndarray) -> MLP:
    torch.manual_seed(0)
    net = MLP(4, [16], dropout=0.0)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(200):  # instance-balanced full-batch training with plain BCE
        loss = nn.functional.binary_cross_entropy_with_logits(net(Xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def test_stage_two_changes_only_the_last_layer_on_balanced_batches() -> None:
    X, y = _imbalanced()
    net = _stage1(X, y)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        recall_before = float((net(torch.from_numpy(X))[y == 1] > 0).float().mean())
    seen = retrain_classifier(net, X, y, epochs=20, lr=0.05, batch_size=64, seed=0)
    after = net.state_dict()
    last = {"layers.3.weight", "layers.3.bias"}  # Linear(16, 1): the logit
    for name, value in before.items():
        same = torch.equal(value, after[name])
        assert same is (name not in last), name
    assert 0.4 < seen["positive_share"] < 0.6  # vs 0.08 in the data
    assert seen["steps"] == 20 * -(-len(y) // 64)
    with torch.no_grad():
        recall_after = float((net(torch.from_numpy(X))[y == 1] > 0).float().mean())
    assert recall_after > recall_before + 0.3  # the balanced classifier finds the minority


def test_a_crt_run_records_its_second_stage(make_cfg) -> None:
    results = pipeline.run(make_cfg("retrain=crt", "retrain.epochs=3", "seed=0"))
    stage2 = results["retrain"]
    assert stage2["epochs"] == 3 and 0.35 < stage2["positive_share"] < 0.65
    assert (
        results["class_counts"]["train"]["1"] / sum(results["class_counts"]["train"].values()) < 0.2
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=hgb"], "scikit-learn estimator"),
        (["retrain.lr=0"], r"retrain\.lr=0"),
        (["retrain.epochs=-1"], r"retrain\.epochs=-1"),
        (["retrain.weight_decay=-1"], r"retrain\.weight_decay=-1"),
    ],
)
def test_bad_crt_settings_are_refused(overrides, message, make_cfg) -> None:
    with pytest.raises(ConfigError, match=message):
        preflight(make_cfg("retrain=crt", *overrides))


def test_crt_refuses_a_network_whose_logit_is_not_one_linear_layer(make_cfg) -> None:
    pytest.importorskip("tabm")
    with pytest.raises(ConfigError, match=r"retrain=crt .* TabMNet"):
        preflight(make_cfg("retrain=crt", "model=tabm"))
