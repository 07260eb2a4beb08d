"""threshold=oof: the threshold chosen on pooled out-of-fold probabilities of an inner
cross-validation of every non-test row, test scored by the average of the fold models."""

from __future__ import annotations

import numpy as np
import pytest
from test_bundle import check_averaged_bundle

from imbalance_lab import pipeline
from imbalance_lab.data.datamodule import ImbalanceDataModule
from imbalance_lab.errors import ConfigError
from imbalance_lab.models.out_of_fold import inner_folds
from imbalance_lab.preflight import preflight


def _rows(X: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in np.ascontiguousarray(X)}


def test_inner_folds_hold_each_row_out_once_and_keep_the_class_ratio() -> None:
    y = np.r_[np.zeros(90, int), np.ones(10, int)]
    folds = inner_folds(y, 5, seed=0)
    held = np.concatenate([h for _, h in folds])
    assert sorted(held.tolist()) == list(range(100))
    for train, out in folds:
        assert not set(train) & set(out)
        assert y[out].sum() == 2
    with pytest.raises(ConfigError, match=r"threshold\.folds"):
        inner_folds(y, 11, seed=0)  # more folds than positives


def test_inner_models_never_train_on_their_held_out_rows(make_cfg, monkeypatch) -> None:
    seen = []
    fit_network = pipeline.fit_network

    def spy(cfg, dm):
        seen.append((dm.splits["train"], dm.splits["val"], dm.splits["test"]))
        return fit_network(cfg, dm)

    monkeypatch.setattr(pipeline, "fit_network", spy)
    cfg = make_cfg("threshold=oof", "threshold.folds=3", "sampler=random_over", "seed=0")
    results = pipeline.run(cfg)
    assert len(seen) == 3
    test_rows = _rows(seen[0][2][0])
    held_all: set[bytes] = set()
    for (X_tr, y_tr), (X_out, _), _ in seen:
        assert not _rows(X_tr) & _rows(X_out)  # resampled inside the inner training part
        assert not (_rows(X_tr) | _rows(X_out)) & test_rows
        assert np.bincount(y_tr.astype(int)).tolist()[0] == int(y_tr.sum())  # oversampled 1:1
        held_all |= _rows(X_out)
    counts = results["class_counts"]
    outside_test = sum(counts[s][c] for s in ("train_before", "val") for c in ("0", "1"))
    assert len(held_all) == outside_test  # every non-test row is out of fold once
    # Only the inner training parts are resampled (the run's split is not): their counts are
    # what the run reports as trained on, and their resampling time is its resample_s.
    assert len(counts["train_folds"]) == 3
    assert [sum(c.values()) for c in counts["train_folds"]] == [len(t[1]) for t, _, _ in seen]
    assert counts["train"]["0"] == counts["train"]["1"]  # random_over: each part 1:1
    assert not any(n["kind"] == "sampler_unchanged" for n in results["notes"])
    assert results["timings"]["resample_s"] > 0
    assert results["threshold"]["rule"].startswith("tuned out of fold (3 folds")


def test_the_threshold_never_reads_test_rows(make_cfg, monkeypatch) -> None:
    cfg = make_cfg("threshold=oof", "threshold.folds=3", "seed=0")
    clean = pipeline.run(cfg)
    setup = ImbalanceDataModule.setup

    def poisoned(self, stage=None):  # test rows replaced by noise, their labels flipped
        fresh = not self.splits
        setup(self, stage)
        if fresh:
            X, y = self.splits["test"]
            noise = np.random.default_rng(1).normal(size=X.shape).astype(X.dtype) * 10
            self.splits["test"] = (noise, 1 - y)

    monkeypatch.setattr(ImbalanceDataModule, "setup", poisoned)
    dirty = pipeline.run(make_cfg("threshold=oof", "threshold.folds=3", "seed=0"))
    assert dirty["threshold"] == clean["threshold"]
    assert dirty["val"] == clean["val"]
    assert dirty["test"] != clean["test"]


def test_the_bundle_averages_the_fold_models_as_the_run_did(make_cfg, tmp_path) -> None:
    results = pipeline.run(make_cfg("threshold=oof", "threshold.folds=3", "seed=0"))
    check_averaged_bundle(tmp_path, results, members=3)


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        (["threshold.folds=1"], "threshold.folds=1"),
        (["model=underbagging"], "model=underbagging"),
        (["model=deep_ensemble"], "use threshold=tuned with model=deep_ensemble"),
        (["ckpt_path=" + __file__], "ckpt_path"),
    ],
)
def test_bad_out_of_fold_settings_are_refused(overrides, setting, make_cfg) -> None:
    with pytest.raises(ConfigError, match=setting):
        preflight(make_cfg("threshold=oof", *overrides))
