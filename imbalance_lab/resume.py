"""Resuming a run exactly: the checkpoint is checked before any data is loaded.

A checkpoint written by this project carries, beside Lightning's own state, the settings of
the run that wrote it and the random-number state at that moment (see
:class:`imbalance_lab.models.module.ImbalanceClassifier`); its data module carries the batch
order's generator. A resumed run continues in the run folder of its checkpoint, so Lightning's
checkpoint callbacks keep their best score and early stopping its patience, and it finishes with
the same epochs, best epoch and metrics as the run would have without the interruption.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from omegaconf import Container, DictConfig, OmegaConf, open_dict

from imbalance_lab.errors import ConfigError, first_line
from imbalance_lab.records import run_status

# Where a checkpoint keeps what this project adds to Lightning's state.
CHECKPOINT_KEY = "imbalance_lab"
# Settings that change how a run is shown or where it runs, never what it computes: they may
# differ between a run and its resume. Everything else must match the checkpoint's run.
PRESENTATION_KEYS = frozenset(
    {"ckpt_path", "print_table", "figures", "threads", "logger", "paths", "hydra", "task_name"}
)
# The same, for settings inside a group.
PRESENTATION_LEAVES = frozenset(
    {"trainer.enable_progress_bar", "callbacks.last_checkpoint.every_seconds"}
)


def run_settings(cfg: DictConfig) -> dict[str, Any]:
    """The settings that decide a run's results, as plain containers (stored in checkpoints)."""
    keys = [k for k in cfg if k not in PRESENTATION_KEYS]  # Hydra's own node is never resolved
    return {
        k: OmegaConf.to_container(v, resolve=True) if isinstance(v, Container) else v
        for k, v in ((k, cfg[k]) for k in keys)
    }


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: value}


def setting_differences(saved: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """``key: checkpoint value -> given value`` for every leaf setting that differs."""
    a, b = _flatten(saved), _flatten(given)
    missing = object()
    return [
        f"{k}: {a.get(k, '(unset)')!r} -> {b.get(k, '(unset)')!r}"
        for k in sorted(set(a) | set(b))
        if a.get(k, missing) != b.get(k, missing) and k not in PRESENTATION_LEAVES
    ]


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's contents, loaded without running code from it (``weights_only=True``).

    Raises:
        ConfigError: the file cannot be read as a checkpoint, or holds objects a safe load
            refuses (arbitrary pickled classes).
    """
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # the refusal below says it once
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        reason = "it holds pickled objects that a safe load refuses: loading them could run code"
    except Exception as err:  # any other reader failure: not a checkpoint we can read
        reason = first_line(err)
    raise ConfigError(
        f"ckpt_path={path} cannot be read safely as a checkpoint ({reason}). Point ckpt_path "
        "at a run folder's checkpoints/last.ckpt."
    )


def check_resume(config: DictConfig) -> Path:
    """Check a resume request before anything is loaded; return the run folder to continue in.

    Args:
        config: the composed config of the run (Hydra's node included), ``ckpt_path`` set.

    Returns:
        The checkpoint's run folder (the parent of its ``checkpoints/`` folder).

    Raises:
        ConfigError: the checkpoint is missing, unreadable, not written by this project, not in
            a run folder's ``checkpoints/``, of a finished run, or its run had other settings
            (the differing keys are named).
    """
    path = Path(str(config.ckpt_path)).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"ckpt_path={path}: no such file. Resume from an interrupted run's "
            "checkpoints/last.ckpt."
        )
    if path.parent.name != "checkpoints":
        raise ConfigError(
            f"ckpt_path={path} is not inside a run folder's checkpoints/; a run resumes in its "
            "own folder. Point ckpt_path at <run folder>/checkpoints/last.ckpt."
        )
    folder = path.parent.parent.resolve()
    saved = read_checkpoint(path).get(CHECKPOINT_KEY)
    if not isinstance(saved, dict) or not isinstance(saved.get("settings"), dict):
        raise ConfigError(
            f"ckpt_path={path} holds no imbalance-lab run settings (written by another program "
            "or an older version), so it cannot be resumed exactly. Start a new run."
        )
    last = path.parent / "last.ckpt"
    if path.name != last.name and last.exists():
        raise ConfigError(
            f"ckpt_path={path} is not the run's last checkpoint; resuming from it would repeat "
            f"epochs and overwrite later ones. Resume with ckpt_path={last}."
        )
    # Hydra keeps overrides of its own settings apart from the task's.
    explicit = [o for o in config.hydra.overrides.hydra if o.startswith("hydra.run.dir=")]
    given_dir = Path(explicit[-1].split("=", 1)[1]).resolve() if explicit else folder
    if given_dir != folder:
        raise ConfigError(
            f"hydra.run.dir={given_dir}: a resumed run continues in its checkpoint's folder "
            f"({folder}). Drop hydra.run.dir."
        )
    given = copy.deepcopy(config)
    OmegaConf.set_readonly(given, False)
    with open_dict(given):
        given.paths.output_dir = str(folder)  # as the checkpoint's run resolved it
        del given["hydra"]
    if run_status(folder) == "ok":
        raise ConfigError(
            f"ckpt_path={path}: its run already finished (results in {folder / 'metrics.json'}); "
            "there is nothing to resume. Drop ckpt_path to start a new run."
        )
    diff = setting_differences(saved["settings"], run_settings(given))
    # Name a changed config group once (sampler: none -> smote), not each of its keys.
    choices = dict(saved.get("choices") or {})
    given_choices = {k: v for k, v in config.hydra.runtime.choices.items() if k in choices}
    groups = [f"{k}: {choices[k]} -> {v}" for k, v in given_choices.items() if choices[k] != v]
    changed = {g.split(":")[0] for g in groups}
    diff = groups + [d for d in diff if d.split(".")[0].split(":")[0] not in changed]
    if diff:
        overrides = " ".join(saved.get("overrides") or [])
        raise ConfigError(
            f"ckpt_path={path} was trained with other settings: {'; '.join(diff[:8])}"
            + (f" (and {len(diff) - 8} more)" if len(diff) > 8 else "")
            + ". Resume with the run's own settings: python train.py "
            + (f"{overrides} " if overrides else "")
            + f"ckpt_path={path}"
        )
    return folder
