"""What a run's ``metrics.json`` is filed under, and what it says when the run failed.

A configuration's runs are grouped by their labels (dataset, choices, overrides), so a run that
raised, was killed, or died before writing anything must carry exactly the labels its finished
siblings carry. :func:`run_labels` computes them from the config alone, without loading data,
and every record uses it: the finished run (``pipeline.run``), the run that raised
(``train.py``), the job the launcher saw die, and the job folder the leaderboard finds without a
``metrics.json``.

Light on purpose (no torch, no data loading): ``train.py`` imports it before the config is known
to be valid, and a failure record must be writable whatever else is broken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from imbalance_lab.errors import ConfigError, first_line


def hydra_info() -> dict[str, Any]:
    """Config-group choices, command-line overrides and mode of the running Hydra job."""
    if not HydraConfig.initialized():
        return {"choices": {}, "overrides": [], "multirun": False}
    hc = HydraConfig.get()
    choices = {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra")}
    return {
        "choices": choices,
        # ckpt_path says where a run resumed from, not what it is: a resumed run is filed with
        # the configuration it continues.
        "overrides": [o for o in hc.overrides.task if not o.startswith("ckpt_path=")],
        "multirun": hc.mode == RunMode.MULTIRUN,
    }


# The name each source gives its data. The loaders call these too, so the name a run reports
# after loading and the name its failure record computes from the config are the same string.
def keel_name(name: Any) -> str:
    """``load_yeast4`` and ``yeast4`` are one dataset."""
    return str(name).removeprefix("load_")


def table_name(path: Any, name: Any = None) -> str:
    """``data.name`` when set, else the file name without its suffixes (``a.csv.gz`` -> ``a``)."""
    return Path(str(path)).name.split(".")[0] if name is None else str(name)


def images_name(path: Any, name: Any = None) -> str:
    """``data.name`` when set, else the folder's (or CSV's) name without suffixes."""
    if name is not None:
        return str(name)
    return Path(str(path).rstrip("/")).name.split(".")[0] or "images"


def toy2d_name(kind: Any) -> str:
    return f"toy2d-{kind}"


def digits_name(positive_digit: Any) -> str:
    return f"digits-{int(positive_digit)}"


def synthetic_name() -> str:
    return "synthetic"


# Loader function name -> (naming function, its required and optional source parameters).
_NAMERS = {
    "load_keel": (keel_name, ("name",), ()),
    "load_table": (table_name, ("path",), ("name",)),
    "scan_images": (images_name, ("path",), ("name",)),
    "make_toy2d": (toy2d_name, ("kind",), ()),
    "make_digits": (digits_name, ("positive_digit",), ()),
    "make_synthetic": (synthetic_name, (), ()),
}


def _select(cfg: DictConfig, key: str, default: Any = None) -> Any:
    """``cfg[key]`` resolved, or ``default`` when it is absent or does not resolve."""
    try:
        return OmegaConf.select(cfg, key, default=default, throw_on_resolution_failure=False)
    except OmegaConfBaseException:
        return default


def dataset_name(cfg: DictConfig) -> str | None:
    """The dataset name a run of ``cfg`` reports, from the config alone (no data is loaded).

    The project's sources are named as their loaders name them; a source of the user's own
    (``data.source._target_`` elsewhere) by ``data.name``, else by its function's name.
    ``None`` when the config cannot say (e.g. ``data.path`` unset): the run fails, and so do
    its siblings.
    """
    target = str(_select(cfg, "data.source._target_", ""))
    module, _, function = target.rpartition(".")
    if module.startswith("imbalance_lab.data") and function in _NAMERS:
        namer, required, optional = _NAMERS[function]
        args = {p: _select(cfg, f"data.source.{p}") for p in (*required, *optional)}
        if any(args[p] is None for p in required):
            return None
        try:
            return namer(**args)
        except (TypeError, ValueError):  # e.g. positive_digit=three: the run itself says why
            return None
    name = _select(cfg, "data.name")
    return str(name) if name is not None else function or None


def _as_int(value: Any) -> Any:
    """``value`` as an int when it is one; as it is otherwise (the run reports the mistake)."""
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return value


def run_labels(
    cfg: DictConfig, choices: Mapping[str, Any], overrides: Sequence[str]
) -> dict[str, Any]:
    """The labels a run's record is filed under: dataset, fold, seed, choices, overrides.

    ``choices`` and ``overrides`` are Hydra's (config-group choices, command-line overrides);
    Hydra's own groups are left out.
    """
    folds = _select(cfg, "data.folds")
    return {
        "dataset": dataset_name(cfg),
        "fold": (
            {
                "folds": _as_int(folds),
                "fold": _as_int(_select(cfg, "data.fold", 0)),
                "repeat": _as_int(_select(cfg, "data.repeat", 0)),
            }
            if folds
            else None
        ),
        "seed": _as_int(_select(cfg, "seed")),
        "choices": {k: v for k, v in choices.items() if not str(k).startswith("hydra")},
        "overrides": list(overrides),
    }


METRICS_FILE = "metrics.json"


def run_status(folder: Path) -> str | None:
    """The ``status`` of the record a run left in ``folder`` (``ok``, ``failed``, ...), None
    when it left none, ``unreadable`` when the file is not JSON."""
    import json

    try:
        return json.loads((Path(folder) / METRICS_FILE).read_text()).get("status", "?")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError):
        return "unreadable"


def root_cause(err: BaseException) -> BaseException:
    """The error that explains ``err``: down its chain of causes to the innermost one.

    Follows ``__cause__`` (``raise ... from``: Hydra wraps every error raised while
    instantiating a ``_target_`` in an ``InstantiationException`` this way) and, for a wrapper
    or an error without a message, the implicit ``__context__``; an error raised with a message
    while handling another is the better explanation (``KeyError`` -> "unknown option ...").
    Stops at a :class:`ConfigError`: its message names the setting to change.
    """
    seen = set()
    while id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, ConfigError):
            break
        inner = err.__cause__
        wrapper = isinstance(err, InstantiationException) or not str(err).strip()
        if inner is None and wrapper and not err.__suppress_context__:
            inner = err.__context__
        if inner is None:
            break
        err = inner
    return err


def error_summary(err: BaseException) -> str:
    """``Type: first line of the message`` of ``err``'s root cause, for records and terminals."""
    cause = root_cause(err)
    line = first_line(cause)
    return (
        type(cause).__name__ if line == type(cause).__name__ else f"{type(cause).__name__}: {line}"
    )


def failed_record(
    cfg: DictConfig, error: str, choices: Mapping[str, Any], overrides: Sequence[str]
) -> dict[str, Any]:
    """What a run's metrics.json says when the run ended without results (it raised, or its
    job was killed): ``status: failed``, the error, and the labels of :func:`run_labels`, so
    the leaderboard counts it under its configuration."""
    return {"status": "failed", "error": error, **run_labels(cfg, choices, overrides)}
