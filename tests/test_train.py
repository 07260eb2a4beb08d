"""Training end to end: the CLI, metrics.json, pos_weight, and that the strategies do something."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, run_cli

from imbalance_lab.errors import ConfigError
from imbalance_lab.pipeline import draws_figures, run
from imbalance_lab.settings_check import check_settings

FOUR = ("acc", "precision", "recall", "f1")


def test_default_cli_run_writes_metrics(tmp_path: Path) -> None:
    # The default job (real KEEL data), with a tiny epoch budget.
    proc = run_cli("trainer.max_epochs=2", f"hydra.run.dir={tmp_path}")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    assert metrics["dataset"] == "yeast4"
    for m in FOUR:
        assert 0.0 <= metrics["test"][m] <= 1.0
    c = metrics["confusion"]
    assert c["tp"] + c["fn"] == metrics["class_counts"]["test"]["1"]
    assert c["tn"] + c["fp"] == metrics["class_counts"]["test"]["0"]
    assert {"resample_s", "train_s"} <= set(metrics["timings"])
    assert metrics["settings"]["sampler"]["_target_"] == "imblearn.FunctionSampler"
    assert "test confusion matrix" in proc.stdout
    # TensorBoard: per-epoch curves of train and val, the test views and the HPARAMS entry.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    tags = events.Tags()
    for split in ("train", "val"):
        for m in ("loss", *FOUR):
            assert len(events.Scalars(f"{split}/{m}")) == metrics["epochs"]
    assert {"test/f1", "hp/test_f1"} <= set(tags["scalars"])
    assert {"test/confusion_matrix", "test/pr_curve"} <= set(tags["images"])
    hparams = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    assert b"sampler" in hparams and b"seed" in hparams


def test_multirun_two_jobs_and_leaderboard(tmp_path: Path) -> None:
    run_cli("-m", "sampler=none,random_over", *TINY, f"hydra.sweep.dir={tmp_path}")
    files = sorted(tmp_path.glob("*/metrics.json"))
    assert len(files) == 2
    runs = [json.loads(f.read_text()) for f in files]
    assert {r["choices"]["sampler"] for r in runs} == {"none", "random_over"}
    for r in runs:
        assert all(0.0 <= r["test"][m] <= 1.0 for m in FOUR)
    over = next(r for r in runs if r["choices"]["sampler"] == "random_over")
    assert over["class_counts"]["train"]["1"] == over["class_counts"]["train"]["0"]
    assert "sampler=random_over" in (tmp_path / "leaderboard.md").read_text()
    # figures=auto: the sweep draws its comparison, its jobs draw none of their own.
    assert (tmp_path / "metrics_bars.png").is_file()
    assert not list(tmp_path.glob("*/*.png"))


def test_figures_setting(make_cfg) -> None:
    assert draws_figures(make_cfg("figures=auto"))  # a single run draws
    assert not draws_figures(make_cfg("figures=false"))
    with pytest.raises(ConfigError, match=r"figures='yes' is unknown; use auto, true or false"):
        check_settings(make_cfg("figures=yes"))
    with pytest.raises(ConfigError, match=r"figures=null is unknown"):
        check_settings(make_cfg("figures=null"))


@pytest.mark.parametrize(
    ("sampler", "expected"),
    [("none", 9 / 1), ("random_under", 2.0), ("random_over", 1.0)],
)
def test_pos_weight_auto_is_neg_over_pos_after_resampling(make_cfg, sampler, expected) -> None:
    extra = ["sampler.sampling_strategy=0.5"] if sampler == "random_under" else []
    results = run(
        make_cfg("loss=weighted_bce", f"sampler={sampler}", *extra, "trainer.max_epochs=1")
    )
    counts = results["class_counts"]["train"]
    assert results["pos_weight"] == pytest.approx(counts["0"] / counts["1"])
    assert results["pos_weight"] == pytest.approx(expected, rel=0.05)


def test_balanced_batches_are_not_weighted_twice(make_cfg) -> None:
    results = run(
        make_cfg("loss=weighted_bce", "data.batch_sampling=balanced", "trainer.max_epochs=1")
    )
    assert results["pos_weight"] == pytest.approx(1.0)


def test_pos_weight_number_is_kept(make_cfg) -> None:
    results = run(make_cfg("loss=weighted_bce", "loss.pos_weight=3.5", "trainer.max_epochs=1"))
    assert results["pos_weight"] == pytest.approx(3.5)


def test_weighting_and_smote_raise_minority_recall(make_cfg) -> None:
    """The lab's claim on an easy-to-state problem: synthetic 1:50, fixed seed, threshold 0.5."""
    problem = [
        "data=synthetic",
        "data.n_samples=3000",
        "data.n_features=10",
        "data.n_informative=5",
        "data.minority_fraction=0.02",
        "data.class_sep=0.8",
        "trainer.max_epochs=15",
        "logger=none",
        "callbacks=none",
        "seed=1",
        "threads=1",
    ]
    recall = {}
    for name, extra in {
        "plain": ["sampler=none", "loss=bce"],
        "weighted": ["loss=weighted_bce"],
        "smote": ["sampler=smote"],
    }.items():
        recall[name] = run(make_cfg(*problem, *extra, tiny=False))["test"]["recall"]
    assert recall["weighted"] > recall["plain"]
    assert recall["smote"] > recall["plain"]


def test_tuned_threshold_is_chosen_on_validation(make_cfg) -> None:
    results = run(make_cfg("threshold=tuned", "threshold.min_positives=5", "trainer.max_epochs=3"))
    thr = results["threshold"]
    assert thr["rule"] == "tuned"
    assert 0.0 < thr["value"] < 1.0
    # The tuned threshold maximises validation F1: the fixed 0.5 can be no better there.
    fixed = run(make_cfg("threshold=fixed", "trainer.max_epochs=3"))
    assert results["val"]["f1"] >= fixed["val"]["f1"] - 1e-9
    # Scored on validation rows it was not tuned on, it loses that edge; a fixed threshold,
    # chosen on no rows, scores the same either way.
    assert results["val_cross_fitted"]["f1"] <= results["val"]["f1"]
    for name, value in fixed["val_cross_fitted"].items():
        assert value == pytest.approx(fixed["val"][name]), name


def test_threshold_is_tuned_on_validation_data_only(make_cfg, monkeypatch) -> None:
    import imbalance_lab.pipeline as train_mod

    calls, cross_fitted = [], {}
    real, real_cross_fitted = train_mod.tune_threshold, train_mod.cross_fitted_metrics

    def spy(probs, target, **kwargs):
        calls.append((np.asarray(probs).copy(), np.asarray(target).copy()))
        return real(probs, target, **kwargs)

    def spy_cross_fitted(probs, target, choose, **kwargs):
        cross_fitted.update(probs=np.asarray(probs).copy(), target=np.asarray(target).copy())
        return real_cross_fitted(probs, target, choose, **kwargs)

    monkeypatch.setattr(train_mod, "tune_threshold", spy)
    monkeypatch.setattr(train_mod, "cross_fitted_metrics", spy_cross_fitted)
    # Val and test of different sizes, so the labels it saw can only be validation's.
    cfg = make_cfg("threshold=tuned", "threshold.min_positives=1", "data.val_size=0.3")
    results = run(cfg)
    dm = train_mod.build_datamodule(cfg)
    dm.setup()
    # The run's threshold: tuned on the whole validation split.
    np.testing.assert_array_equal(calls[0][1], dm.splits["val"][1])
    assert len(calls[0][1]) == sum(results["class_counts"]["val"].values())
    assert len(calls[0][1]) != sum(results["class_counts"]["test"].values())
    # The cross-fitted score: the same rule on validation's own parts, never on test rows.
    np.testing.assert_array_equal(cross_fitted["target"], dm.splits["val"][1])
    assert len(calls) > 1
    for probs, target in calls[1:]:
        assert len(target) < len(calls[0][1])
        assert np.isin(probs, cross_fitted["probs"]).all()


def test_cross_fitted_parts_keep_the_guard_decided_on_the_whole_validation_split(
    make_cfg,
) -> None:
    # 5 validation positives, threshold.min_positives=5: the run tunes its threshold. Each part
    # the cross-fitting chooses on holds 4 of them; it must tune there too, not fall back to
    # 0.5 and score the tuned configuration as if it used the fixed threshold.
    from imbalance_lab.evaluation.threshold import cross_fitted_metrics
    from imbalance_lab.pipeline import _choose_threshold, _rule_on_parts

    rng = np.random.default_rng(0)
    y = np.r_[np.ones(5), np.zeros(150)].astype(int)
    p = np.r_[rng.uniform(0.05, 0.3, 5), rng.uniform(0.0, 0.25, 150)]
    cfg = make_cfg("threshold=tuned", "threshold.min_positives=5")
    choice = _choose_threshold(cfg, p, y)
    assert choice.rule == "tuned"
    rule = _rule_on_parts(cfg, choice)
    assert rule(p[1:], y[1:]) != cfg.threshold.value  # 4 positives: still tuned
    fixed = cross_fitted_metrics(p, y, lambda *_: float(cfg.threshold.value))["f1"]
    assert cross_fitted_metrics(p, y, rule)["f1"] != pytest.approx(fixed)
    # A split the guard kept at the fixed value stays fixed on every part.
    few = _choose_threshold(make_cfg("threshold=tuned", "threshold.min_positives=6"), p, y)
    assert few.rule.startswith("fallback")
    assert _rule_on_parts(cfg, few)(p, y) == few.value


def test_cross_validation_fold_run(make_cfg) -> None:
    results = run(make_cfg("data.folds=3", "data.fold=2"))
    assert results["fold"] == {"folds": 3, "fold": 2, "repeat": 0}
    n_rows = sum(sum(results["class_counts"][s].values()) for s in ("train_before", "val", "test"))
    assert sum(results["class_counts"]["test"].values()) == pytest.approx(n_rows / 3, abs=1)


def test_run_diagnoses_the_model(make_cfg, tmp_path) -> None:
    """Per-class recall, calibration and generalisation in metrics.json; figures as PNGs."""
    toy = ["data=toy2d", "data.n_samples=600", "data.minority_fraction=0.1"]
    results = run(make_cfg(*toy, *TINY[5:], tiny=False))
    diag = results["diagnostics"]
    for split in ("train", "val", "test"):
        r = diag["recall"][split]
        assert 0 <= r["minority_recall"] <= 1 and 0 <= r["majority_recall"] <= 1
    assert diag["recall"]["test"]["minority_recall"] == pytest.approx(results["test"]["recall"])
    assert diag["recall"]["test"]["majority_recall"] == pytest.approx(
        results["test"]["recall_majority"]
    )
    assert 0 <= results["test"]["ece"] <= 1
    assert isinstance(diag["generalisation"]["generalisation_gap_flag"], bool)
    names = ("confusion_matrix", "pr_curve", "reliability", "probability_histograms")
    for name in (*names, "decision_boundary"):  # 2D data: the boundary is drawn too
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("model", ["hgb", "logreg"])
def test_non_neural_reference_on_the_same_split(make_cfg, model) -> None:
    mlp = run(make_cfg("sampler=random_over"))
    ref = run(make_cfg(f"model={model}", "sampler=random_over"))
    # Same data, split and resampling; only the model differs.
    assert ref["class_counts"] == mlp["class_counts"]
    assert ref["epochs"] is None and ref["pos_weight"] is None
    assert ref["test"]["recall"] > 0  # balanced class weights find minority rows
    if model == "hgb":  # the synthetic classes are clusters: not linearly separable
        assert ref["test"]["roc_auc"] > 0.7
    assert ref["settings"]["model"]["estimator"]["class_weight"] == "balanced"
