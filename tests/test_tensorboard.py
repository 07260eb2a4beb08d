"""TensorBoard as a reader opens it: runs of a sweep named by what varies, HPARAMS read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SERIAL, TINY, run_cli

from imbalance_lab.evaluation.run_views import hparams
from imbalance_lab.run_names import MAX_NAME, job_name


def _hparams(run_dir: Path) -> tuple[dict, dict[str, list[float]]]:
    """The HPARAMS entry (name -> value) and the scalars (tag -> values) of a TensorBoard run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(run_dir))
    events.Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    info = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    values = {
        k: v.string_value if v.WhichOneof("kind") == "string_value" else v.number_value
        for k, v in info.hparams.items()
    }
    scalars = {t: [e.value for e in events.Scalars(t)] for t in events.Tags()["scalars"]}
    return values, scalars


def test_job_names_keep_what_varies() -> None:
    overrides = ["strategy=smote", "seed=1", "trainer.max_epochs=3", "experiment=lab"]
    assert job_name(overrides, 4, keys={"strategy", "seed"}) == "strategy=smote,seed=1"
    # Unknown sweep: every override but those naming the whole sweep.
    assert job_name(overrides, 4) == "strategy=smote,seed=1,trainer.max_epochs=3"
    assert job_name([], 0) == "default"
    # A path keeps its file name: no folder escapes the sweep's tensorboard/ folder.
    assert job_name(["data.path=../../x/a b.csv"], 0) == "data.path=a_b.csv"
    long = job_name([f"model.net.hidden_sizes=[{','.join(['64'] * 60)}]"], 7)
    assert len(long) <= MAX_NAME + 10 and long.endswith("..job7")


def test_sweep_keys_from_the_sweepers_params_and_the_command_line(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from imbalance_lab.run_names import sweep_keys

    task = ["experiment=lab", "sampler=none,smote", "trainer.max_epochs=3", "data.fold=range(5)"]
    OmegaConf.save({"hydra": {"overrides": {"task": task}}}, tmp_path / "multirun.yaml")
    # experiment=lab's own sweep (hydra.sweeper.params) and the command line's sweeps.
    assert sweep_keys(tmp_path, {"strategy": "none,smote", "seed": "0,1"}) == {
        "strategy",
        "seed",
        "sampler",
        "data.fold",
    }
    assert sweep_keys(tmp_path / "elsewhere") is None  # unknown: names keep every override


def test_hparams_hold_dataset_threshold_rule_and_settings() -> None:
    results = {
        "overrides": ["loss=weighted_bce", "seed=3", "data.fold=2", "trainer.max_epochs=3"],
        "dataset": "yeast4",
        "fold": {"folds": 5, "fold": 2, "repeat": 0},
        "seed": 3,
        "choices": {"sampler": "smote", "loss": "weighted_bce", "model": "mlp", "logger": "tb"},
        "threshold": {"value": 0.31, "rule": "tuned"},
        "sampler": {"class": "SMOTE", "params": {"k_neighbors": 3, "random_state": 3}},
        "settings": {
            "model": {
                "net": {"_target_": "x.MLP", "hidden_sizes": [64, 32], "dropout": 0.1},
                "optimizer": {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 0.003},
            },
            "loss": {"_target_": "x.WeightedBCE", "pos_weight": "auto"},
        },
        "pos_weight": 1.02,
        "batch_size": 64,
    }
    hp = hparams(results, "f1", varying={"loss", "seed", "data.fold"})
    assert list(hp)[:3] == ["loss", "seed", "data.fold"]  # what varies first
    assert hp["dataset"] == "yeast4" and hp["fold"] == "2 of 5" and hp["seed"] == 3
    assert hp["threshold"] == "tuned on val f1" and hp["threshold_value"] == 0.31
    assert hp["sampler.k_neighbors"] == 3 and "sampler.random_state" not in hp
    assert hp["model.net.hidden_sizes"] == "[64, 32]" and hp["model.optimizer.lr"] == 0.003
    assert hp["loss.pos_weight"] == 1.02  # auto, as resolved
    assert "trainer.max_epochs" not in hp and "logger" not in hp
    fallback = {**results, "threshold": {"value": 0.5, "rule": "fallback: 3 validation ..."}}
    assert hparams(fallback)["threshold"] == "fixed (too few val positives to tune)"


def test_sweep_runs_named_by_what_varies_with_hparams(tmp_path: Path) -> None:
    run_cli(
        "-m",
        "sampler=none,smote",
        *TINY,
        SERIAL,
        "logger=tensorboard",
        "threshold=tuned",
        "figures=false",
        f"hydra.sweep.dir={tmp_path}",
    )
    runs = sorted(p.name for p in (tmp_path / "tensorboard").iterdir())
    assert runs == ["sampler=none", "sampler=smote"]  # not 0/tensorboard, 1/tensorboard
    assert not list(tmp_path.glob("[0-9]*/tensorboard"))
    for sampler in ("none", "smote"):
        metrics = next(
            json.loads(f.read_text())
            for f in tmp_path.glob("*/metrics.json")
            if json.loads(f.read_text())["choices"]["sampler"] == sampler
        )
        hp, scalars = _hparams(tmp_path / "tensorboard" / f"sampler={sampler}")
        assert hp["sampler"] == sampler and hp["dataset"] == "synthetic"
        assert hp["threshold"] == "tuned on val f1"
        assert hp["threshold_value"] == pytest.approx(metrics["threshold"]["value"])
        assert hp["model.optimizer.lr"] == pytest.approx(0.003)
        assert hp["model.net.hidden_sizes"] == "[64, 32]"
        # Settings the same in every job of the sweep stay out.
        assert not {"trainer.max_epochs", "threads", "callbacks", "logger"} & set(hp)
        # hp_metric: validation PR-AUC, to compare runs without looking at test.
        assert scalars["hp_metric"] == [pytest.approx(metrics["val"]["pr_auc"])]
        assert len(scalars["val/pr_auc"]) == metrics["epochs"]
    assert hp["sampler.k_neighbors"] == 5 and hp["sampler.sampling_strategy"] == "auto"
