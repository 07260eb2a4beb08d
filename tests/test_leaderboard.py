"""Leaderboards and plots from real tiny sweeps, rebuilt from metrics.json alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SERIAL, TINY

import imbalance_lab
from imbalance_lab.evaluation.leaderboard import label_runs, leaderboard, load_runs
from imbalance_lab.report import main as report_main

# One worker of pytest -n runs this module: its sweeps (a module fixture) run once.
pytestmark = pytest.mark.xdist_group("leaderboard")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # In this process, through the Python API: what `train.py -m` runs (tests/test_api.py).
    good = tmp_path_factory.mktemp("sweep")
    imbalance_lab.sweep(["sampler=none,random_over", "seed=1,2"],
                        [*TINY, SERIAL, "figures=true", f"hydra.sweep.dir={good}"])  # fmt: skip
    bad = tmp_path_factory.mktemp("failing")
    imbalance_lab.sweep(["seed=1"], [*TINY, SERIAL, "data.n_samples=40", f"hydra.sweep.dir={bad}"])
    return good, bad


def test_sweep_ends_in_leaderboard_and_plots(sweeps) -> None:
    good, _ = sweeps
    df = pd.read_csv(good / "leaderboard.csv")
    assert set(df["strategy"]) == {"sampler=none", "sampler=random_over"}
    assert (df["runs"] == 2).all()
    for name in ("metrics_bars.png", "pr_curves.png", "confusion_matrices.png"):
        data = (good / name).read_bytes()
        assert data[:8] == PNG and len(data) > 5000
    assert "±" in (good / "leaderboard.md").read_text()
    assert "sampler=random_over" in (good / "report.html").read_text()  # the one-page report
    # figures=true: each job draws its own figures too (figures=auto leaves them to the sweep).
    assert len(list(good.glob("*/confusion_matrix.png"))) == 4


def test_means_and_stds_match_the_runs(sweeps) -> None:
    good, _ = sweeps
    df = pd.read_csv(good / "leaderboard.csv").set_index("strategy")
    per_run = [json.loads(f.read_text()) for f in good.glob("*/metrics.json")]
    for sampler in ("none", "random_over"):
        values = [r["test"]["f1"] for r in per_run if r["choices"]["sampler"] == sampler]
        row = df.loc[f"sampler={sampler}"]
        assert row["f1_mean"] == pytest.approx(np.mean(values))
        assert row["f1_std"] == pytest.approx(np.std(values, ddof=1))
    # The best value of a column is marked on the row that holds it.
    best_row = df["recall_mean"].idxmax()
    assert "recall" in df.loc[best_row, "best"].split()


def test_report_rebuilds_from_several_folders_with_failed_row(sweeps, tmp_path: Path) -> None:
    good, bad = sweeps
    assert report_main([str(good), str(bad), "--out", str(tmp_path)]) == 0
    df = pd.read_csv(tmp_path / "leaderboard.csv")
    failed = df[df["failed"] > 0]
    assert len(failed) == 1 and failed["runs"].iloc[0] == 0
    assert "positive rows" in failed["error"].iloc[0]
    assert df["runs"].sum() == 4
    assert (tmp_path / "leaderboard.md").read_text().count("positive rows") == 1


def test_report_on_missing_or_empty_folder(tmp_path: Path, capsys) -> None:
    assert report_main([str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert report_main([str(tmp_path)]) == 2
    assert "holds no metrics.json" in capsys.readouterr().err


def test_report_help_says_metric_reports_and_selection_uses_cross_fitted_validation_f1(
    sweeps, tmp_path: Path, capsys
) -> None:
    with pytest.raises(SystemExit):
        report_main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # wrapped
    assert "does not choose" in help_text and "validation F1 cross-fitted" in help_text
    # What the help says is what selection.md does: chosen on cross-fitted validation F1, test
    # recall beside it.
    good, _ = sweeps
    assert report_main([str(good), "--metric", "recall", "--out", str(tmp_path)]) == 0
    selection = (tmp_path / "selection.md").read_text()
    assert "selected on validation F1 (cross-fitted)" in selection and "test_recall" in selection
    assert "Against fixed choices" not in selection  # one dataset: the leaderboard says it
    # The earlier rule on request, and a refusal where the runs cannot give the default.
    assert report_main([str(good), "--select-on", "pr_auc", "--out", str(tmp_path)]) == 0
    assert "selected on validation PR-AUC" in (tmp_path / "selection.md").read_text()
    old = tmp_path / "old"
    shutil.copytree(good, old)
    for f in old.rglob("metrics.json"):
        run = json.loads(f.read_text())
        run.pop("val_cross_fitted", None)
        f.write_text(json.dumps(run))
    assert report_main([str(old), "--out", str(tmp_path / "o")]) == 0  # falls back to PR-AUC
    assert "selected on validation PR-AUC" in (tmp_path / "o" / "selection.md").read_text()
    capsys.readouterr()
    assert report_main([str(old), "--select-on", "f1_cross_fitted"]) == 2
    assert "--select-on pr_auc" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # an unknown metric: usage error, status 2
        report_main([str(good), "--metric", "f2"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'f2'" in capsys.readouterr().err


def test_labels_name_only_what_varies() -> None:
    runs = [
        {"choices": {"sampler": "smote", "loss": "bce"}, "overrides": ["sampler=smote", "seed=1"]},
        {"choices": {"sampler": "smote", "loss": "bce"}, "overrides": ["sampler=smote", "seed=2"]},
        {"choices": {"sampler": "none", "loss": "bce"}, "overrides": ["sampler=none", "seed=1"]},
    ]
    assert label_runs(runs) == ["sampler=smote", "sampler=smote", "sampler=none"]
    # A group and one of its settings varying together: both stay in the label.
    grid = [
        {"choices": {"sampler": s}, "overrides": [f"sampler={s}", f"sampler.sampling_strategy={r}"]}
        for s in ("smote", "adasyn")
        for r in (0.5, 1.0)
    ]
    assert len(set(label_runs(grid))) == 4
    assert label_runs(grid)[0] == "sampler=smote sampler.sampling_strategy=0.5"
    df = leaderboard(
        [
            {**r, "status": "ok", "test": {"f1": f}}
            for r, f in zip(runs, [0.2, 0.4, 0.1], strict=True)
        ]
    )
    assert df.iloc[0]["strategy"] == "sampler=smote" and df.iloc[0]["f1_mean"] == pytest.approx(0.3)


def test_lab_experiment_composes_and_every_job_instantiates(make_cfg) -> None:
    from hydra.utils import instantiate

    from imbalance_lab.pipeline import build_datamodule
    from imbalance_lab.train import CONF_DIR

    sweep = make_cfg("experiment=lab", tiny=False).hydra.sweeper.params
    strategies = sweep.strategy.split(",")
    assert len(strategies) == 7 and len(sweep.seed.split(",")) == 5
    expected = {"weighted": ("none", "weighted_bce"), "smote": ("smote", "bce")}
    # Each strategy composed once: a seed changes no other setting (and composing the 35 jobs
    # took most of this module's time), so each job of a strategy is that config with its seed.
    seeds = [int(seed) for seed in sweep.seed.split(",")]
    assert len(set(seeds)) == 5
    for i, strategy in enumerate(strategies):
        assert (CONF_DIR / "strategy" / f"{strategy}.yaml").exists()
        seed = seeds[i % len(seeds)]
        cfg = make_cfg("experiment=lab", f"strategy={strategy}", f"seed={seed}", tiny=False)
        assert cfg.data.name == "yeast4" and cfg.seed == seed
        assert instantiate(cfg.loss) is not None
        dm = build_datamodule(cfg)
        assert dm.sampler is not None
        if strategy in expected:
            choices = cfg.hydra.runtime.choices
            assert (choices.sampler, choices.loss) == expected[strategy]


def test_job_killed_before_writing_metrics_is_listed_as_failed(sweeps, tmp_path: Path) -> None:
    import shutil

    good, _ = sweeps
    copy = tmp_path / "sweep"
    shutil.copytree(good, copy)
    victim = next(iter(sorted(copy.glob("*/metrics.json"))))
    victim.unlink()  # as if the job had been killed mid-training
    runs = load_runs([copy])
    failed = [r for r in runs if r["status"] == "failed"]
    assert len(runs) == 4 and len(failed) == 1
    assert "killed" in failed[0]["error"] and failed[0]["choices"]["sampler"] in {
        "none",
        "random_over",
    }
    df = leaderboard(runs)
    assert df["failed"].sum() == 1 and df["runs"].sum() == 3
    assert sorted(df["strategy"]) == ["sampler=none", "sampler=random_over"]
