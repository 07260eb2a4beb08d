"""A run's record: the labels it is filed under (the same whether it finished, failed or was
killed), and the root cause of a failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import RUN, SERIAL, run_cli
from hydra.utils import instantiate

import imbalance_lab
from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.leaderboard import label_runs, load_runs
from imbalance_lab.records import (
    dataset_name,
    error_summary,
    failed_record,
    hydra_info,
    root_cause,
)

# One worker of pytest -n runs this module: its fold sweep (a module fixture) runs once.
pytestmark = pytest.mark.xdist_group("records")

LABELS = ("dataset", "fold", "seed", "choices", "overrides")


def _table(path: Path, n: int = 400, n_pos: int = 40, seed: int = 0) -> Path:
    """A numeric CSV with a binary ``y``: ``n_pos`` positives shifted away from the rest."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n, int)
    y[:n_pos] = 1
    rng.shuffle(y)
    df = pd.DataFrame(rng.normal(size=(n, 4)) + 1.5 * y[:, None], columns=[f"f{i}" for i in "0123"])
    df["y"] = y
    df.to_csv(path, index=False)
    return path


def _sources(tmp_path: Path) -> dict[str, list[str]]:
    """Overrides of every data source the project ships, with names that differ from data.name
    (a loader prefix, a file stem, a digit, a kind)."""
    table = _table(tmp_path / "my_cards.v2.csv")
    return {
        "keel": ["data=keel", "data.name=load_yeast4"],
        "table": ["data=table", f"data.path={table}", "data.target=y"],
        "table_named": ["data=table", f"data.path={table}", "data.target=y", "data.name=cards"],
        "digits": ["data=digits", "data.positive_digit=3"],
        "synthetic": ["data=synthetic", "data.n_samples=600", "data.n_features=6"],
        "toy2d": ["data=toy2d", "data.kind=moons"],
    }


SOURCES = ("keel", "table", "table_named", "digits", "synthetic", "toy2d")


@pytest.mark.parametrize("source", SOURCES)
def test_dataset_name_from_the_config_is_the_loaded_name(make_cfg, tmp_path, source) -> None:
    cfg = make_cfg(*_sources(tmp_path)[source], tiny=False)
    assert dataset_name(cfg) == instantiate(cfg.data.source).name
    expected = {
        "keel": "yeast4",
        "table": "my_cards",
        "table_named": "cards",
        "digits": "digits-3",
        "synthetic": "synthetic",
        "toy2d": "toy2d-moons",
    }
    assert dataset_name(cfg) == expected[source]


@pytest.mark.parametrize("source", ["keel", "table", "digits", "toy2d"])
def test_failure_records_carry_the_labels_of_a_finished_run(make_cfg, tmp_path, source) -> None:
    from imbalance_lab.pipeline import run

    overrides = [*_sources(tmp_path)[source], *RUN, "data.folds=5", "data.fold=2", "seed=3"]
    cfg = make_cfg(*overrides, tiny=False)
    finished = run(cfg)
    info = hydra_info()
    failed = failed_record(cfg, "RuntimeError: boom", info["choices"], info["overrides"])
    assert failed["status"] == "failed" and failed["error"] == "RuntimeError: boom"
    assert {k: failed[k] for k in LABELS} == {k: finished[k] for k in LABELS}
    assert finished["fold"] == {"folds": 5, "fold": 2, "repeat": 0} and finished["seed"] == 3
    assert len(set(label_runs([finished, failed]))) == 1  # one leaderboard row


def test_labels_survive_a_config_that_does_not_resolve(make_cfg) -> None:
    cfg = make_cfg("data=table", "data.folds=five", tiny=False)  # no path: the run will fail
    record = failed_record(cfg, "ConfigError: data.path is not set", {}, [])
    assert record["dataset"] is None and record["fold"]["folds"] == "five"


def test_a_source_of_ones_own_is_named_by_data_name() -> None:
    from omegaconf import OmegaConf

    source = {"_target_": "mypackage.loaders.load_claims"}
    named = OmegaConf.create({"data": {"name": "claims-2025", "source": source}})
    assert dataset_name(named) == "claims-2025"
    assert dataset_name(OmegaConf.create({"data": {"name": None, "source": source}})) == (
        "load_claims"
    )


@pytest.fixture(scope="module")
def fold_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The failing case of round 1: 5-fold CV of SMOTE on a table with nine positives, where
    most folds leave too few minority rows for SMOTE's neighbours."""
    tmp = tmp_path_factory.mktemp("folds")
    table = _table(tmp / "nine_positives.csv", n=400, n_pos=9, seed=2)
    sweep = tmp / "sweep"
    # In this process, through the Python API: what `train.py -m` runs (tests/test_api.py).
    imbalance_lab.sweep(
        ["data.fold=0,1,2,3,4"],
        [*RUN, SERIAL, "trainer.max_epochs=3", "data=table", f"data.path={table}",
         "data.target=y", "data.folds=5", "sampler=smote", f"hydra.sweep.dir={sweep}"],
    )  # fmt: skip
    return sweep


def test_failed_folds_are_filed_with_their_finished_siblings(fold_sweep: Path) -> None:
    runs = [json.loads(f.read_text()) for f in sorted(fold_sweep.glob("*/metrics.json"))]
    assert len(runs) == 5
    status = [r["status"] for r in runs]
    assert "ok" in status and "failed" in status  # the case still splits its folds so
    assert {r["dataset"] for r in runs} == {"nine_positives"}
    assert sorted(r["fold"]["fold"] for r in runs) == [0, 1, 2, 3, 4]
    df = pd.read_csv(fold_sweep / "leaderboard.csv")
    assert len(df) == 1  # one configuration, one row: runs and failed together
    row = df.iloc[0]
    assert row["runs"] == status.count("ok") and row["failed"] == status.count("failed")
    assert not row["complete"] and pd.isna(row["best"])  # never marked best
    assert f"{row['runs']} of 5" in (fold_sweep / "leaderboard.md").read_text()


def test_selection_never_presents_an_incomplete_configuration(fold_sweep: Path) -> None:
    text = (fold_sweep / "selection.md").read_text()
    n_ok = sum(
        json.loads(f.read_text())["status"] == "ok" for f in fold_sweep.glob("*/metrics.json")
    )
    assert "No strategy finished all its runs" in text
    assert f"incomplete, {n_ok} of 5 runs finished ({5 - n_ok} failed)" in text
    assert "| nine_positives |" not in text  # no selection row for the dataset


def test_killed_jobs_are_rebuilt_with_the_labels_they_would_have_written(
    fold_sweep: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "sweep"
    shutil.copytree(fold_sweep, copy)
    written = {}
    for f in copy.glob("*/metrics.json"):
        written[f.parent.name] = json.loads(f.read_text())
        f.unlink()  # as if every job had been killed before writing its record
    rebuilt = {Path(r["path"]).name: r for r in load_runs([copy])}
    assert rebuilt.keys() == written.keys()
    for job, record in written.items():
        assert rebuilt[job]["status"] == "failed" and "killed" in rebuilt[job]["error"]
        assert {k: rebuilt[job][k] for k in LABELS} == {k: record[k] for k in LABELS}


def test_root_cause_walks_through_hydras_wrapper() -> None:
    with pytest.raises(Exception) as info:  # Lightning's own check, inside hydra.instantiate
        instantiate({"_target_": "lightning.pytorch.Trainer", "accelerator": "nonsense"})
    assert type(info.value).__name__ == "InstantiationException"
    assert error_summary(info.value).startswith(
        "ValueError: You selected an invalid accelerator name"
    )
    with pytest.raises(Exception) as info:  # one of ours: the message names the setting
        instantiate({"_target_": "imbalance_lab.data.sources.make_toy2d", "kind": "nope"})
    assert isinstance(root_cause(info.value), ConfigError)
    assert error_summary(info.value).startswith("ConfigError: data.kind='nope' is unknown")


def test_root_cause_stops_at_config_errors_and_messages() -> None:
    def chain(outer: Exception, inner: Exception, explicit: bool) -> Exception:
        try:
            try:
                raise inner
            except Exception as err:
                if explicit:
                    raise outer from err
                raise outer  # noqa: B904 - an implicit context is what is being tested
        except Exception as err:
            return err

    setting = ConfigError("sampler.k_neighbors=0 must be >= 1")
    assert root_cause(chain(setting, ValueError("n_neighbors <= 0"), explicit=True)) is setting
    handled = ValueError("unknown option 'foo'")  # says more than the KeyError it handled
    assert root_cause(chain(handled, KeyError("foo"), explicit=False)) is handled
    bare = chain(RuntimeError(), OSError("disk full"), explicit=False)
    assert error_summary(bare) == "OSError: disk full"


@pytest.mark.skipif(
    torch.cuda.is_available() or torch.backends.mps.is_available(), reason="needs a CPU-only host"
)
def test_gpu_trainer_without_gpu_records_the_root_cause(tmp_path: Path) -> None:
    # Preflight builds the Trainer before any data is read: Lightning's reason, as a user error.
    cause = "No supported gpu backend found"
    quick = [*RUN, "data=toy2d", "data.n_samples=300", "trainer=gpu"]
    quick.remove("trainer.accelerator=cpu")
    single = run_cli(*quick, f"hydra.run.dir={tmp_path / 'single'}", check=False)
    assert single.returncode == 2 and cause in single.stderr and "Traceback" not in single.stderr
    error = json.loads((tmp_path / "single" / "metrics.json").read_text())["error"]
    assert cause in error and "Error in call to target" not in error
    assert "InstantiationException" in (tmp_path / "single" / "error.txt").read_text()
    sweep = tmp_path / "sweep"
    imbalance_lab.sweep(["seed=1,2"], [*quick, SERIAL, f"hydra.sweep.dir={sweep}"])
    board = (sweep / "leaderboard.md").read_text()
    assert "2: ConfigError: trainer.accelerator=gpu" in board and cause in board
    assert "Error in call to target" not in board
