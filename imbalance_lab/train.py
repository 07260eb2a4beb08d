"""Hydra entry point: instantiate, fit, pick the threshold on validation, test, write metrics.json.

python train.py                                   # default: KEEL yeast4, no resampling
python train.py -m sampler=none,smote,adasyn loss=bce,weighted_bce
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from imbalance_lab.data import ImbalanceDataModule
from imbalance_lab.data.resampling import describe_sampler
from imbalance_lab.evaluation.diagnostics import model_report
from imbalance_lab.evaluation.metrics import binary_metrics, confusion_counts
from imbalance_lab.evaluation.plots import plt
from imbalance_lab.evaluation.run_views import (
    log_to_tensorboard,
    pr_curve,
    predict_probs,
    run_figures,
    save_figures,
)
from imbalance_lab.evaluation.tables import print_run_table
from imbalance_lab.evaluation.threshold import ThresholdChoice, tune_threshold
from imbalance_lab.models.module import ImbalanceClassifier

log = logging.getLogger(__name__)

# The config tree lives beside the package (editable install); an absolute path keeps Hydra
# from looking for a `conf` Python module.
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
METRICS_FILE = "metrics.json"
# Overrides that repeat a configuration rather than define one; the leaderboard averages them.
REPEAT_KEYS = ("seed", "data.fold", "data.repeat")


def _hydra_info() -> dict[str, Any]:
    if not HydraConfig.initialized():
        return {"choices": {}, "overrides": [], "multirun": False}
    hc = HydraConfig.get()
    choices = {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra")}
    return {
        "choices": choices,
        "overrides": list(hc.overrides.task),
        "multirun": hc.mode == RunMode.MULTIRUN,
    }


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def build_datamodule(cfg: DictConfig) -> ImbalanceDataModule:
    """The DataModule of a config: source and sampler objects instantiated by Hydra."""
    return ImbalanceDataModule(
        source=instantiate(cfg.data.source, _partial_=True),
        sampler=instantiate(cfg.sampler),
        val_size=cfg.data.val_size,
        test_size=cfg.data.test_size,
        batch_size=cfg.data.batch_size,
        scaler=cfg.data.scaler,
        seed=cfg.seed,
        batch_sampling=cfg.data.batch_sampling,
        folds=cfg.data.folds,
        fold=cfg.data.fold,
        repeat=cfg.data.repeat,
    )


def _callbacks(cfg: DictConfig) -> list[L.Callback]:
    if not cfg.callbacks.get("monitor"):
        return []
    return [instantiate(v) for k, v in cfg.callbacks.items() if isinstance(v, DictConfig)]


def _choose_threshold(
    cfg: DictConfig, probs: torch.Tensor, target: torch.Tensor
) -> ThresholdChoice:
    if cfg.threshold.mode == "fixed":
        return ThresholdChoice(float(cfg.threshold.value), "fixed")
    return tune_threshold(
        probs,
        target,
        metric=cfg.threshold.metric,
        min_positives=cfg.threshold.min_positives,
        default=float(cfg.threshold.value),
    )


@dataclass
class Fitted:
    """A trained model as the evaluation sees it: a probability function and its provenance."""

    predict: Callable[[np.ndarray], np.ndarray]
    train_seconds: float
    epochs: int | None = None
    best_checkpoint: str = ""
    pos_weight: float | None = None
    trainer: L.Trainer | None = None


def fit_network(cfg: DictConfig, dm: ImbalanceDataModule) -> Fitted:
    """Lightning fit of ``cfg.model.net``; returns the best checkpoint's weights."""
    loss = instantiate(cfg.loss)
    if hasattr(loss, "fit_counts"):  # pos_weight: auto -> n_neg / n_pos after resampling
        loss.fit_counts(dm.counts["train"]["0"], dm.counts["train"]["1"])
    net = instantiate(cfg.model.net, in_features=dm.n_features)
    model = ImbalanceClassifier(net, loss, optimizer=instantiate(cfg.model.optimizer))

    loggers = [instantiate(v) for v in cfg.get("logger", {}).values()]
    callbacks = _callbacks(cfg)
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        # Without a checkpoint callback of ours, Lightning would add one saving the last epoch.
        enable_checkpointing=any(
            isinstance(c, L.pytorch.callbacks.ModelCheckpoint) for c in callbacks
        ),
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    seconds = time.perf_counter() - start
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best:  # evaluate the best checkpoint, not the last epoch
        state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
        model.load_state_dict(state)
    return Fitted(
        predict=lambda X: predict_probs(model.net, X),
        train_seconds=seconds,
        epochs=int(trainer.current_epoch),
        best_checkpoint=best,
        pos_weight=_as_float(getattr(loss, "pos_weight", None)),
        trainer=trainer,
    )


def fit_estimator(cfg: DictConfig, dm: ImbalanceDataModule) -> Fitted:
    """A scikit-learn reference (``model=hgb`` / ``model=logreg``) on the same resampled split."""
    estimator = instantiate(cfg.model.estimator)
    X, y = dm.splits["train"]
    start = time.perf_counter()
    estimator.fit(X, y)
    return Fitted(
        predict=lambda X: estimator.predict_proba(X)[:, 1].astype(np.float32),
        train_seconds=time.perf_counter() - start,
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train and evaluate one configuration; returns what goes into metrics.json."""
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    info = _hydra_info()
    dm = build_datamodule(cfg)
    dm.setup("fit")
    fitted = fit_estimator(cfg, dm) if "estimator" in cfg.model else fit_network(cfg, dm)

    # Probabilities of the selected model on every split; train = before resampling.
    splits = {"train": dm.train_original, "val": dm.splits["val"], "test": dm.splits["test"]}
    probs = {s: fitted.predict(X) for s, (X, _) in splits.items()}
    targets = {s: y for s, (_, y) in splits.items()}
    choice = _choose_threshold(cfg, probs["val"], targets["val"])  # validation only
    diagnosis = model_report(probs, targets, choice.value)
    metrics = {
        s: binary_metrics(torch.from_numpy(probs[s]), torch.from_numpy(targets[s]), choice.value)
        for s in ("val", "test")
    }
    metrics["test"]["ece"] = diagnosis["calibration_test"]["ece"]
    confusion = confusion_counts(
        torch.from_numpy(probs["test"]), torch.from_numpy(targets["test"]), choice.value
    )

    results = {
        "status": "ok",
        "dataset": dm.name,
        "fold": {"folds": dm.folds, "fold": dm.fold, "repeat": dm.repeat} if dm.folds else None,
        "seed": int(cfg.seed),
        "choices": info["choices"],
        "overrides": info["overrides"],
        "test": metrics["test"],
        "val": metrics["val"],
        "confusion": confusion,
        "threshold": {"value": choice.value, "rule": choice.rule, "val_score": choice.val_score},
        "class_counts": dm.counts,
        "n_features": dm.n_features,
        "n_dropped_constant_features": dm.n_dropped_features,
        "sampler": describe_sampler(dm.sampler),
        "settings": {
            "sampler": OmegaConf.to_container(cfg.sampler, resolve=True),
            "loss": OmegaConf.to_container(cfg.loss, resolve=True),
            "model": OmegaConf.to_container(cfg.model, resolve=True),
        },
        "pos_weight": fitted.pos_weight,
        "epochs": fitted.epochs,
        "best_checkpoint": fitted.best_checkpoint,
        "timings": {"resample_s": dm.resample_seconds, "train_s": fitted.train_seconds},
        "diagnostics": diagnosis,
        "pr_curve": pr_curve(probs["test"], targets["test"]),
    }
    trainer = fitted.trainer
    if trainer is not None:
        for lg in trainer.loggers:
            lg.log_metrics(
                {f"test/{k}": v for k, v in metrics["test"].items()}, trainer.global_step
            )
    if cfg.get("figures", True) and (trainer is None or trainer.is_global_zero):
        two_d = dm.train_original if dm.n_features == 2 else None
        figures = run_figures(results, probs, targets, fitted.predict, X_2d=two_d)
        save_figures(figures, Path(cfg.paths.output_dir))
        if trainer is not None:
            log_to_tensorboard(trainer, figures, results, cfg.seed)
        for fig in figures.values():
            plt.close(fig)
    return results


def write_metrics(output_dir: Path, results: dict[str, Any]) -> Path:
    path = output_dir / METRICS_FILE
    path.write_text(json.dumps(results, indent=2, default=float))
    return path


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Returns the validation F1, the objective of hyperparameter searches (never test)."""
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if (output_dir / METRICS_FILE).exists():
        raise FileExistsError(
            f"{output_dir / METRICS_FILE} already exists; refusing to overwrite earlier results. "
            "Set hydra.run.dir (or hydra.sweep.dir) to a new folder."
        )
    try:
        results = run(cfg)
    except Exception as err:
        info = _hydra_info()
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        write_metrics(
            output_dir,
            {
                "status": "failed",
                "error": f"{type(err).__name__}: {first_line}",
                "seed": int(cfg.seed),
                "choices": info["choices"],
                "overrides": info["overrides"],
            },
        )
        (output_dir / "error.txt").write_text(traceback.format_exc())
        if not info["multirun"]:
            raise
        log.error("run failed (recorded in %s): %s", output_dir / METRICS_FILE, first_line)
        return None
    write_metrics(output_dir, results)
    if cfg.get("print_table", True):
        print_run_table(results)
    log.info("results written to %s", output_dir / METRICS_FILE)
    return float(results["val"]["f1"])


if __name__ == "__main__":
    main()
