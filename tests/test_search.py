"""Hyperparameter search (hparams_search=optuna, hydra/sweeper=optuna_study): search spaces, one
study shared by several workers, pruning of hopeless trials."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from conftest import ENV, ROOT, SERIAL, TINY

import imbalance_lab
from imbalance_lab.errors import ConfigError
from imbalance_lab.search.space import search_space
from imbalance_lab.search.study import check_validation_metric, open_storage

SEARCH = ["hparams_search=optuna", *TINY, SERIAL, "figures=false"]


def test_search_space_reads_hydra_sweep_syntax() -> None:
    space = search_space(
        [
            "model.optimizer.lr=tag(log, interval(0.0001, 0.01))",
            "model.net.hidden_sizes=choice([32, 16], [64, 32])",
            "data.batch_size=range(32, 160, 32)",
            "model.net.dropout=interval(0.0, 0.5)",
            "data.name=yeast5",
            "model.net.dropout=interval(0.1, 0.2)",  # the command line replaces the file's
        ]
    )
    d = space.distributions
    assert d["model.optimizer.lr"] == optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)
    assert d["model.net.hidden_sizes"].choices == ("[32,16]", "[64,32]")
    assert d["data.batch_size"] == optuna.distributions.IntDistribution(32, 128, step=32)
    assert d["model.net.dropout"] == optuna.distributions.FloatDistribution(0.1, 0.2)
    assert space.fixed == ["data.name=yeast5"]
    with pytest.raises(ConfigError, match=r"hydra\.sweeper\.params"):
        search_space(["model.optimizer.lr=tag(log, interval(0.0, 0.01))"])
    with pytest.raises(ConfigError, match=r"hydra\.sweeper\.objective"):
        check_validation_metric("test/f1", "hydra.sweeper.objective")


def test_two_workers_add_trials_to_one_study(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    workers = []
    for i in range(2):
        args = [
            sys.executable, str(ROOT / "train.py"), "-m", *SEARCH, "trainer.max_epochs=2",
            f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=2",
            # Each worker its own sampler seed, or both propose the same first trials.
            f"hydra.sweeper.sampler.seed={i}", f"hydra.sweep.dir={tmp_path / f'w{i}'}",
        ]  # fmt: skip
        workers.append(
            subprocess.Popen(
                args,
                cwd=ROOT,
                env=ENV,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for w in workers:
        _, err = w.communicate(timeout=600)
        assert w.returncode == 0, err[-3000:]

    study = optuna.load_study(study_name="imbalance", storage=open_storage(storage))
    trials = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    # Each trial ran in its worker's sweep folder, named after the trial number.
    folders = {t.number: Path(t.user_attrs["run_dir"]) for t in trials}
    assert {p.parent.name for p in folders.values()} == {"w0", "w1"}
    for number, folder in folders.items():
        assert folder.name == str(number)
        record = json.loads((folder / "metrics.json").read_text())
        assert study.trials[number].value == pytest.approx(record["val"]["f1"])
    # Whichever finished last saw the whole study.
    results = [
        yaml.safe_load((tmp_path / w / "optimization_results.yaml").read_text())
        for w in ("w0", "w1")
    ]
    assert max(r["trials"]["complete"] for r in results) == 4
    assert max(r["best_value"] for r in results) == pytest.approx(study.best_value)


def test_pruning_stops_a_hopeless_trial_early(tmp_path: Path) -> None:
    storage = str(tmp_path / "search.journal")  # a journal file this time
    common = [
        *SEARCH, "trainer.max_epochs=6", "data.n_samples=1000", f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.pruner.n_startup_trials=2", "hydra.sweeper.pruner.n_warmup_steps=2",
    ]  # fmt: skip
    # In this process, through the Python API: what `train.py -m` runs (tests/test_api.py).
    # Two trials that learn (the same seed, so the same initial weights as the hopeless one).
    imbalance_lab.sweep(["hydra.sweeper.n_trials=2", "model.optimizer.lr=interval(0.01, 0.011)"],
                        [*common, f"hydra.sweep.dir={tmp_path / 'good'}"])  # fmt: skip
    # A learning rate too small to move the weights: its validation PR-AUC stays at the start's.
    imbalance_lab.sweep(["hydra.sweeper.n_trials=1", "model.optimizer.lr=interval(1e-9, 1.1e-9)"],
                        [*common, f"hydra.sweep.dir={tmp_path / 'bad'}"])  # fmt: skip

    study = optuna.load_study(study_name="imbalance", storage=open_storage(storage))
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2 + [optuna.trial.TrialState.PRUNED]
    hopeless = study.trials[2]
    assert max(hopeless.intermediate_values) == 2  # stopped after 3 of 6 epochs (counted from 0)
    record = json.loads((tmp_path / "bad" / "2" / "metrics.json").read_text())
    assert record["status"] == "ok" and record["epochs"] == 3
    assert record["search"] == {"trial": 2, "pruned_at_epoch": 3}
    # The good trials ran every epoch and were never pruned.
    for number in (0, 1):
        good = json.loads((tmp_path / "good" / str(number) / "metrics.json").read_text())
        assert good["epochs"] == 6 and good["search"]["pruned_at_epoch"] is None
    # A pruned trial is an ordinary run of its sweep's leaderboard.
    assert "1 |" in (tmp_path / "bad" / "leaderboard.md").read_text()
