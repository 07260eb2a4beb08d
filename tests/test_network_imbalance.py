"""Imbalance methods made for networks (issue 16): each does what its paper says on a small
problem whose answer is known."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from imbalance_lab.errors import ConfigError
from imbalance_lab.models.losses import (
    ClassBalancedBCEWithLogitsLoss,
    DeferredReweightedBCEWithLogitsLoss,
    LogitAdjustedBCEWithLogitsLoss,
    effective_number_weights,
)
from imbalance_lab.objects import build
from imbalance_lab.pipeline import run
from imbalance_lab.preflight import preflight


def _gaussians(n0: int = 900, n1: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """1-D classes N(0, 1) (majority, 0) and N(2, 1) (minority, 1), drawn at fixed quantiles."""
    q = lambda n: torch.erfinv(torch.linspace(-1 + 1 / n, 1 - 1 / n, n)) * math.sqrt(2)  # noqa: E731
    x = torch.cat([q(n0), q(n1) + 2])[:, None]
    return x, torch.cat([torch.zeros(n0), torch.ones(n1)])


def _boundary(loss: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Where a logistic model trained with ``loss`` to convergence puts logit 0."""
    linear = torch.nn.Linear(1, 1)
    opt = torch.optim.LBFGS(linear.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss(linear(x).squeeze(1), y)
        value.backward()
        return value

    opt.step(closure)
    return float(-linear.bias.detach() / linear.weight.detach().squeeze())


def test_logit_adjustment_moves_the_boundary_to_the_balanced_one() -> None:
    x, y = _gaussians()
    adjusted = LogitAdjustedBCEWithLogitsLoss(tau=1.0)
    adjusted.fit_counts(900, 100)
    plain = _boundary(torch.nn.BCEWithLogitsLoss(), x, y)
    balanced = _boundary(adjusted, x, y)
    # Bayes boundaries: prior-weighted at 1 + log(9) / 2 = 2.10; balanced (equal priors) at 1.
    assert plain == pytest.approx(1 + math.log(9) / 2, abs=0.1)
    assert balanced == pytest.approx(1.0, abs=0.1)  # moved into the majority class
    none = LogitAdjustedBCEWithLogitsLoss(tau=0.0)
    none.fit_counts(900, 100)
    assert _boundary(none, x, y) == pytest.approx(plain, abs=1e-3)  # tau 0 = plain BCE


def test_class_balanced_weights_lie_between_none_and_inverse_frequency() -> None:
    assert effective_number_weights((900, 100), 0.0) == (1.0, 1.0)
    ratios = [
        (lambda w: w[1] / w[0])(effective_number_weights((900, 100), b))
        for b in (0.9, 0.99, 0.999, 0.9999)
    ]
    assert all(1 < r < 9 for r in ratios) and ratios == sorted(ratios)
    # Cui et al.: E_n = (1 - beta^n) / (1 - beta); the weights are 1 / E_n, summing to 2.
    e = [(1 - 0.999**n) / 0.001 for n in (900, 100)]
    assert ratios[2] == pytest.approx(e[0] / e[1])
    w0, w1 = effective_number_weights((900, 100), 0.999)
    assert w0 + w1 == pytest.approx(2)
    loss = ClassBalancedBCEWithLogitsLoss(beta=0.999)
    loss.fit_counts(900, 100)
    logits, target = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([1.0, 0.0, 0.0])
    each = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    expected = (each * torch.tensor([w1, w0, w0])).mean()
    assert loss(logits, target) == pytest.approx(float(expected))
    assert float(loss.pos_weight) == pytest.approx(ratios[2])


def test_drw_is_plain_until_its_epoch_then_class_balanced() -> None:
    loss = DeferredReweightedBCEWithLogitsLoss(start_epoch=2, beta=0.9999)
    loss.fit_counts(900, 100)
    balanced = ClassBalancedBCEWithLogitsLoss(beta=0.9999)
    balanced.fit_counts(900, 100)
    logits, target = torch.randn(16), (torch.rand(16) < 0.3).float()
    for epoch in (0, 1):
        loss.set_epoch(epoch)
        assert loss(logits, target) == F.binary_cross_entropy_with_logits(logits, target)
    loss.set_epoch(2)
    assert loss(logits, target) == balanced(logits, target)


def test_drw_switches_inside_a_run_and_early_stopping_waits(make_cfg, monkeypatch) -> None:
    cfg = make_cfg("loss=drw", "loss.start_epoch=2", "trainer.max_epochs=4",
                   "callbacks.early_stopping.patience=1", "figures=false")  # fmt: skip
    epochs_seen = []
    original = DeferredReweightedBCEWithLogitsLoss.set_epoch

    def record(self, epoch: int) -> None:
        epochs_seen.append(epoch)
        original(self, epoch)

    monkeypatch.setattr(DeferredReweightedBCEWithLogitsLoss, "set_epoch", record)
    results = run(cfg)
    assert epochs_seen[:3] == [0, 1, 2]  # the module tells the loss each epoch
    assert results["epochs"] >= 3  # min_epochs: re-weighted epochs always run
    assert results["pos_weight"] > 1  # the class-balanced weight, as recorded


def test_drw_that_would_never_reweight_is_refused(make_cfg) -> None:
    with pytest.raises(ConfigError, match=r"loss\.start_epoch=20 .*trainer\.max_epochs=3"):
        preflight(make_cfg("loss=drw"))  # the tiny runs train 3 epochs


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        (["loss=logit_adjusted", "loss.tau=-1"], "loss.tau=-1"),
        (["loss=class_balanced", "loss.beta=1"], "loss.beta=1"),
        (["loss=drw", "loss.start_epoch=-1"], "loss.start_epoch=-1"),
    ],
)
def test_bad_loss_settings_name_the_setting(overrides, setting, make_cfg) -> None:
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")):
        build(make_cfg(*overrides).loss, "loss")


def test_logit_adjusted_run_predicts_more_minority_than_plain_bce(make_cfg) -> None:
    plain = run(make_cfg("loss=bce", "figures=false", "trainer.max_epochs=8"))
    adjusted = run(make_cfg("loss=logit_adjusted", "figures=false", "trainer.max_epochs=8"))
    # At the fixed threshold 0.5 the adjusted network flags more rows positive, catching more
    # of the minority: its boundary sits further into the majority.
    flagged = lambda r: r["confusion"]["tp"] + r["confusion"]["fp"]  # noqa: E731
    assert flagged(adjusted) > flagged(plain)
    assert adjusted["test"]["recall"] >= plain["test"]["recall"]
