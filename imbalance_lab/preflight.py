"""Every setting checked before the data is loaded: one ``ConfigError`` naming the setting.

A run reads and resamples its data, then trains, then evaluates; a setting that fails in any
of those steps should fail here instead, in a second, with nothing written. Each configured
object that can be built without data is built here and handed to its library's own checks
(imblearn and scikit-learn's parameter constraints, torch's optimizer checks, Lightning's
Trainer), so the rules stay the libraries'; what only this project defines (split, threshold,
monitored metric) is checked by hand.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.metrics import RANKING_METRICS, THRESHOLD_METRICS
from imbalance_lab.evaluation.threshold import TUNABLE
from imbalance_lab.models.retrain import last_linear
from imbalance_lab.objects import (
    build,
    build_callbacks,
    build_datamodule,
    build_trainer,
    is_image_data,
    setting_error,
)

# What the LightningModule logs, and so what callbacks.monitor may watch.
MONITORABLE = (
    *(f"val/{m}" for m in (*THRESHOLD_METRICS, *RANKING_METRICS, "loss")),
    *(f"train/{m}" for m in (*THRESHOLD_METRICS, "loss")),
)
# The network's input width when the data is not loaded yet: any width builds an MLP.
_ANY_WIDTH = 4
# (C, H, W) of a stand-in image, for image files whose shape is known once they are read.
_ANY_IMAGE = (3, 32, 32)


def preflight(cfg: DictConfig) -> None:
    """Check every setting of a run that can be checked without its data; raise a
    ``ConfigError`` naming the first bad one. Builds and discards the objects it checks."""
    _check_run(cfg)
    _check_loggers(cfg)
    dm = build_datamodule(cfg)  # split and batch settings, the sampler; nothing is read yet
    _check_source(dm.source)
    check_sampler(dm.sampler)
    _check_threshold(cfg.threshold)
    if cfg.threshold.get("mode") == "oof":
        _check_out_of_fold(cfg, dm)
    retrain = _check_retrain(cfg)
    if "estimator" in cfg.model:
        if retrain:
            raise ConfigError(
                "retrain=crt re-trains a network's last layer; this model is a scikit-learn "
                "estimator: use retrain=none."
            )
        check_parameters(build(cfg.model.estimator, "model.estimator"), "model.estimator")
        return
    loss = build(cfg.loss, "loss")
    start_epoch, max_epochs = getattr(loss, "start_epoch", None), cfg.trainer.get("max_epochs")
    if start_epoch is not None and isinstance(max_epochs, int) and start_epoch >= max_epochs > 0:
        raise ConfigError(
            f"loss.start_epoch={start_epoch} is not below trainer.max_epochs={max_epochs}: "
            "the loss would never re-weight; lower loss.start_epoch."
        )
    net = build(cfg.model.net, "model.net", **_input(cfg))
    if retrain:  # the network's logit must be one linear layer's output
        in_features = _input(cfg).get("in_features", _ANY_WIDTH)
        last_linear(net, torch.randn(4, in_features, generator=torch.Generator().manual_seed(0)))
    _check_members(cfg)
    optimizer = build(cfg.model.optimizer, "model.optimizer")
    try:
        optimizer(net.parameters())  # torch checks lr, betas, weight decay when built
    except (ValueError, TypeError) as err:
        raise setting_error(err, "model.optimizer", dict(cfg.model.optimizer)) from err
    _check_monitor(cfg.callbacks)
    _check_trainer(cfg)


def _check_members(cfg: DictConfig) -> None:
    """model=underbagging: a whole number of members, and no resume (each member is its own
    training, whose checkpoints follow one another in the run folder)."""
    members = cfg.model.get("members")
    if members is None:
        return
    if not (isinstance(members, int) and members >= 1):
        raise ConfigError(f"model.members={members!r} must be a whole number >= 1.")
    batch = cfg.model.get("batch_size")
    if batch is not None and not (isinstance(batch, int) and batch >= 1):
        raise ConfigError(f"model.batch_size={batch!r} must be a whole number >= 1, or null.")
    if cfg.get("ckpt_path"):
        raise ConfigError(
            "ckpt_path cannot resume model=underbagging (one training per member); "
            "remove ckpt_path and run it again."
        )


def check_parameters(estimator: Any, setting: str) -> None:
    """Run scikit-learn's parameter validation (``_validate_params``) of ``estimator`` and of
    the estimators nested in its parameters (SMOTEENN's ``smote``), each named by its setting."""
    validate = getattr(estimator, "_validate_params", None)
    if not hasattr(estimator, "_parameter_constraints"):  # scikit-learn-style, not sklearn's own
        validate = None  # (LightGBM): its parameters are checked when it trains
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    if validate is not None:
        try:
            validate()
        except (ValueError, TypeError) as err:  # InvalidParameterError is both
            owner = {"_target_": type(estimator).__name__}
            raise setting_error(err, setting, {**owner, **params}) from err
    for key, value in params.items():
        if hasattr(value, "get_params"):
            check_parameters(value, f"{setting}.{key}")


def check_sampler(sampler: Any) -> None:
    """A sampler's parameters, nested samplers included, by imblearn's own constraints."""
    if sampler is not None:
        check_parameters(sampler, "sampler")


def _check_source(source: Any) -> None:
    """The data source's arguments against its signature; the source checks their values
    itself when called, before it reads anything."""
    if not isinstance(source, functools.partial):
        return
    try:
        inspect.signature(source.func).bind_partial(*source.args, **source.keywords)
    except TypeError as err:
        owner = {"_target_": f"{source.func.__module__}.{source.func.__qualname__}"}
        raise setting_error(err, "data.source", {**owner, **source.keywords}) from err


def _check_run(cfg: DictConfig) -> None:
    threads = cfg.get("threads")
    if threads not in (None, "auto") and not (isinstance(threads, int) and threads >= 1):
        raise ConfigError(f"threads={threads!r} must be auto or a whole number >= 1.")
    # train.py checks a resume fully first (resume.check_resume); this covers pipeline.run
    # called directly.
    ckpt = cfg.get("ckpt_path")
    if ckpt and not Path(str(ckpt)).is_file():
        raise ConfigError(f"ckpt_path={ckpt} is not a file; point it at a checkpoint (.ckpt).")


# Loggers that need an optional extra: Lightning class -> (modules it imports, extra to install);
# MLflow's SQLite store (conf/logger/mlflow.yaml) also needs SQLAlchemy and Alembic.
_LOGGER_EXTRAS = {"MLFlowLogger": (("mlflow", "sqlalchemy", "alembic"), "mlflow")}


def _check_loggers(cfg: DictConfig) -> None:
    for name, logger in (cfg.get("logger") or {}).items():
        cls = str((logger or {}).get("_target_", "")).rpartition(".")[2]
        if cls in _LOGGER_EXTRAS:
            modules, extra = _LOGGER_EXTRAS[cls]
            missing = [m for m in modules if importlib.util.find_spec(m) is None]
            if missing:
                raise ConfigError(
                    f"logger={name} needs {', '.join(missing)}, not installed here: "
                    f'pip install -e ".[{extra}]" (or pip install "imbalance-lab[{extra}]"), '
                    "or choose another logger (logger=tensorboard, logger=csv)."
                )


def _check_threshold(threshold: DictConfig) -> None:
    mode = threshold.get("mode")
    if mode not in ("fixed", "tuned", "oof"):
        raise ConfigError(f"threshold.mode={mode!r} is unknown; use fixed, tuned or oof.")
    value = threshold.get("value")
    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"threshold.value={value!r} must be a probability in [0, 1].")
    if mode in ("tuned", "oof"):
        if threshold.get("metric") not in TUNABLE:
            raise ConfigError(
                f"threshold.metric={threshold.get('metric')!r} is unknown; use one of "
                f"{', '.join(TUNABLE)}."
            )
        low = threshold.get("min_positives")
        if not isinstance(low, int) or low < 0:
            raise ConfigError(f"threshold.min_positives={low!r} must be a whole number >= 0.")


def _check_retrain(cfg: DictConfig) -> bool:
    """retrain=crt's settings; returns whether a second stage runs."""
    r = cfg.get("retrain") or {}
    epochs = r.get("epochs", 0)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ConfigError(f"retrain.epochs={epochs!r} must be a whole number >= 0.")
    if not epochs:
        return False
    lr, batch = r.get("lr"), r.get("batch_size")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
        raise ConfigError(f"retrain.lr={lr!r} must be a number > 0.")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ConfigError(f"retrain.batch_size={batch!r} must be a whole number >= 1, or null.")
    decay = r.get("weight_decay", 0.0)
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or decay < 0:
        raise ConfigError(f"retrain.weight_decay={decay!r} must be a number >= 0.")
    if is_image_data(cfg):  # stage 2 re-trains on the training rows held in memory
        raise ConfigError(
            "retrain=crt re-trains on training rows held in memory, and data=images reads its "
            "images from files; use retrain=none with data=images."
        )
    return True


def _check_out_of_fold(cfg: DictConfig, dm: Any) -> None:
    """threshold=oof: a whole number of inner folds >= 2, on tabular data, one training per
    fold (not under-bagging's members per fold), and no resume."""
    folds = cfg.threshold.get("folds")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"threshold.folds={folds!r} must be a whole number >= 2.")
    if type(dm).__name__ == "ImageDataModule":
        raise ConfigError("threshold=oof covers tables; use threshold=tuned with images.")
    if cfg.model.get("members"):
        raise ConfigError(
            "threshold=oof with model=underbagging would train folds x members networks; "
            "use threshold=tuned with model=underbagging."
        )
    if cfg.get("ckpt_path"):
        raise ConfigError(
            "ckpt_path cannot resume threshold=oof (one training per inner fold); "
            "remove ckpt_path and run it again."
        )


def _check_monitor(callbacks: DictConfig) -> None:
    monitor = callbacks.get("monitor")
    if monitor is None:
        return
    if monitor not in MONITORABLE:
        raise ConfigError(
            f"callbacks.monitor={monitor} is not a metric the model logs; use one of "
            f"{', '.join(MONITORABLE)}."
        )
    if callbacks.get("mode") not in ("min", "max"):
        raise ConfigError(f"callbacks.mode={callbacks.get('mode')!r} is unknown; use min or max.")


def _input(cfg: DictConfig) -> dict[str, Any]:
    """The network's input arguments before the data is read: image files say their shape only
    then, so a network for them is built on a stand-in image."""
    shape = cfg.data.get("image_shape")
    if is_image_data(cfg) and not shape:
        size = cfg.data.get("image_size") or _ANY_IMAGE[1:]
        hw = [size] * 2 if isinstance(size, int) else list(size)
        shape = [cfg.data.get("channels") or _ANY_IMAGE[0], *hw]
        args: dict[str, Any] = {"in_features": math.prod(int(d) for d in shape)}
        return {**args, "input_shape": shape} if "input_shape" in cfg.model.net else args
    return {"in_features": math.prod(int(d) for d in shape) if shape else _ANY_WIDTH}


def _check_trainer(cfg: DictConfig) -> None:
    """Build the Trainer (accelerator, devices, precision, strategy, callbacks, loggers) and
    throw it away. Building it sets torch's global determinism flags, which the neighbour
    searches of the samplers (on a GPU) run under; those are put back as they were."""
    flags = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
    )
    cublas = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    try:
        with warnings.catch_warnings():  # the run's own Trainer repeats them
            warnings.simplefilter("ignore")
            build_trainer(cfg, build_callbacks(cfg))
    finally:
        torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = flags[2:]
        if cublas is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = cublas
