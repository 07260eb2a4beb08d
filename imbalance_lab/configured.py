"""One configured object built by Hydra, and a library's refusal of it as a ``ConfigError``.

Every object Hydra builds here gets plain Python containers (``_convert_="all"``): libraries
test ``isinstance(x, dict)`` or call ``dict.items()``, and an OmegaConf container passes neither
(imblearn took ``sampling_strategy={1: 100}`` for no dict at all). A failure to build one is
turned into a ``ConfigError`` that names the setting to change, with the library's own reason.

Light on purpose (no torch, no Lightning): the settings checked before torch loads
(:mod:`imbalance_lab.settings_check`) build their objects with it. What the built object imports
is its own affair (a project sampler imports torch).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from imbalance_lab.errors import ConfigError, first_line
from imbalance_lab.records import root_cause

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
