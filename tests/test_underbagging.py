"""model=underbagging: K networks, each on its own balanced under-sample of the training split,
their probabilities averaged before the threshold; the bundle scores as the run did.
model=deep_ensemble: K networks on the whole split, apart in their initial weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_bundle import check_averaged_bundle

from imbalance_lab import pipeline
from imbalance_lab.errors import ConfigError
from imbalance_lab.models.networks import MLP, ProbabilityAverage
from imbalance_lab.models.underbagging import balanced_subsets
from imbalance_lab.preflight import preflight


def test_subsets_hold_every_positive_and_as_many_distinct_negatives() -> None:
    y = np.r_[np.zeros(300, int), np.ones(20, int)]
    subsets = balanced_subsets(y, 5, seed=0)
    assert len(subsets) == 5
    for rows in subsets:
        assert len(set(rows)) == len(rows) == 40
        assert np.bincount(y[rows]).tolist() == [20, 20]
        assert set(np.flatnonzero(y == 1)) <= set(rows)
    negatives = {frozenset(r[y[r] == 0]) for r in subsets}
    assert len(negatives) == 5  # each member draws its own majority rows
    again = balanced_subsets(y, 5, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(subsets, again, strict=True))


def test_probability_average_is_the_mean_of_the_members_probabilities() -> None:
    torch.manual_seed(0)
    members = [MLP(4, [8]) for _ in range(3)]
    x = torch.randn(50, 4) * 5
    ensemble = ProbabilityAverage(members).eval()
    expected = torch.stack([torch.sigmoid(m.eval()(x)) for m in members]).mean(0)
    torch.testing.assert_close(torch.sigmoid(ensemble(x)), expected)


def test_each_member_trains_on_balanced_data_and_the_bundle_averages_them(
    make_cfg, tmp_path, monkeypatch
) -> None:
    seen = []
    fit_network = pipeline.fit_network

    def spy(cfg, dm):
        assert dm.batch_size == 16  # model.batch_size, not the data's
        seen.append(dm.splits["train"])
        return fit_network(cfg, dm)

    monkeypatch.setattr(pipeline, "fit_network", spy)
    cfg = make_cfg("model=underbagging", "model.members=3", "threshold=tuned", "seed=0")
    results = pipeline.run(cfg)
    assert len(seen) == 3
    n_pos = results["class_counts"]["train"]["1"]
    for _, y in seen:
        assert np.bincount(y.astype(int)).tolist() == [n_pos, n_pos]  # balanced, every positive
    assert len({X[y == 0].tobytes() for X, y in seen}) == 3  # each its own negatives
    check_averaged_bundle(tmp_path, results, members=3)


def test_deep_ensemble_members_train_on_the_whole_split_and_differ(make_cfg, monkeypatch) -> None:
    seen, nets = [], []
    fit_network = pipeline.fit_network

    def spy(cfg, dm):
        seen.append(dm.splits["train"])
        fitted = fit_network(cfg, dm)
        nets.append(fitted.model)
        return fitted

    monkeypatch.setattr(pipeline, "fit_network", spy)
    results = pipeline.run(make_cfg("model=deep_ensemble", "model.members=3", "seed=0"))
    assert len(seen) == 3
    counts = results["class_counts"]["train"]
    for X, y in seen:  # every row of the training split, unbalanced
        assert np.bincount(y.astype(int)).tolist() == [counts["0"], counts["1"]]
        assert X.tobytes() == seen[0][0].tobytes()
    first = [next(n.parameters()).detach().clone() for n in nets]
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        (["model.members=0"], "model.members=0"),
        (["model.subsample=some"], "model.subsample='some' is unknown"),
        (["model.batch_size=0"], "model.batch_size=0"),
        (["ckpt_path=" + __file__], "ckpt_path"),
    ],
)
def test_bad_underbagging_settings_are_refused(overrides, setting, make_cfg) -> None:
    with pytest.raises(ConfigError, match=setting):
        preflight(make_cfg("model=underbagging", *overrides))
