"""recipe=strong: one word for the recommended network recipe, each part overridable."""

from __future__ import annotations

from imbalance_lab.preflight import preflight


def test_recipe_strong_composes_the_recipe_and_passes_preflight(make_cfg) -> None:
    cfg = make_cfg("recipe=strong", tiny=False)
    assert cfg.model.net._target_.endswith(".MLP")
    assert list(cfg.model.net.hidden_sizes) == [128, 64]  # model=mlp_wide
    assert cfg.threshold.mode == "oof" and cfg.threshold.folds == 5
    assert cfg.sampler._target_ == "imblearn.FunctionSampler"  # sampler=none
    preflight(cfg)
    mine = make_cfg("recipe=strong", "threshold.folds=3", "model=hgb", tiny=False)
    assert mine.threshold.folds == 3 and "estimator" in mine.model  # the user's word wins
    assert "net" not in mine.model  # no part of the recipe's network is left in hgb's config


def test_a_strategy_beside_the_recipe_sets_its_sampler_and_loss(make_cfg) -> None:
    """recipe=strong strategy=smote is the recipe with SMOTE, not the recipe labelled smote."""
    cfg = make_cfg("recipe=strong", "strategy=smote", tiny=False)
    assert cfg.sampler._target_ == "imblearn.over_sampling.SMOTE"
    assert cfg.threshold.mode == "oof"  # the recipe's other parts stay
