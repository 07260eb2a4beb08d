"""Losses: weighted BCE and focal loss against their definitions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from imbalance_lab.errors import ConfigError
from imbalance_lab.models.losses import FocalLoss, WeightedBCEWithLogitsLoss
from imbalance_lab.pipeline import run

LOGITS = torch.tensor([-3.0, -0.5, 0.2, 2.5, 4.0])
TARGET = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0])


def test_weighted_bce_matches_torch_pos_weight() -> None:
    loss = WeightedBCEWithLogitsLoss()
    loss.fit_counts(n_negative=90, n_positive=10)
    expected = F.binary_cross_entropy_with_logits(LOGITS, TARGET, pos_weight=torch.tensor(9.0))
    assert loss(LOGITS, TARGET).item() == pytest.approx(expected.item())


def test_focal_without_focusing_is_bce() -> None:
    plain = F.binary_cross_entropy_with_logits(LOGITS, TARGET)
    assert FocalLoss(gamma=0.0, alpha=None)(LOGITS, TARGET).item() == pytest.approx(plain.item())


def test_focal_down_weights_easy_examples() -> None:
    easy, hard = torch.tensor([4.0]), torch.tensor([-1.0])
    target = torch.tensor([1.0])
    focal, bce = FocalLoss(gamma=2.0, alpha=None), F.binary_cross_entropy_with_logits
    ratio_easy = focal(easy, target) / bce(easy, target)
    ratio_hard = focal(hard, target) / bce(hard, target)
    assert ratio_easy < 0.01 < ratio_hard
    # alpha weighs positives by alpha and negatives by 1 - alpha.
    pos = FocalLoss(gamma=0.0, alpha=0.75)(hard, target) / bce(hard, target)
    assert pos.item() == pytest.approx(0.75)


def test_bad_loss_settings_name_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"loss\.gamma"):
        FocalLoss(gamma=-1)
    with pytest.raises(ConfigError, match=r"loss\.pos_weight"):
        WeightedBCEWithLogitsLoss(pos_weight=-2)


def test_focal_loss_trains_end_to_end(make_cfg) -> None:
    results = run(make_cfg("loss=focal", "loss.alpha=0.9", "trainer.max_epochs=3"))
    assert results["settings"]["loss"]["gamma"] == 2.0
    assert 0.0 <= results["test"]["f1"] <= 1.0
    assert results["test"]["recall"] > 0  # alpha=0.9 pushes the minority up


def test_pos_weight_scale_multiplies_the_resolved_weight() -> None:
    loss = WeightedBCEWithLogitsLoss(scale=0.5)
    loss.fit_counts(n_negative=90, n_positive=10)
    assert loss.pos_weight.item() == pytest.approx(4.5)
    assert WeightedBCEWithLogitsLoss(pos_weight=3.0, scale=2.0).pos_weight.item() == 6.0
