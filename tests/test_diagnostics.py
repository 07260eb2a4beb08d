"""Diagnostics: minority typology, overlap, calibration, model report, figures, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ENV, ROOT

from imbalance_lab.evaluation import plots
from imbalance_lab.evaluation.diagnostics import (
    calibration,
    class_overlap,
    data_report,
    decision_boundary_figure,
    minority_typology,
    model_report,
    probability_histograms_figure,
    reliability_figure,
    typology_counts,
    typology_pca_figure,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _clusters(n_minority: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Clusters of exactly 6 points, 100 apart: each point's 5 nearest neighbours are the other
    5 of its cluster, so a minority point in a cluster of m minority rows has 6 - m majority
    neighbours."""
    hexagon = np.c_[np.cos(np.arange(6) * np.pi / 3), np.sin(np.arange(6) * np.pi / 3)]
    X, y = [], []
    for c, m in enumerate(n_minority):
        X.append(hexagon + np.array([100.0 * c, 0.0]))
        y.append([1] * m + [0] * (6 - m))
    return np.concatenate(X), np.concatenate(y)


def test_typology_known_counts() -> None:
    # minority per cluster: 1 -> outlier (5 majority), 2 -> rare (4), 3 -> borderline (3),
    # 4 -> borderline (2), 5 -> safe (1), 6 -> safe (0), 0 -> majority only.
    X, y = _clusters([1, 2, 3, 4, 5, 6, 0])
    types = minority_typology(X, y)
    assert len(types) == (y == 1).sum() == 21
    expected = ["outlier"] + ["rare"] * 2 + ["borderline"] * 7 + ["safe"] * 11
    assert types.tolist() == expected
    summary = typology_counts(types)
    assert summary["counts"] == {"safe": 11, "borderline": 7, "rare": 2, "outlier": 1}
    assert summary["shares"]["safe"] == pytest.approx(11 / 21)
    assert sum(summary["shares"].values()) == pytest.approx(1.0)


def test_class_overlap_and_data_report() -> None:
    X = np.array(
        [[0.0, 0], [0.5, 0]]  # minority whose nearest neighbour is majority
        + [[10.0, 0], [10.5, 0], [12.0, 0]]  # two minority rows nearest to each other
        + [[50.0, 0]] * 3  # one feature vector seen with both labels
        + [[100.0, 0], [101.0, 0], [102.0, 0], [103.0, 0]]
    )
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    ov = class_overlap(X, y)
    assert ov == {
        "minority_nn_majority_share": 0.5,
        "n_conflicting_feature_rows": 1,
        "n_rows_in_conflict": 3,
    }
    splits = {"train": (X[:5], y[:5]), "test": (X[5:], y[5:])}
    report = data_report(splits, X, y)
    assert report["counts"]["all"] == {"0": 8, "1": 4, "n": 12, "imbalance_ratio": 2.0}
    assert report["counts"]["train"] == {"0": 2, "1": 3, "n": 5, "imbalance_ratio": 2 / 3}
    assert report["typology"]["n"] == 4
    assert report["overlap"] == ov
    json.dumps(report)  # JSON-friendly


def _synthetic_scores(n: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, n)
    return p, (rng.uniform(0, 1, n) < p).astype(int)


def test_calibration_error() -> None:
    p, y = _synthetic_scores()
    good = calibration(p, y)
    assert good["ece"] < 0.02
    assert len(good["bins"]) == 15
    assert sum(b["count"] for b in good["bins"]) == len(p)
    # On minority rows alone a calibrated score is far from 1: E[1 - p | y = 1] = 1/3.
    assert good["ece_minority"] == pytest.approx(1 / 3, abs=0.02)
    over = calibration(np.where(p < 0.5, 0.01, 0.99), y)
    assert over["ece"] > 0.2
    assert calibration(p[y == 0], y[y == 0])["ece_minority"] is None


def test_model_report_flags_generalisation_gap() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(90, int), np.ones(10, int)]
    memorised = np.where(y == 1, 0.9, 0.1)  # train: every minority row right
    missed = np.where(y == 1, rng.uniform(0.2, 0.6, 100), 0.1)  # test: most missed
    probs = {"train": memorised, "val": missed, "test": missed}
    targets = {s: y for s in probs}
    report = model_report(probs, targets, threshold=0.5)
    gen = report["generalisation"]
    assert report["recall"]["train"]["minority_recall"] == 1.0
    assert report["recall"]["train"]["majority_recall"] == 1.0
    assert gen["train_minus_test"] > 0.2
    assert gen["generalisation_gap_flag"] is True
    assert report["calibration_test"]["ece"] is not None
    same = model_report({"train": missed, "test": missed}, {"train": y, "test": y}, 0.5)
    assert same["generalisation"]["generalisation_gap_flag"] is False
    relaxed = model_report(probs, targets, threshold=0.5, max_gap=1.0)
    assert relaxed["generalisation"]["generalisation_gap_flag"] is False
    json.dumps(report)


def test_figures_are_png(tmp_path: Path) -> None:
    p, y = _synthetic_scores(2000)
    X, yc = _clusters([1, 2, 3, 5, 0, 0])
    rng = np.random.default_rng(0)
    X5 = np.c_[X, rng.normal(size=(len(X), 3))]
    figures = {
        "reliability": reliability_figure(calibration(p, y)),
        "hist": probability_histograms_figure(p, y, threshold=0.5),
        "pca": typology_pca_figure(X5, yc, minority_typology(X5, yc)),
        "pca2d": typology_pca_figure(X, yc, minority_typology(X, yc)),
        "boundary": decision_boundary_figure(
            lambda g: 1 / (1 + np.exp(-(g[:, 0] - 250) / 50)), X, yc, "logistic in x0"
        ),
    }
    for name, fig in figures.items():
        path = plots.save(fig, tmp_path / f"{name}.png")
        assert path.read_bytes()[:8] == PNG, name
    with pytest.raises(ValueError, match="2D"):
        decision_boundary_figure(lambda g: g[:, 0], X5, yc)


def test_diagnose_cli(tmp_path: Path) -> None:
    out = tmp_path / "diag"
    args = ["data=synthetic", "data.n_samples=600", f"hydra.run.dir={out}"]
    proc = subprocess.run(
        [sys.executable, "-m", "imbalance_lab.diagnose", *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "diagnosis.json").read_text())
    counts = report["counts"]
    assert counts["all"]["n"] == 600
    assert sum(counts[s]["n"] for s in ("train", "val", "test")) == 600
    for c in ("0", "1"):
        assert sum(counts[s][c] for s in ("train", "val", "test")) == counts["all"][c]
    assert report["typology"]["n"] == counts["all"]["1"]
    assert (out / "typology_pca.png").read_bytes()[:8] == PNG
    for reading in report["readings"]:  # each suggestion with its basis and sureness
        assert reading["finding"] and reading["basis"] and reading["confidence"]
    assert "basis:" in proc.stdout and "confidence:" in proc.stdout
    assert "minority typology" in proc.stdout


def test_advice_says_what_it_rests_on_and_how_sure() -> None:
    from imbalance_lab.evaluation.advice import read_report

    # yeast4's shape: 30 of 51 minority rows rare or outliers.
    report = {
        "typology": {
            "n": 51,
            "counts": {"safe": 3, "borderline": 18, "rare": 10, "outlier": 20},
        },
        "overlap": {"n_conflicting_feature_rows": 2, "n_rows_in_conflict": 5},
        "overrides": ["data=keel", "data.name=yeast4", "seed=3"],
    }
    hard, conflict = read_report(report)
    assert hard.finding.startswith("59% of the 51 minority rows are rare or outliers")
    assert "(95 % interval 45%-71%)" in hard.finding
    assert "Napierala & Stefanowski (2016" in hard.basis
    # How sure, and why a sweep may still rank SMOTE first: no silent contradiction.
    assert hard.confidence.startswith("Low") and "may still rank first" in hard.confidence
    assert "`python train.py -m experiment=lab data=keel data.name=yeast4`" in hard.check
    assert "sampler=random_over" in hard.check
    assert conflict.confidence.startswith("Certain") and "(5 rows)" in conflict.finding
    # Few minority rows: the reading says its share is loose.
    few = {**report, "typology": {"n": 10, "counts": {"safe": 1, "borderline": 2, "rare": 3,
                                                      "outlier": 4}}}  # fmt: skip
    assert "With 10 minority rows the share itself is loose" in read_report(few)[0].confidence


def test_typology_view_is_not_squeezed_by_far_rows() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    X[:3] += 1000.0  # three far majority rows (a rare value of some column)
    y = np.zeros(300, dtype=int)
    y[-20:] = 1
    fig = typology_pca_figure(X, y, minority_typology(X, y))
    ax = fig.axes[0]
    assert ax.get_xlim()[1] < 100 and ax.get_ylim()[1] < 100
    assert X[y == 1, 0].max() <= ax.get_xlim()[1]  # every minority row stays in view
    assert "far majority rows outside the view" in ax.get_title()
