"""model=tabm: TabM's k members train on every row and are averaged at evaluation; the bundle
rebuilds it and scores as the run did."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
from test_bundle import _test_rows

from imbalance_lab import load_model
from imbalance_lab.data.sources import make_synthetic
from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.metrics import binary_metrics
from imbalance_lab.models.networks import TabMNet
from imbalance_lab.pipeline import run
from imbalance_lab.preflight import preflight

SMALL = ["model=tabm", "model.net.k=4", "model.net.d_block=32", "model.net.n_blocks=2"]


@pytest.mark.parametrize("embeddings", ["none", "periodic"])
def test_members_in_training_their_mean_probability_in_evaluation(embeddings: str) -> None:
    torch.manual_seed(0)
    net = TabMNet(5, k=4, n_blocks=2, d_block=16, num_embeddings=embeddings)
    x = torch.randn(30, 5)
    members = net.train()(x)
    assert members.shape == (30, 4)
    assert not torch.allclose(members[:, 0], members[:, 1])  # distinct members
    net.eval()
    with torch.no_grad():
        each = net.tabm(x).squeeze(-1)  # (30, 4) without dropout
        torch.testing.assert_close(torch.sigmoid(net(x)), torch.sigmoid(each).mean(1))


def test_each_member_learns_every_rows_label(make_cfg, monkeypatch) -> None:
    seen = []
    bce = F.binary_cross_entropy_with_logits

    def spy(logits, target, *args, **kwargs):
        seen.append((logits.shape, target.shape))
        return bce(logits, target, *args, **kwargs)

    monkeypatch.setattr(F, "binary_cross_entropy_with_logits", spy)
    run(make_cfg(*SMALL, "trainer.max_epochs=1", "figures=false"))
    train = [s for s in seen if len(s[0]) == 2]
    assert train and all(logits == target and logits[1] == 4 for logits, target in train)


def test_tabm_learns_and_its_bundle_scores_as_the_run(make_cfg, tmp_path) -> None:
    results = run(
        make_cfg(*SMALL, "trainer.max_epochs=10", "threshold=tuned", "seed=0", "figures=false")
    )
    assert results["test"]["roc_auc"] > 0.75
    model = load_model(tmp_path)
    assert isinstance(model._net, TabMNet)
    data = make_synthetic(600, 6, 4, 0.1, random_state=0)
    rows, y_test = _test_rows(data.X, data.y)
    probs = model.predict_proba(rows)
    again = binary_metrics(torch.from_numpy(probs), torch.from_numpy(y_test), model.threshold)
    assert again == {k: v for k, v in results["test"].items() if k != "ece"}


def test_tabm_missing_or_misconfigured_is_one_message(make_cfg, monkeypatch) -> None:
    with pytest.raises(ConfigError, match=r"model\.net\.num_embeddings"):
        preflight(make_cfg("model=tabm", "model.net.num_embeddings=fourier"))
    monkeypatch.setitem(sys.modules, "tabm", None)
    with pytest.raises(ConfigError, match=r"imbalance-lab\[tabm\]"):
        preflight(make_cfg("model=tabm"))
