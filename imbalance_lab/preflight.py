"""Every setting checked before the data is loaded: one ``ConfigError`` naming the setting.

A run reads and resamples its data, then trains, then evaluates; a setting that fails in any
of those steps should fail here instead, in a second, with nothing written. Each configured
object that can be built without data is built here and handed to its library's own checks
(imblearn and scikit-learn's parameter constraints, torch's optimizer checks, Lightning's
Trainer), so the rules stay the libraries'; what only this project defines (split, threshold,
monitored metric) is checked by hand.

Two stages: the settings that need no torch (:mod:`imbalance_lab.settings_check`, which
``train.py`` runs before torch loads), then the objects built with torch and Lightning here:
the data module and its source, the estimator or the network, loss and optimizer, the Trainer.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import warnings
from typing import Any

import torch
from omegaconf import DictConfig

from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.names import MONITORABLE
from imbalance_lab.models.retrain import last_linear
from imbalance_lab.objects import (
    build,
    build_callbacks,
    build_datamodule,
    build_trainer,
    is_image_data,
    setting_error,
)
from imbalance_lab.settings_check import check_parameters, check_sampler, check_settings

__all__ = ["MONITORABLE", "check_parameters", "check_sampler", "preflight"]

# The network's input width when the data is not loaded yet: any width builds an MLP.
_ANY_WIDTH = 4
# (C, H, W) of a stand-in image, for image files whose shape is known once they are read.
_ANY_IMAGE = (3, 32, 32)


def preflight(cfg: DictConfig) -> None:
    """Check every setting of a run that can be checked without its data; raise a
    ``ConfigError`` naming the first bad one. Builds and discards the objects it checks.

    Raises:
        ConfigError: a setting the first stage (:func:`~imbalance_lab.settings_check.
            check_settings`) or a library building the run's objects refused; the message
            names the setting to change.
    """
    check_settings(cfg)
    _check_objects(cfg)


def _check_objects(cfg: DictConfig) -> None:
    """The second stage: the run's objects built with torch and Lightning, and discarded."""
    dm = build_datamodule(cfg)  # split and batch settings, the sampler; nothing is read yet
    _check_source(dm.source)
    if "estimator" in cfg.model:
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
    if (cfg.get("retrain") or {}).get("epochs"):  # the logit must be one linear layer's output
        in_features = _input(cfg).get("in_features", _ANY_WIDTH)
        last_linear(net, torch.randn(4, in_features, generator=torch.Generator().manual_seed(0)))
    optimizer = build(cfg.model.optimizer, "model.optimizer")
    try:
        optimizer(net.parameters())  # torch checks lr, betas, weight decay when built
    except (ValueError, TypeError) as err:
        raise setting_error(err, "model.optimizer", dict(cfg.model.optimizer)) from err
    _check_trainer(cfg)


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
