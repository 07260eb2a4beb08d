"""One run: data module -> fit (network or scikit-learn reference) -> threshold on validation
-> metrics, diagnostics and figures. Imported lazily by ``train.py`` so that ``--help``,
``--cfg`` and configuration errors answer before torch and Lightning load."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from imbalance_lab.bundle.save import save_model
from imbalance_lab.data import ImbalanceDataModule
from imbalance_lab.data.image_files import ImageFiles
from imbalance_lab.data.resampling import describe_sampler
from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.diagnostics import model_report
from imbalance_lab.evaluation.image_views import misclassified_minority
from imbalance_lab.evaluation.metrics import binary_metrics, confusion_counts
from imbalance_lab.evaluation.mlflow_run import log_to_mlflow
from imbalance_lab.evaluation.notes import run_notes
from imbalance_lab.evaluation.run_views import log_to_tensorboard, pr_curve
from imbalance_lab.evaluation.threshold import (
    ThresholdChoice,
    cross_fitted_metrics,
    tune_threshold,
)
from imbalance_lab.models.module import ImbalanceClassifier
from imbalance_lab.models.out_of_fold import fit_out_of_fold
from imbalance_lab.models.retrain import retrain_classifier
from imbalance_lab.models.underbagging import fit_underbagging
from imbalance_lab.objects import (
    build,
    build_callbacks,
    build_datamodule,
    build_trainer,
    trainer_settings,
)
from imbalance_lab.preflight import preflight
from imbalance_lab.progress import EpochLog, QuietSanityCheck
from imbalance_lab.records import hydra_info, run_labels
from imbalance_lab.resume import run_settings
from imbalance_lab.search.pruning import PruneHopelessTrial, trial_pruning

# Lightning's start-up chatter (accelerator summary, adverts) and a deprecation inside Lightning
# itself would bury each run's own output, many times over in a sweep.
logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=".*LeafSpec.*")
warnings.filterwarnings("ignore", message=".*srun.*command is available.*")
# A resumed run continues in its own checkpoint folder (resume.py), which is not empty by design.
warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _callbacks(cfg: DictConfig) -> list[L.Callback]:
    # A seam of its own: tests hand the trainer their own callbacks here.
    pruning = trial_pruning()  # this run is a trial of an Optuna search
    return build_callbacks(cfg) + ([pruning] if pruning else [])


def _choose_threshold(
    cfg: DictConfig, probs: np.ndarray, target: np.ndarray, min_positives: int | None = None
) -> ThresholdChoice:
    """The threshold rule of ``cfg.threshold`` applied to ``probs`` and ``target``;
    ``min_positives`` replaces ``threshold.min_positives`` (the guard) when given."""
    if cfg.threshold.mode == "fixed":
        return ThresholdChoice(float(cfg.threshold.value), "fixed")
    if cfg.threshold.mode not in ("tuned", "oof"):
        raise ConfigError(
            f"threshold.mode={cfg.threshold.mode!r} is unknown; use fixed, tuned or oof."
        )
    choice = tune_threshold(
        probs,
        target,
        metric=cfg.threshold.metric,
        min_positives=cfg.threshold.min_positives if min_positives is None else min_positives,
        default=float(cfg.threshold.value),
    )
    if cfg.threshold.mode == "oof" and choice.rule == "tuned":
        choice.rule = f"tuned out of fold ({cfg.threshold.folds} folds, {len(target)} rows)"
    return choice


def _rule_on_parts(
    cfg: DictConfig, choice: ThresholdChoice
) -> Callable[[np.ndarray, np.ndarray], float]:
    """The run's threshold rule as :func:`cross_fitted_metrics` applies it to the parts of the
    validation split: the ``threshold.min_positives`` guard is decided once, on the whole split,
    as it was for the run's own threshold. Decided again on each part (4/5 of the positives),
    it kept the fixed value on every part of a split of 5 positives (on one in five of 6) that
    the run itself tuned on: a tuned configuration was scored as if it kept the fixed value."""
    if choice.rule == "fixed" or choice.rule.startswith("fallback"):
        return lambda p, y: choice.value
    # Tuned on every part: each keeps a positive (stratified).
    return lambda p, y: _choose_threshold(cfg, p, y, min_positives=1).value


@dataclass
class Fitted:
    """A trained model as the evaluation sees it: a probability function and its provenance."""

    predict: Callable[[np.ndarray], np.ndarray]
    train_seconds: float
    epochs: int | None = None
    best_checkpoint: str = ""
    best_epoch: int | None = None
    pos_weight: float | None = None
    trainer: L.Trainer | None = None
    model: Any = None  # the network or estimator itself, for the model bundle
    # threshold=oof: (out-of-fold probabilities, labels) of every non-test row
    oof: tuple[np.ndarray, np.ndarray] | None = None
    retrain: dict[str, Any] | None = None  # retrain=crt: what stage 2 saw

    def search(self) -> dict[str, Any] | None:
        """The Optuna trial this run was, and the epoch its pruner stopped it at (or None)."""
        callbacks = self.trainer.callbacks if self.trainer is not None else []
        pruning = next((c for c in callbacks if isinstance(c, PruneHopelessTrial)), None)
        if pruning is None:
            return None
        return {"trial": pruning.trial_number, "pruned_at_epoch": pruning.pruned_at_epoch}


def resolve_threads(setting: int | str | None) -> int:
    """Threads for this job: a number, or ``auto`` = usable cores / jobs running side by side.

    Two jobs on 2 cores with 2 threads each run ~30x slower than one alone, so each job of a
    joblib sweep gets its share of the cores (the launcher's ``n_jobs``, -1 = all cores).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    # A SLURM job may use the CPUs it was given, whether or not the cluster binds it to them.
    if os.environ.get("SLURM_CPUS_PER_TASK", "").isdigit():
        cores = min(cores, int(os.environ["SLURM_CPUS_PER_TASK"]))
    if setting not in (None, "auto"):
        return max(1, int(setting))
    jobs = 1
    if HydraConfig.initialized():
        launcher = HydraConfig.get().launcher
        if "joblib" in str(launcher.get("_target_", "")):
            n_jobs = launcher.get("n_jobs") or 1
            jobs = cores if n_jobs < 0 else n_jobs
    return max(1, cores // jobs)


# threads=auto trains with one torch thread below this many rows a step: the default MLP's
# steps are too small to share (measured: docs/benchmark.md, "Threads").
PARALLEL_BATCH = 2048


def training_threads(setting: int | str | None, threads: int, batch_size: int) -> int:
    """Torch threads for training: ``threads`` (this job's share of the cores), or with
    ``threads=auto`` one thread when a step holds fewer than :data:`PARALLEL_BATCH` rows."""
    if setting in (None, "auto") and batch_size < PARALLEL_BATCH:
        return 1
    return threads


def fit_network(cfg: DictConfig, dm: ImbalanceDataModule) -> Fitted:
    """Lightning fit of ``cfg.model.net``; returns the best checkpoint's weights."""
    loss = build(cfg.loss, "loss")
    if hasattr(loss, "fit_counts"):  # pos_weight: auto -> n_neg / n_pos the model trains on
        if dm.batch_sampling == "balanced":  # batches are already ~1:1; weighting again doubles
            loss.fit_counts(1, 1)
        else:
            loss.fit_counts(dm.counts["train"]["0"], dm.counts["train"]["1"])
    # Image data knows its shape only once read: it overrides the config's (null) input_shape.
    wants_shape = dm.image_shape and "input_shape" in cfg.model.net
    shape = {"input_shape": list(dm.image_shape)} if wants_shape else {}
    net = build(cfg.model.net, "model.net", in_features=dm.n_features, **shape)
    # The module steps its optimizer itself (several batches per fetch), so the trainer's
    # gradient clipping is done there; gradient accumulation has no equivalent.
    _, clipping = trainer_settings(cfg)
    model = ImbalanceClassifier(
        net,
        loss,
        optimizer=build(cfg.model.optimizer, "model.optimizer"),
        **clipping,
        run_info={
            "settings": run_settings(cfg),
            "choices": hydra_info()["choices"],
            "overrides": hydra_info()["overrides"],
        },
    )
    callbacks = [*_callbacks(cfg), EpochLog(cfg.callbacks.get("monitor")), QuietSanityCheck()]
    trainer = build_trainer(cfg, callbacks)
    start_epoch = getattr(loss, "start_epoch", None)
    if start_epoch is not None:  # loss=drw: early stopping may not end it before re-weighting
        trainer.fit_loop.min_epochs = max(trainer.fit_loop.min_epochs or 0, start_epoch + 1)
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm, ckpt_path=cfg.get("ckpt_path"))
    seconds = time.perf_counter() - start
    epochs = int(model.epochs_done)
    # The checkpoint callback that monitors a metric keeps the best epoch (the other one, last).
    best = next((c.best_model_path for c in trainer.checkpoint_callbacks if c.monitor), "")
    best_epoch = None
    if best:  # evaluate the best checkpoint, not the last epoch
        checkpoint = torch.load(best, map_location="cpu", weights_only=True)
        model.load_state_dict(checkpoint["state_dict"])
        best_epoch = int(checkpoint["epoch"]) + 1  # counted from 1, as ``epochs``
    stage2 = None
    if (cfg.get("retrain") or {}).get("epochs"):  # retrain=crt: the last layer, balanced batches
        r = cfg.retrain
        stage2 = retrain_classifier(
            model.net,
            *dm.splits["train"],
            epochs=int(r.epochs),
            lr=float(r.lr),
            weight_decay=float(r.weight_decay),
            batch_size=int(r.batch_size or dm.batch_size),
            reinit=bool(r.reinit),
            seed=int(cfg.seed),
        )
        seconds = time.perf_counter() - start
    return Fitted(
        predict=lambda X: dm.predict_probs(model.net, X),
        train_seconds=seconds,
        epochs=epochs,
        best_checkpoint=best,
        best_epoch=best_epoch,
        pos_weight=_as_float(getattr(loss, "pos_weight", None)),
        trainer=trainer,
        model=model.net,
        retrain=stage2,
    )


def fit_estimator(cfg: DictConfig, dm: ImbalanceDataModule) -> Fitted:
    """A scikit-learn-style reference (``model=hgb``, ``logreg``, ``brf``, ``lightgbm``, ...) on
    the same resampled split; ``n_jobs: null`` becomes the run's threads."""
    estimator = build(cfg.model.estimator, "model.estimator")
    params = estimator.get_params(deep=False)
    if "n_jobs" in params and params["n_jobs"] is None:
        # torch's thread count is the run's share of the cores (see resolve_threads); LightGBM
        # would otherwise start one thread per core in every job of a parallel sweep.
        estimator.set_params(n_jobs=torch.get_num_threads())
    X, y = dm.splits["train"]
    start = time.perf_counter()
    estimator.fit(X, y)
    return Fitted(
        predict=lambda X: estimator.predict_proba(X)[:, 1].astype(np.float32),
        train_seconds=time.perf_counter() - start,
        model=estimator,
    )


def draws_figures(cfg: DictConfig) -> bool:
    """Whether a run draws its figures (``figures``): true, false, or auto = a single run
    does and a sweep's job does not (the sweep's leaderboard draws the comparison, and drawing
    four figures took a KEEL-size job longer than its training). The value is checked by the
    pre-flight (``settings_check``)."""
    setting = cfg.get("figures", "auto")
    return not hydra_info()["multirun"] if setting == "auto" else bool(setting)


def run(cfg: DictConfig) -> dict[str, Any] | None:
    """Train and evaluate one configuration; returns what goes into metrics.json (None on the
    non-zero ranks of a distributed run)."""
    preflight(cfg)  # every setting checked before the data is loaded or resampled
    draw = draws_figures(cfg)
    threads = resolve_threads(cfg.get("threads"))
    torch.set_num_threads(threads)
    threadpool_limits(threads)  # numpy/scipy BLAS used by the samplers
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    info = hydra_info()
    dm = build_datamodule(cfg)
    dm.setup("fit")  # resampling runs with this job's share of the cores
    fit_one: Callable[[DictConfig, ImbalanceDataModule], Fitted] = fit_estimator
    if "estimator" not in cfg.model:
        threads = training_threads(cfg.get("threads"), threads, int(dm.batch_size))
        torch.set_num_threads(threads)
        fit_one = fit_network
    if cfg.model.get("members"):  # model=underbagging: one network per balanced subset
        fitted = fit_underbagging(cfg, dm, fit_network)
    elif cfg.threshold.mode == "oof":  # inner cross-validation; its models averaged
        fitted = fit_out_of_fold(cfg, dm, fit_one)
    else:
        fitted = fit_one(cfg, dm)
    if fitted.trainer is not None and not fitted.trainer.is_global_zero:
        return None  # under DDP (not spawn) every rank runs this; rank 0 evaluates and reports

    # Probabilities of the selected model on every split; train = before resampling.
    splits = {"train": dm.train_original, "val": dm.splits["val"], "test": dm.splits["test"]}
    probs = {s: fitted.predict(X) for s, (X, _) in splits.items()}
    targets = {s: y for s, (_, y) in splits.items()}
    if fitted.oof is not None:  # threshold=oof: "val" is every non-test row, out of fold
        probs["val"], targets["val"] = fitted.oof
    choice = _choose_threshold(cfg, probs["val"], targets["val"])  # validation only
    # The same rule scored on validation rows it did not choose on: what selection.md compares
    # (a threshold tuned and scored on the same 6-18 positives flatters noisy models). Its
    # shufflings: 20 for a KEEL-size split (~60 ms; with 3, the benchmark's choice moved by
    # 0.016 mean test F1 from one seed to another), fewer as the split grows, 1 from 100,000
    # rows (0.5 s at 200,000).
    cross_fitted = cross_fitted_metrics(
        probs["val"],
        targets["val"],
        _rule_on_parts(cfg, choice),
        repeats=int(np.clip(100_000 // max(len(targets["val"]), 1), 1, 20)),
        seed=int(cfg.seed),
    )
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
        # Labels from the config, as a failed sibling's record computes them (records.py).
        **run_labels(cfg, info["choices"], info["overrides"]),
        "threads": threads,
        "test": metrics["test"],
        "val": metrics["val"],
        "val_cross_fitted": cross_fitted,
        "confusion": confusion,
        "threshold": {"value": choice.value, "rule": choice.rule, "val_score": choice.val_score},
        "class_counts": dm.counts,
        "n_features": dm.n_features,
        "batch_size": dm.batch_size,  # data.batch_size=auto resolved
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
        "best_epoch": fitted.best_epoch,
        "retrain": fitted.retrain,
        "timings": {"resample_s": dm.resample_seconds, "train_s": fitted.train_seconds},
        "resample_cached": dm.resample_cached,
        "diagnostics": diagnosis,
        "pr_curve": pr_curve(probs["test"], targets["test"]),
    }
    results["notes"] = run_notes(
        results, dm.grouped_categories, dm.batch_sampling, dm.max_categories
    )
    if (search := fitted.search()) is not None:
        results["search"] = search
    trainer = fitted.trainer
    if trainer is not None:
        for lg in trainer.loggers:
            lg.log_metrics(
                {f"test/{k}": v for k, v in metrics["test"].items()}, trainer.global_step
            )
            lg.save()  # after fit the trainer no longer flushes (CSVLogger buffers its rows)
    figures, images = {}, {}
    figure_files: list[Path] = []
    if draw:  # matplotlib is imported only here, in a run that draws
        from imbalance_lab.evaluation.run_views import run_figures, save_figures

        two_d = dm.train_original if dm.n_features == 2 else None
        figures = run_figures(results, probs, targets, fitted.predict, X_2d=two_d)
        images = save_figures(figures, Path(cfg.paths.output_dir))
        figure_files = [Path(cfg.paths.output_dir) / f"{name}.png" for name in figures]
    if draw and isinstance(splits["test"][0], ImageFiles):
        misclassified_minority(
            splits["test"][0], probs["test"], choice.value, Path(cfg.paths.output_dir), trainer
        )
    if trainer is not None:  # HPARAMS with or without figures
        log_to_tensorboard(trainer, images, results, cfg.threshold.get("metric"))
        log_to_mlflow(trainer, results, cfg.seed, figure_files)
    if figures:
        from imbalance_lab.evaluation.plots import plt

        for fig in figures.values():
            plt.close(fig)
    save_model(Path(cfg.paths.output_dir), cfg, dm, fitted.model, results)
    return results
