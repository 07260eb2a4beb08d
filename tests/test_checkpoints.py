"""What made KEEL-size fits cheaper changes no result: last.ckpt on a time basis, and the epoch
metrics handed to callbacks and loggers without ``self.log``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import TINY, compose_cfg

from imbalance_lab import pipeline
from imbalance_lab.checkpoints import LastCheckpoint
from imbalance_lab.models.module import ImbalanceClassifier

# Early stopping ends this run before max_epochs, after a best epoch that is not the first.
STOPS_EARLY = ["trainer.max_epochs=40", "callbacks.early_stopping.patience=2", "figures=false"]
INCIDENTAL = {"timings", "best_checkpoint"}  # how long it took, and in which folder


def _run(make_cfg, folder: Path, *overrides: str) -> tuple[dict[str, Any], Path]:
    # make_cfg's folder is the test's; each run here gets its own (make_cfg still cleans up).
    cfg = compose_cfg([*TINY, *STOPS_EARLY, *overrides], folder)
    return pipeline.run(cfg), folder / "checkpoints"


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_resume_checkpoint_interval_changes_no_result(make_cfg, tmp_path, monkeypatch) -> None:
    writes: list[int] = []
    original = LastCheckpoint._save_checkpoint

    def counted(self: LastCheckpoint, trainer: Any, filepath: str) -> None:
        writes.append(trainer.current_epoch)
        original(self, trainer, filepath)

    monkeypatch.setattr(LastCheckpoint, "_save_checkpoint", counted)
    every, every_dir = _run(
        make_cfg, tmp_path / "every", "callbacks.last_checkpoint.every_seconds=0"
    )
    every_writes, writes[:] = list(writes), []
    rare, rare_dir = _run(
        make_cfg, tmp_path / "rare", "callbacks.last_checkpoint.every_seconds=3600"
    )
    epochs = every["epochs"]
    assert 1 < every["best_epoch"] < epochs < 40, "early stopping should end this run"
    assert every_writes == list(range(epochs))
    assert writes == [0, epochs - 1]  # the first epoch, and the last one always
    for key in set(every) | set(rare):
        if key not in INCIDENTAL | {"overrides"}:  # the overrides name the interval
            assert every[key] == rare[key], key
    for name in ("best.ckpt", "last.ckpt"):
        a, b = _weights(every_dir / name), _weights(rare_dir / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    assert torch.load(rare_dir / "last.ckpt", weights_only=True)["epoch"] == epochs - 1


class _LoggedByLightning(ImbalanceClassifier):
    """The module as it logged its epoch metrics before: Lightning's ``self.log``."""

    def _publish(self, values: dict[str, Any], step_offset: int = 0, sync_dist: bool = False):
        self.log_dict(values, sync_dist=sync_dist, batch_size=1)


def test_epoch_metrics_reach_callbacks_and_loggers_as_self_log_did(
    make_cfg, tmp_path, monkeypatch
) -> None:
    ours, _ = _run(make_cfg, tmp_path / "ours", "logger=csv")
    monkeypatch.setattr(pipeline, "ImbalanceClassifier", _LoggedByLightning)
    theirs, _ = _run(make_cfg, tmp_path / "theirs", "logger=csv")
    assert ours["best_epoch"] == theirs["best_epoch"] and ours["epochs"] == theirs["epochs"]
    assert ours["test"] == theirs["test"]
    # Every epoch's train/* and val/* row, at the same steps, with the same values.
    rows = [(tmp_path / d / "csv" / "metrics.csv").read_text() for d in ("ours", "theirs")]
    assert rows[0] == rows[1] and "val/pr_auc" in rows[0]


@pytest.mark.parametrize("seconds", [-1.0])
def test_negative_interval_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="every_seconds"):
        LastCheckpoint(every_seconds=seconds, dirpath="x", filename="last")
