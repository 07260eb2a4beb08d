"""Bad input gets one clear error that names the setting to change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ENV, TINY, run_cli
from imblearn import FunctionSampler

from imbalance_lab.data import ImbalanceDataModule, TabularData, load_keel
from imbalance_lab.errors import ConfigError
from imbalance_lab.pipeline import build_datamodule


def test_unknown_dataset_lists_nearest_names() -> None:
    with pytest.raises(ConfigError, match=r"data\.name=yeast44 .*Did you mean: .*yeast4"):
        load_keel("yeast44")


def test_broken_loader_is_refused_clearly() -> None:
    with pytest.raises(ConfigError, match=r"data\.name=german"):
        load_keel("german")


def test_keel_accepts_loader_names() -> None:
    assert load_keel("load_ecoli4").name == load_keel("ecoli4").name == "ecoli4"


def test_too_few_minority_rows_for_k_neighbors(make_cfg) -> None:
    dm = build_datamodule(make_cfg("sampler=smote", "sampler.k_neighbors=100"))
    with pytest.raises(ConfigError, match=r"sampler\.k_neighbors=100.*split holds 3\d") as err:
        dm.setup()
    assert "Lower sampler.k_neighbors" in str(err.value)


def test_adasyn_on_separated_classes_suggests_another_sampler(make_cfg) -> None:
    dm = build_datamodule(make_cfg("sampler=adasyn", "data.class_sep=20", "data.n_informative=2"))
    with pytest.raises(ConfigError, match=r"ADASYN.*well separated.*sampler=smote"):
        dm.setup()


def _data(n: int, n_pos: int) -> TabularData:
    rng = np.random.default_rng(0)
    y = np.zeros(n, dtype=int)
    y[:n_pos] = 1
    return TabularData(rng.normal(size=(n, 3)), y, "tiny")


def test_split_without_enough_positives() -> None:
    dm = ImbalanceDataModule(_data(200, 3), seed=0)
    with pytest.raises(ConfigError, match=r"3 positive rows.*val needs >= 5.*data\.val_size"):
        dm.setup()


def test_single_class_data() -> None:
    with pytest.raises(ConfigError, match="single class"):
        ImbalanceDataModule(_data(100, 0), seed=0).setup()


def test_impossible_sampling_strategy(make_cfg) -> None:
    dm = build_datamodule(make_cfg("sampler=random_under", "sampler.sampling_strategy=0.01"))
    with pytest.raises(ConfigError, match=r"RandomUnderSampler.*sampler\.sampling_strategy"):
        dm.setup()


def test_sampler_leaving_one_class() -> None:
    drop_positives = FunctionSampler(func=lambda X, y: (X[y == 0], y[y == 0]), validate=False)
    dm = ImbalanceDataModule(_data(300, 60), sampler=drop_positives, seed=0)
    with pytest.raises(ConfigError, match=r"single class.*sampler\.sampling_strategy"):
        dm.setup()


def test_nan_values_name_the_columns() -> None:
    data = _data(200, 40)
    data.X[5, 1] = np.nan
    with pytest.raises(ConfigError, match=r"NaN.*x1 \(1\)"):
        ImbalanceDataModule(data, seed=0).setup()


def test_failed_run_in_sweep_is_recorded_and_others_finish(tmp_path: Path) -> None:
    # The second job's data holds 4 positives: too few for a stratified split.
    proc = run_cli("-m", *TINY, "data.n_samples=600,40", f"hydra.sweep.dir={tmp_path}", check=False)
    assert proc.returncode != 0  # the sweep's exit status says that some job failed
    ok = json.loads((tmp_path / "0" / "metrics.json").read_text())
    failed = json.loads((tmp_path / "1" / "metrics.json").read_text())
    assert ok["status"] == "ok"
    assert failed["status"] == "failed"
    assert "positive rows" in failed["error"] and "data.val_size" in failed["error"]
    assert "Traceback" in (tmp_path / "1" / "error.txt").read_text()
    board = (tmp_path / "leaderboard.md").read_text()
    assert "data.n_samples=40" in board and "positive rows" in board
    assert "data.n_samples=600" in board


def test_cleaning_samplers_are_not_held_to_minority_neighbour_counts() -> None:
    from imblearn.under_sampling import EditedNearestNeighbours

    from imbalance_lab.data import resample

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = np.array([1, 1, 1] + [0] * 57)
    # ENN searches all rows: 3 minority rows with n_neighbors=3 is fine for imblearn.
    result = resample(EditedNearestNeighbours(n_neighbors=3), X, y)
    assert result.y.sum() == 3


def test_single_run_user_error_is_one_message(tmp_path: Path) -> None:
    proc = run_cli(*TINY, "data.val_size=0.9", f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error: ") and "data.val_size=0.9" in proc.stderr
    # The failure is recorded, as in a sweep.
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("args", [["sampler=nope"], ["-m", "sampler=none,nope"], ["seed=1=2"]])
def test_settings_hydra_cannot_compose_exit_2_before_any_run(args: list[str], tmp_path) -> None:
    """An unknown option or a malformed override is a mistake in the settings like any other:
    exit status 2 (Hydra alone exits 1), from any working directory, with no run started."""
    env = {k: v for k, v in ENV.items() if k != "HYDRA_FULL_ERROR"}  # as a user runs it
    proc = run_cli(*args, cwd=tmp_path, check=False, env=env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "sampler/nope" in proc.stderr or "override 'seed=1=2' cannot be read" in proc.stderr
    assert not list(tmp_path.glob("logs/**/metrics.json"))
    assert not [p for p in tmp_path.glob("logs/**/*") if p.is_dir() and p.name.isdigit()]
