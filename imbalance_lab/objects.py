"""The config's objects, built for the libraries that use them.

Every object Hydra builds here gets plain Python containers (``_convert_="all"``): libraries
test ``isinstance(x, dict)`` or call ``dict.items()``, and an OmegaConf container passes neither
(imblearn took ``sampling_strategy={1: 100}`` for no dict at all). A failure to build one is
turned into a ``ConfigError`` that names the setting to change, with the library's own reason.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Mapping
from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from imbalance_lab.data import ImbalanceDataModule
from imbalance_lab.data.features import MAX_CATEGORIES
from imbalance_lab.errors import ConfigError, first_line
from imbalance_lab.progress import show_progress_bar
from imbalance_lab.records import hydra_info, root_cause

# Words a library uses for a setting whose name it does not spell out (torch's optimizers).
_ALIASES = {"learning rate": "lr"}


def named_key(message: str, params: Mapping[str, Any]) -> str | None:
    """The key of ``params`` that a library's ``message`` is about: the first named in quotes
    or backticks, else as a whole word, else by an alias or by its value (``gpu``)."""
    keys = sorted((str(k) for k in params if not str(k).startswith("_")), key=len, reverse=True)
    for pattern in (r"\b{}=", r"['`\"]{}['`\"(]", r"\b{}\b"):
        for key in keys:
            if re.search(pattern.format(re.escape(key)), message):
                return key
    lowered = message.lower()
    for words, key in _ALIASES.items():
        if words in lowered and key in params:
            return key
    for key in keys:
        value = params[key]
        if isinstance(value, str) and len(value) > 1 and value.lower() in lowered:
            return key
    return None


def _overridden(setting: str) -> list[str]:
    """This run's command-line overrides of the keys under ``setting``, e.g. ``trainer.x=1``."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    task = [o.lstrip("+~") for o in HydraConfig.get().overrides.task]
    # The last override of a key is the one in force.
    last = {o.split("=", 1)[0]: o for o in task if o.startswith(f"{setting}.")}
    return list(last.values())


def _arguments(target: str) -> list[str]:
    """The keyword arguments that the callable at dotted path ``target`` accepts."""
    from hydra.utils import get_object

    try:
        params = inspect.signature(get_object(target)).parameters.values()
    except (ImportError, ValueError, TypeError, AttributeError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in kinds and p.name != "self"]


def setting_error(err: BaseException, setting: str, params: Mapping[str, Any]) -> ConfigError:
    """A ``ConfigError`` for a library's refusal of the settings ``params`` under ``setting``
    (e.g. ``sampler``): it names the parameter the library complains about and quotes it."""
    cause = root_cause(err)
    if isinstance(cause, ConfigError):
        return cause
    message = first_line(cause).rstrip(".!")
    owner = str(params.get("_target_", "")).rsplit(".", 1)[-1] or type(cause).__module__
    unknown = re.search(r"unexpected keyword argument '(\w+)'", message)
    if unknown:
        accepted = _arguments(str(params.get("_target_", "")))
        shown = ", ".join(accepted[:12]) + (", ..." if len(accepted) > 12 else "")
        listed = f" ({owner} takes: {shown})" if accepted else ""
        return ConfigError(
            f"{setting}.{unknown.group(1)} is not a setting of {owner}; remove it{listed}."
        )
    key = named_key(message, params)
    if key is None:
        # The library names no setting (a missing package, say): the user's own overrides of
        # this group are the suspects.
        mine = ", ".join(_overridden(setting)) or setting
        return ConfigError(f"{setting} was refused by {owner}: {message}. Check {mine}.")
    return ConfigError(
        f"{setting}.{key}={params[key]} was refused by {owner}: {message}. Change {setting}.{key}."
    )


def _plain(node: Any) -> dict[str, Any]:
    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    return dict(node)


def build(node: Any, setting: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate(node, **kwargs)`` with plain Python containers; a failure
    raises a ``ConfigError`` naming ``setting`` (e.g. ``sampler``) or its offending key."""
    try:
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as err:
        raise setting_error(err, setting, _plain(node)) from err


def is_image_data(cfg: DictConfig) -> bool:
    """Whether ``cfg.data`` reads image files (``data=images``)."""
    return str(cfg.data.get("source", {}).get("_target_", "")).endswith(".scan_images")


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
