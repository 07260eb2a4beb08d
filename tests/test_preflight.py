"""Every setting is checked before the expensive part, with one message naming it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import RUN, TINY, compose_cfg, run_cli
from omegaconf import OmegaConf

from imbalance_lab.data.datamodule import split_data
from imbalance_lab.data.tables import load_table
from imbalance_lab.errors import ConfigError
from imbalance_lab.models.networks import MLP, predict_probs
from imbalance_lab.objects import build, build_datamodule, build_trainer
from imbalance_lab.pipeline import run
from imbalance_lab.preflight import check_sampler, preflight

SAMPLERS = sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "sampler").glob("*.yaml"))
# What a run that stopped on a setting may leave in its folder: the failure record only.
# The run folder's claim (.lock) and what Hydra wrote, beside the record itself.
FAILURE_RECORD = {"metrics.json", "error.txt", ".hydra", "train.log", ".lock"}
# A setting an error message tells the user to change or lower.
ADVICE = re.compile(r"(?:Change|Lower|set) ([a-z_]+(?:\.[a-z_0-9]+)+)")


def _table(path: Path, n: int, n_pos: int, sep: str = ",", label: str = "y") -> Path:
    rng = np.random.default_rng(0)
    y = np.zeros(n, int)
    y[:n_pos] = 1
    rng.shuffle(y)
    df = pd.DataFrame(rng.normal(size=(n, 4)) + 1.5 * y[:, None], columns=["f0", "f1", "f2", "f3"])
    df[label] = y
    df.to_csv(path, index=False, sep=sep)
    return path


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tables")
    _table(folder / "tiny_minority.csv", 300, 8)  # 4-5 positives in the train split
    _table(folder / "semicolon.csv", 200, 20, sep=";", label="label")
    return folder


def _advice_exists(message: str, overrides: list[str], tmp_path: Path) -> None:
    """Every setting the message tells the user to change exists in the run's config."""
    cfg = compose_cfg(overrides, tmp_path)
    for setting in ADVICE.findall(message):
        assert OmegaConf.select(cfg, setting, default="<absent>") != "<absent>", setting


# One row per kind of mistake: the overrides, the setting the message must name. Rows with
# data=table run on the test's tables; the others on TINY's synthetic data.
CLI_CASES = [
    ("sampler=nearmiss sampler.version=4", "sampler.version=4"),
    ("sampler=smote sampler.k_neighbors=0", "sampler.k_neighbors=0"),
    ("sampler=smote_enn sampler.smote.k_neighbors=0", "sampler.smote.k_neighbors=0"),
    ("sampler=smote +sampler.neighbours=3", "sampler.neighbours"),
    ("sampler=random_under sampler.sampling_strategy={0:100000}", "sampler.sampling_strategy"),
    ("data.folds=1", "data.folds=1"),
    ("data.val_size=0.9", "data.val_size=0.9"),
    ("data.batch_size=0", "data.batch_size=0"),
    ("threshold=tuned threshold.metric=acc", "threshold.metric"),
    ("callbacks.monitor=val/f2", "callbacks.monitor=val/f2"),
    ("model.optimizer.lr=-1", "model.optimizer.lr=-1"),
    ("model.net.activation=swish", "model.net.activation"),
    ("trainer.precision=12-true", "trainer.precision=12-true"),
    ("trainer=gpu", "trainer.accelerator=gpu"),
    ("+trainer.accumulate_grad_batches=4", "trainer.accumulate_grad_batches"),
    ("data=keel data.name=yeast44", "data.name=yeast44"),
    ("data=table data.path={tables}/semicolon.csv data.target=lbl", "data.target"),
    (
        "data=table data.path={tables}/tiny_minority.csv data.target=y sampler=smote_tomek",
        "sampler.smote.k_neighbors",
    ),
]


@pytest.mark.parametrize(("overrides", "setting"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_setting_is_one_message_and_writes_only_the_failure_record(
    overrides: str, setting: str, tables: Path, tmp_path: Path
) -> None:
    if "trainer=gpu" in overrides and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    own = overrides.replace("{tables}", str(tables)).split()
    table = any(o.startswith("data=") for o in own)
    base = [o for o in (RUN if table else TINY) if not o.startswith("trainer.accelerator")]
    # Figures and TensorBoard on: a run that stops on a setting must write neither.
    args = [*base, "logger=tensorboard", "figures=true", *own]
    run_dir = tmp_path / "run"
    proc = run_cli(*args, f"hydra.run.dir={run_dir}", check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert setting in lines[0]
    assert {p.name for p in run_dir.iterdir()} <= FAILURE_RECORD
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "failed" and setting.split("=")[0] in record["error"]
    if "sampler.neighbours" not in setting:  # that row names a setting that must not exist
        _advice_exists(lines[0], args, tmp_path)


# Settings checked in process: preflight alone, before any data is read.
PREFLIGHT_CASES = [
    ("data.folds=5", "data.fold=5", "data.fold=5"),
    ("data.folds=5", "data.val_size=0.85", "data.val_size=0.85"),
    ("data.repeat=-1", "data.folds=3", "data.repeat=-1"),
    ("data.test_size=0", "data.test_size=0"),
    ("data.batch_sampling=stratified", "data.batch_sampling"),
    ("data.batches_per_fetch=0", "data.batches_per_fetch=0"),
    ("data.scaler=robust", "data.scaler"),
    ("threshold.mode=best", "threshold.mode"),
    ("threshold.value=1.5", "threshold.value=1.5"),
    ("callbacks.mode=maximum", "callbacks.mode"),
    ("loss=focal", "loss.gamma=-1", "loss.gamma=-1"),
    ("loss=weighted_bce", "loss.pos_weight=-2", "loss.pos_weight=-2"),
    ("+loss.smoothing=0.1", "loss.smoothing"),
    ("model.optimizer.weight_decay=-1", "model.optimizer.weight_decay=-1"),
    ("model=cnn", "+data.image_shape"),
    ("model=hgb", "model.estimator.max_iter=0", "model.estimator.max_iter=0"),
    ("model=logreg", "model.estimator.C=-1", "model.estimator.C=-1"),
    ("trainer.devices=0", "trainer.devices=0"),
    ("trainer.accelerator=tpu", "trainer.accelerator=tpu"),
    ("+trainer.strategy=ring", "trainer.strategy=ring"),
    ("trainer.max_epochs=-3", "trainer.max_epochs=-3"),
    ("+trainer.gradient_clip_algorithm=sign", "trainer.gradient_clip_algorithm"),
    ("+callbacks.early_stopping.delta=1", "callbacks.early_stopping.delta"),
    ("sampler=adasyn", "sampler.n_neighbors=0", "sampler.n_neighbors=0"),
    ("sampler=borderline_smote", "sampler.kind=borderline-3", "sampler.kind"),
    ("sampler=smote_tomek", "sampler.smote.k_neighbors=-1", "sampler.smote.k_neighbors=-1"),
    ("sampler=enn", "sampler.kind_sel=any", "sampler.kind_sel"),
    ("sampler=tomek", "sampler.sampling_strategy=minority", "sampler.sampling_strategy"),
    ("+data.source.rows=10", "data.source.rows"),
    ("threads=0", "threads=0"),
    ("ckpt_path=/nowhere/last.ckpt", "ckpt_path"),
]


@pytest.mark.parametrize("case", PREFLIGHT_CASES, ids=[" ".join(c[:-1]) for c in PREFLIGHT_CASES])
def test_preflight_names_the_setting(case: tuple[str, ...], make_cfg, tmp_path: Path) -> None:
    *overrides, setting = case
    cfg = make_cfg(*overrides)
    with pytest.raises(ConfigError) as err:
        preflight(cfg)
    assert setting in str(err.value)
    _advice_exists(str(err.value), [*TINY, *overrides], tmp_path)


def test_good_settings_pass_preflight_and_keep_torch_flags(make_cfg) -> None:
    before = torch.are_deterministic_algorithms_enabled()
    preflight(make_cfg("trainer.deterministic=true"))
    preflight(make_cfg("model=hgb"))
    preflight(make_cfg("data=digits", "model=cnn", tiny=False))
    assert torch.are_deterministic_algorithms_enabled() == before


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_config_passes_its_library_checks(sampler: str, make_cfg) -> None:
    check_sampler(build(make_cfg(f"sampler={sampler}").sampler, "sampler"))


@pytest.mark.parametrize(
    ("sampler", "strategy", "expected"),
    [("random_over", "{1:100}", {"1": 100}), ("random_under", "{0:50}", {"0": 50})],
)
def test_dict_sampling_strategy_reaches_imblearn_as_a_dict(
    sampler: str, strategy: str, expected: dict, make_cfg
) -> None:
    cfg = make_cfg(f"sampler={sampler}", f"sampler.sampling_strategy={strategy}")
    dm = build_datamodule(cfg)
    assert type(dm.sampler.sampling_strategy) is dict
    dm.setup()
    assert expected.items() <= dm.counts["train"].items()


def test_smote_dict_sampling_strategy_runs_through_the_cli(tmp_path: Path) -> None:
    # The case of issue 13: imblearn was handed an OmegaConf dict and crashed.
    run_cli(*TINY, "figures=false", "sampler=smote", "sampler.sampling_strategy={1:100}",
            f"hydra.run.dir={tmp_path}")  # fmt: skip
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["class_counts"]["train"]["1"] == 100


def test_lists_reach_the_libraries_as_lists(make_cfg) -> None:
    cfg = make_cfg("model.net.hidden_sizes=[8,4]", "data=table", "data.drop=[a,b]", tiny=False)
    net = build(cfg.model.net, "model.net", in_features=3)
    assert [m.out_features for m in net.layers if isinstance(m, torch.nn.Linear)] == [8, 4, 1]
    assert type(build(cfg.data.source, "data", _partial_=True).keywords["drop"]) is list


@pytest.mark.parametrize("sampler", ["smote", "smote_tomek", "smote_enn", "adasyn"])
def test_neighbour_advice_names_a_setting_that_fixes_the_run(
    sampler: str, tables: Path, tmp_path: Path
) -> None:
    """Follow the message's advice: the override it suggests gets the run past the check."""
    base = [*RUN, "data=table", f"data.path={tables}/tiny_minority.csv", "data.target=y"]
    overrides = [*base, f"sampler={sampler}"]
    with pytest.raises(ConfigError) as err:
        build_datamodule(compose_cfg(overrides, tmp_path)).setup()
    advice = re.search(r"Lower (sampler\.[\w.]+) to at most (\d+)", str(err.value))
    assert advice, str(err.value)
    setting, value = advice.groups()
    cfg = compose_cfg([*overrides, f"{setting}={value}"], tmp_path)
    dm = build_datamodule(cfg)
    dm.setup()
    assert dm.counts["train"]["1"] > dm.counts["train_before"]["1"]


def test_imblearns_own_neighbour_failure_names_settings_that_exist() -> None:
    from imbalance_lab.data.resampling import neighbour_settings

    cfg = compose_cfg(["sampler=smote_enn"], Path("."))
    assert neighbour_settings(build(cfg.sampler, "sampler")) == ["sampler.smote.k_neighbors"]
    cfg = compose_cfg(["sampler=nearmiss"], Path("."))
    found = neighbour_settings(build(cfg.sampler, "sampler"))
    assert found == ["sampler.n_neighbors", "sampler.n_neighbors_ver3"]
    for setting in found:
        assert OmegaConf.select(cfg, setting) is not None


def test_folds_are_checked_before_the_split_sizes() -> None:
    X, y = np.zeros((100, 2)), np.array([0, 1] * 50)
    with pytest.raises(ConfigError, match=r"^data\.folds=1 ") as err:
        split_data(X, y, val_size=0.2, test_size=0.2, seed=0, folds=1)
    assert "test_size" not in str(err.value)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_evaluation_runs_in_the_networks_dtype(dtype: torch.dtype) -> None:
    net = MLP(3, hidden_sizes=[4]).to(dtype)
    probs = predict_probs(net, np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32))
    assert probs.dtype == np.float32 and probs.shape == (10,)


@pytest.mark.parametrize("precision", ["64-true", "bf16-true"])
def test_true_precisions_train_and_evaluate(precision: str, make_cfg) -> None:
    cfg = make_cfg(f"trainer.precision={precision}", "trainer.max_epochs=1", "figures=false")
    assert run(cfg)["status"] == "ok"


def test_trainer_without_its_accelerator_names_the_setting(make_cfg) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match=r"trainer\.accelerator=gpu.*trainer=cpu"):
        build_trainer(make_cfg("trainer.accelerator=gpu"), [])


def test_separator_is_guessed_and_can_be_set(tmp_path: Path) -> None:
    path = _table(tmp_path / "semi.csv", 60, 10, sep=";")
    assert load_table(path, "y").X.shape == (60, 4)
    with pytest.raises(ConfigError, match=r"Columns found \(1, read with separator ','\)") as err:
        load_table(path, "y", sep=",")
    assert "set data.sep=';'" in str(err.value)
    with pytest.raises(ConfigError, match=r"lbl.*Columns found \(5, read with separator ';'\)"):
        load_table(path, "lbl")
    assert load_table(_table(tmp_path / "tab.csv", 60, 10, sep="\t"), "y").X.shape == (60, 4)
