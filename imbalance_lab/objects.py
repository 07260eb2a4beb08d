"""The config's objects, built for the libraries that use them: the data module, the callbacks
and the Trainer. Each is built by :func:`imbalance_lab.configured.build` (plain Python
containers, a ``ConfigError`` naming the setting a library refuses), re-exported here with
:func:`~imbalance_lab.configured.setting_error` and :func:`~imbalance_lab.configured.is_image_data`.
"""

from __future__ import annotations

import functools
from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from imbalance_lab.configured import build, is_image_data, named_key, setting_error
from imbalance_lab.data import ImbalanceDataModule
from imbalance_lab.data.features import MAX_CATEGORIES
from imbalance_lab.errors import ConfigError
from imbalance_lab.progress import show_progress_bar
from imbalance_lab.records import hydra_info

__all__ = [
    "build",
    "build_callbacks",
    "build_datamodule",
    "build_trainer",
    "is_image_data",
    "named_key",
    "setting_error",
    "trainer_settings",
]


def build_datamodule(cfg: DictConfig, resample: bool = True) -> ImbalanceDataModule:
    """The DataModule of a config: source and sampler objects instantiated by Hydra
    (``resample=False``: the same splits without the sampler). Nothing is loaded yet."""
    common = {
        "source": build(cfg.data.source, "data", _partial_=True),
        "sampler": build(cfg.sampler, "sampler") if resample else None,
        "val_size": cfg.data.val_size,
        "test_size": cfg.data.test_size,
        "batch_size": cfg.data.batch_size,
        "seed": cfg.seed,
        "batch_sampling": cfg.data.batch_sampling,
        "folds": cfg.data.folds,
        "fold": cfg.data.fold,
        "repeat": cfg.data.repeat,
    }
    if is_image_data(cfg):  # files read by DataLoaders (data/image_module.py)
        from imbalance_lab.data.image_module import ImageDataModule

        augment = cfg.data.augment
        return ImageDataModule(
            **common,
            augment=list(augment) if isinstance(augment, ListConfig) else augment,
            workers=cfg.data.workers,
            thumbnail_size=cfg.data.thumbnail_size,
        )
    return ImbalanceDataModule(
        **common,
        scaler=cfg.data.scaler,
        cache_dir=cfg.data.get("cache_dir"),
        batches_per_fetch=cfg.data.get("batches_per_fetch", 1),
        on_device=cfg.data.get("on_device", "auto"),
        max_categories=cfg.data.get("max_categories", MAX_CATEGORIES),
        # threshold=oof resamples each inner training part, never the whole training split.
        resample_train=cfg.threshold.get("mode") != "oof",
    )


def build_callbacks(cfg: DictConfig) -> list[L.Callback]:
    """The callbacks of ``cfg.callbacks`` (none when ``callbacks.monitor`` is null)."""
    if not cfg.callbacks.get("monitor"):
        return []
    return [
        build(v, f"callbacks.{k}") for k, v in cfg.callbacks.items() if isinstance(v, DictConfig)
    ]


def trainer_settings(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """``cfg.trainer`` split into the Trainer's arguments and the gradient clipping that the
    model does itself (it steps its optimizer by hand, several batches per fetch)."""
    settings = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert isinstance(settings, dict)
    if (settings.pop("accumulate_grad_batches", None) or 1) != 1:
        raise ConfigError(
            "trainer.accumulate_grad_batches is not supported: the model steps its optimizer "
            "once per batch. Raise data.batch_size instead."
        )
    clipping = {
        "gradient_clip_val": settings.pop("gradient_clip_val", None),
        "gradient_clip_algorithm": settings.pop("gradient_clip_algorithm", None) or "norm",
    }
    if clipping["gradient_clip_algorithm"] not in ("norm", "value"):
        raise ConfigError(
            f"trainer.gradient_clip_algorithm={clipping['gradient_clip_algorithm']!r} is "
            "unknown; use norm or value."
        )
    return settings, clipping


@functools.cache
def _entry_points(group: str) -> Any:
    from importlib.metadata import entry_points

    return entry_points(group=group)


def _scan_entry_points_once() -> None:
    """Every Trainer looks for callbacks that installed packages register as entry points, and
    Python reads every installed distribution's metadata to find them: ~50 ms a Trainer, and
    a run builds two (preflight, fit). The installed packages do not change while a process
    runs, so Lightning's lookup is answered from one read; each Trainer still calls the
    factories it finds."""
    from lightning.fabric.utilities import registry

    registry.entry_points = _entry_points


def build_trainer(cfg: DictConfig, callbacks: list[L.Callback]) -> L.Trainer:
    """The Lightning Trainer of ``cfg.trainer`` with ``callbacks`` and ``cfg.logger``; a setting
    Lightning refuses (no GPU for ``trainer=gpu``, an unknown precision) raises a
    ``ConfigError`` naming ``trainer.<key>``."""
    settings, _ = trainer_settings(cfg)
    _scan_entry_points_once()
    settings["enable_progress_bar"] = show_progress_bar(
        settings.get("enable_progress_bar", "auto"), hydra_info()["multirun"]
    )
    loggers = [build(v, f"logger.{k}") for k, v in cfg.get("logger", {}).items()]
    try:
        return instantiate(
            settings,
            _convert_="all",
            callbacks=callbacks,
            logger=loggers or False,
            # Without a checkpoint callback of ours, Lightning would add one saving the last
            # epoch.
            enable_checkpointing=any(
                isinstance(c, L.pytorch.callbacks.ModelCheckpoint) for c in callbacks
            ),
        )
    except InstantiationException as err:
        error = setting_error(err, "trainer", settings)
        if "trainer.accelerator" in str(error) and settings.get("accelerator") in ("gpu", "cuda"):
            error = ConfigError(f"{error} On a machine without a GPU use trainer=cpu.")
        raise error from err
