"""The Python API (``imbalance_lab.run`` / ``sweep``): the shell's numbers and folders, from a
notebook."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from conftest import ENV, ROOT, TINY, run_cli
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import imbalance_lab
from imbalance_lab.errors import ConfigError
from imbalance_lab.rundir import claimed
from imbalance_lab.train import CONF_DIR

QUICK = [*TINY, "figures=false", "trainer.max_epochs=2"]
NOTEBOOK = ROOT / "examples" / "notebook.ipynb"


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_run_gives_the_shells_numbers_and_folder(tmp_path: Path) -> None:
    overrides = [*QUICK, "sampler=smote", "threshold=tuned", "seed=3"]
    run_cli(*overrides, f"hydra.run.dir={tmp_path / 'shell'}")
    shell = json.loads((tmp_path / "shell" / "metrics.json").read_text())

    results = imbalance_lab.run([*overrides, f"hydra.run.dir={tmp_path / 'api'}"])

    assert results["path"] == str(tmp_path / "api")
    for key in ("test", "val", "confusion", "threshold", "class_counts", "best_epoch"):
        assert results[key] == shell[key], key
    assert results["test"]["f1"] > 0  # a model that learnt something: the comparison has teeth
    assert json.loads((tmp_path / "api" / "metrics.json").read_text())["test"] == shell["test"]
    # The same folder: Hydra's record of the job, its log, metrics.json, the model bundle.
    assert _files(tmp_path / "api") == _files(tmp_path / "shell")
    hydra = [OmegaConf.load(tmp_path / f / ".hydra" / "hydra.yaml").hydra for f in ("api", "shell")]
    assert hydra[0].overrides.task == hydra[1].overrides.task
    assert hydra[0].mode == hydra[1].mode == "RUN"
    assert not claimed()  # a notebook's kernel keeps no folder locked after its runs


def test_sweep_returns_the_leaderboard(tmp_path: Path) -> None:
    folder = tmp_path / "grid"
    board = imbalance_lab.sweep(
        {"sampler": ["none", "random_over"], "seed": [0, 1]}, [*QUICK, f"hydra.sweep.dir={folder}"]
    )

    assert isinstance(board, pd.DataFrame)
    assert sorted(board["strategy"]) == ["sampler=none", "sampler=random_over"]
    assert board["runs"].tolist() == [2, 2]  # two seeds each
    assert board.attrs["sweep_dir"] == str(folder)
    # The same table the shell's sweep writes, and its folders 0..3.
    written = pd.read_csv(folder / "leaderboard.csv")
    assert written["strategy"].tolist() == board["strategy"].tolist()
    assert written["f1_mean"].tolist() == pytest.approx(board["f1_mean"].tolist())
    assert sorted(p.name for p in folder.glob("[0-9]*")) == ["0", "1", "2", "3"]
    assert (folder / "report.html").exists()


def test_sweep_of_explicit_jobs_records_a_failed_one(tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    # k_neighbors larger than the minority class of a fold: the job fails, the sweep goes on.
    board = imbalance_lab.sweep(
        [["sampler=random_over"], ["loss=weighted_bce"], ["sampler=smote", "data.n_samples=60"]],
        [*QUICK, f"hydra.sweep.dir={folder}"],
    )

    rows = board.set_index("strategy")
    assert len(rows) == 3
    assert rows["runs"].sum() == 2 and rows["failed"].sum() == 1
    failed = rows[rows["failed"] == 1]
    assert "n_samples=60" in failed.index[0]
    assert failed["error"].iloc[0]  # the job's error, as the shell's leaderboard shows it
    assert json.loads((folder / "2" / "metrics.json").read_text())["status"] == "failed"


def test_mistakes_raise_config_error_and_keep_the_callers_hydra(tmp_path: Path) -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        with pytest.raises(ConfigError, match=r"threshold\.metric"):
            imbalance_lab.run([*QUICK, "threshold=tuned", "threshold.metric=accuracy"])
        with pytest.raises(ConfigError, match="samplr"):  # a mistyped group
            imbalance_lab.run([*QUICK, "samplr=smote"])
        imbalance_lab.run([*QUICK, f"hydra.run.dir={tmp_path / 'run'}"])
        with pytest.raises(ConfigError, match=r"hydra\.run\.dir"):  # a finished run's folder
            imbalance_lab.run([*QUICK, f"hydra.run.dir={tmp_path / 'run'}"])
        with pytest.raises(ConfigError, match="list of overrides"):
            imbalance_lab.run("sampler=smote")
        # The caller's own Hydra (compose in a notebook) still works afterwards.
        assert compose("train", overrides=["sampler=smote"]).sampler._target_.endswith("SMOTE")
    GlobalHydra.instance().clear()


def test_example_notebook_runs(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat", reason='the dev extra: pip install -e ".[dev]"')
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)  # no stored outputs
    # Run where the test says: the notebook writes logs/ into its working folder.
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    # One core for the kernel, as for every test process (threads=auto would take two).
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        client.execute(env=ENV)  # the kernel inherits the affinity
    finally:
        os.sched_setaffinity(0, cores)

    outputs = ["".join(o.get("text", "") + str(o.get("data", "")) for o in c.outputs) for c in code]
    assert "'f1'" in outputs[1] and "sampler=smote" in outputs[2]  # the metrics, the leaderboard
    sweep = Path(outputs[3].strip())
    assert (tmp_path / sweep / "leaderboard.csv").exists()
    assert len(list((tmp_path / "logs" / "train" / "runs").iterdir())) == 1


def test_configs_ship_inside_the_package() -> None:
    # imbalance_lab/conf (a link to conf/) is package data, so an installed copy has its configs.
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    package = Path(imbalance_lab.__file__).resolve().parent
    assert CONF_DIR.parent == package and CONF_DIR.name == "conf"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["imbalance_lab"]
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert {p for p in CONF_DIR.rglob("*") if p.is_file()} <= shipped
