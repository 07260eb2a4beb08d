"""The cross-fitted score of a threshold rule: honest where the in-sample score flatters."""

from __future__ import annotations

import numpy as np
import pytest

from imbalance_lab.evaluation.metrics import counts_to_metrics
from imbalance_lab.evaluation.threshold import cross_fitted_metrics, tune_threshold


def _tuned(probs: np.ndarray, target: np.ndarray) -> float:
    return tune_threshold(probs, target, "f1", min_positives=1).value


def test_a_fixed_threshold_scores_as_on_all_rows() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.1).astype(int)
    p = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    pred = p > 0.4
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    expected = counts_to_metrics(tn=(y == 0).sum() - fp, fp=fp, fn=(y == 1).sum() - tp, tp=tp)
    got = cross_fitted_metrics(p, y, lambda *_: 0.4)
    assert got == pytest.approx({k: float(v) for k, v in expected.items()})


def test_each_part_is_scored_at_a_threshold_chosen_on_the_other_rows() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(100) < 0.2).astype(int)
    p = rng.permutation(100) / 100  # distinct scores: a row is known by its score
    seen: list[set[float]] = []

    def choose(probs: np.ndarray, target: np.ndarray) -> float:
        seen.append(set(probs.tolist()))
        return _tuned(probs, target)

    cross_fitted_metrics(p, y, choose, folds=5, repeats=2)
    assert len(seen) == 10
    for shuffling in (seen[:5], seen[5:]):
        left_out = [set(p.tolist()) - rows for rows in shuffling]
        assert all(20 <= len(part) <= 21 for part in left_out)  # each part ~ a fifth
        assert set().union(*left_out) == set(p.tolist())  # every row scored once
        assert sum(len(part) for part in left_out) == len(p)


def test_it_removes_the_optimism_of_a_threshold_tuned_on_the_scored_rows() -> None:
    # Scores that carry no information: a threshold tuned on 12 positives still finds a cut
    # where F1 looks good on those rows. On new rows of the same kind it does no better than
    # chance; the cross-fitted F1 says so, the in-sample F1 does not.
    rng = np.random.default_rng(2)
    in_sample, cross_fitted, fresh = [], [], []
    for _ in range(20):
        y = (rng.random(120) < 0.1).astype(int)
        p = rng.random(120)
        choice = tune_threshold(p, y, "f1", min_positives=1)
        in_sample.append(choice.val_score)
        cross_fitted.append(cross_fitted_metrics(p, y, _tuned)["f1"])
        y_new, p_new = (rng.random(5000) < 0.1).astype(int), rng.random(5000)
        pred = p_new > choice.value
        tp = (pred & (y_new == 1)).sum()
        fresh.append(2 * tp / (pred.sum() + y_new.sum()))
    optimism = np.mean(in_sample) - np.mean(fresh)
    assert optimism > 0.05
    assert abs(np.mean(cross_fitted) - np.mean(fresh)) < optimism / 3


def test_a_score_equal_to_the_threshold_is_negative_as_in_the_run_metrics() -> None:
    # Estimators such as model=brf give probabilities like 0.5 exactly: the cross-fitted
    # counts must classify them as the run's own metrics do (positive only above).
    import torch

    from imbalance_lab.evaluation.metrics import binary_metrics

    y = np.array([0, 0, 0, 1, 1, 0, 0, 0, 0, 1] * 3)
    p = np.array([0.5, 0.5, 0.1, 0.5, 0.9, 0.2, 0.1, 0.1, 0.1, 0.9] * 3, dtype=np.float32)
    plain = binary_metrics(torch.from_numpy(p), torch.from_numpy(y), 0.5)
    got = cross_fitted_metrics(p, y, lambda *_: 0.5)
    assert got == pytest.approx({k: plain[k] for k in got})
