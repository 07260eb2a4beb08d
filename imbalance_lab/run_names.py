"""What a run is called where a person picks it from a list: TensorBoard's runs.

TensorBoard names a run by the folder of its event files, relative to ``--logdir``. Inside a
job folder (``<sweep>/3/tensorboard``) that name is the job number, and the runs of a sweep
cannot be told apart by strategy or seed. So a job of a sweep writes its events to
``<sweep>/tensorboard/<job name>``, the job name being what the job sets on the command line
(``seed=1,strategy=smote``: what varies in the sweep); a single run keeps them in
``<run>/tensorboard``. ``conf/logger/tensorboard.yaml`` asks for the folder with
``${tensorboard_dir:${paths.output_dir}}``, the resolver this module registers.

What varies in the sweep: the keys of ``hydra.sweeper.params`` (``experiment=lab``'s strategies
and seeds) and the command line's sweep overrides (``sampler=none,smote``), read from the
``multirun.yaml`` Hydra writes into the sweep folder before it starts a job. Settings that are
the same in every job (``trainer.max_epochs=3``) stay out of the name.

Light on purpose (no torch): ``train.py`` imports it before the config is resolved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

# Overrides that name the whole sweep (the same in every job) or where a run resumed from, not
# what one job is.
NOT_IN_NAMES = frozenset({"experiment", "hparams_search", "ckpt_path"})
# Longer names are cut and end in the job number, so they stay unique and fit a file name.
MAX_NAME = 120


def sweep_keys(sweep_dir: str | Path, params: Iterable[str] = ()) -> set[str] | None:
    """The settings a sweep varies: ``params`` (the sweeper's) and the keys of the sweep
    overrides in ``<sweep_dir>/multirun.yaml``; None when that file cannot be read."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        task = OmegaConf.load(Path(sweep_dir) / "multirun.yaml").hydra.overrides.task
        parsed = OverridesParser.create().parse_overrides(list(task))
    except Exception:  # no file (a launcher of one's own), or one Hydra no longer reads
        return None
    return set(params) | {o.key_or_group for o in parsed if o.is_sweep_override()}


def job_name(
    overrides: Sequence[str], job_num: int | None = None, keys: set[str] | None = None
) -> str:
    """A folder name from a job's command-line overrides: ``strategy=smote,seed=1``; only
    those of ``keys`` (what the sweep varies) when any of them is set.

    A path value keeps only its file name (``data.path=/data/a.csv`` -> ``data.path=a.csv``);
    characters a folder name should not hold become ``_``. ``default`` when nothing is set.
    """
    parts = []
    kept = [o for o in overrides if o.lstrip("+~").partition("=")[0] in (keys or ())]
    for override in kept or overrides:
        key, sep, value = override.lstrip("+~").partition("=")
        if not sep or key in NOT_IN_NAMES or key.startswith("hydra."):
            continue
        if "/" in value or "\\" in value:
            value = PurePath(value.replace("\\", "/").strip("'\"")).name
        parts.append(f"{key}={value}")
    name = re.sub(r"[^\w.,=+\-\[\]{}:@]", "_", ",".join(parts)) or "default"
    if len(name) > MAX_NAME:
        name = f"{name[:MAX_NAME]}..job{job_num if job_num is not None else ''}"
    return name


def varying_keys() -> set[str] | None:
    """In a job of a sweep, the settings the sweep varies (:func:`sweep_keys`, plus ``trial``
    for a trial of a hyperparameter search); None in a single run or when unknown."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hc = HydraConfig.get()
    keys = sweep_keys(hc.sweep.dir, hc.sweeper.get("params") or {})
    if hc.sweeper.get("trial") is not None:
        keys = (keys or set()) | {"trial"}
    return keys


def tensorboard_dir(output_dir: str) -> str:
    """Where this run's TensorBoard events go: ``<output_dir>/tensorboard`` for a single run,
    ``<sweep dir>/tensorboard/<job name>`` for a job of a sweep (``trial=<n>,...`` for a trial
    of a hyperparameter search, whose values may repeat)."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return str(PurePath(output_dir) / "tensorboard")
    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    if hc.sweeper.get("trial") is not None:
        overrides.insert(0, f"trial={hc.sweeper.trial}")
    name = job_name(overrides, hc.job.num, varying_keys())
    return str(PurePath(hc.sweep.dir) / "tensorboard" / name)


OmegaConf.register_new_resolver("tensorboard_dir", tensorboard_dir, replace=True)
