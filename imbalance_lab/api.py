"""Runs and sweeps from Python (a notebook), over the same configs as ``python train.py``.

>>> import imbalance_lab
>>> results = imbalance_lab.run(["sampler=smote", "data.name=yeast4"])
>>> results["test"]["f1"]
>>> board = imbalance_lab.sweep({"sampler": ["none", "smote"], "seed": [0, 1, 2]})

Both go through the steps ``python train.py [-m]`` takes: the config is composed by Hydra's
compose API from the package's ``conf/`` tree with the same overrides, the project's Hydra
callbacks claim the folders and write the leaderboard, the configured launcher (and sweeper:
``hparams_search=optuna`` works) runs the jobs, and each job is ``train.main``. So a notebook
and the shell give the same numbers for the same overrides and write the same folders
(``logs/<task_name>/runs/<time>/``, ``logs/<task_name>/multiruns/<time>/<job>/``, under the
working directory unless ``paths.root_dir`` or ``IMBALANCE_LAB_ROOT`` say otherwise).

Why not ``hydra.main``: it reads ``sys.argv`` and exits the process; here a mistake raises
:class:`~imbalance_lab.errors.ConfigError` and results come back as Python objects. The steps
are those of Hydra's own ``Hydra.run`` / ``Hydra.multirun`` (hydra-core 1.3), which take no
explicit list of jobs; :func:`sweep` adds that by handing the jobs to the launcher itself.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.plugins import Plugins
from hydra.errors import ConfigCompositionException, OverrideParseException
from hydra.types import HydraContext, RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from imbalance_lab.errors import ConfigError, ConfigExit
from imbalance_lab.plugins import register_plugins
from imbalance_lab.rundir import METRICS_FILE, claimed, release
from imbalance_lab.train import CONF_DIR, main

CONFIG_NAME = "train"
Overrides = Sequence[str]


@contextlib.contextmanager
def _hydra() -> Iterator[Any]:
    """Hydra initialised on the package's config tree, as ``train.py`` initialises it; a Hydra
    the caller had initialised (their own ``compose`` calls) is put back afterwards."""
    saved = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    held = claimed()
    GlobalHydra.instance().clear()
    register_plugins()
    try:
        # job_name as for `python train.py`: it names the job's log file and hydra.job.name.
        with initialize_config_dir(str(CONF_DIR), job_name="train", version_base="1.3"):
            yield GlobalHydra.instance().hydra
    except ConfigExit as stop:  # what the shell reports as "error: ...", exit status 2
        raise stop.error from None
    except (ConfigCompositionException, OverrideParseException) as err:  # a mistyped override
        raise ConfigError(str(err)) from None
    finally:
        # The shell's process ends after its run, and its folder claims with it; a notebook's
        # kernel lives on, so the folders it claimed are given up here, finished or failed.
        for folder in claimed() - held:
            release(folder)
        if saved is not None:
            GlobalHydra.instance().clear()
            GlobalHydra.instance().initialize(saved)


def _callbacks(cfg: DictConfig) -> Any:
    # Hydra's own callback runner, as Hydra.run/multirun use it (not exported by hydra-core).
    from hydra._internal.callbacks import Callbacks

    return Callbacks(cfg)


def _check_overrides(overrides: Any, name: str) -> list[str]:
    if isinstance(overrides, str) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError(
            f"{name} must be a list of overrides as on the command line, e.g. "
            '["sampler=smote", "seed=1"]; got ' + repr(overrides)
        )
    return list(overrides)


def run(overrides: Overrides = ()) -> dict[str, Any]:
    """Train and evaluate one configuration, as ``python train.py OVERRIDES`` does.

    Parameters
    ----------
    overrides : list of str
        Hydra overrides exactly as on the command line: ``["sampler=smote", "loss=focal",
        "data=table", "data.path=claims.csv", "trainer.max_epochs=20"]``.

    Returns
    -------
    dict
        The run's ``metrics.json``: ``results["test"]`` and ``results["val"]`` map metric names
        (``f1``, ``pr_auc``, ``recall``, ...) to floats, ``results["confusion"]`` holds the test
        confusion counts (``tn``, ``fp``, ``fn``, ``tp``), ``results["threshold"]`` the decision
        threshold, plus the run's labels and settings. ``results["path"]`` is the run's folder
        (figures, checkpoints, the model bundle for :func:`imbalance_lab.load_model`).

    Raises
    ------
    ConfigError
        A setting that cannot work (the message names it), before any data is loaded; or a
        run folder (``hydra.run.dir``) already in use.
    Exception
        Whatever stopped the run; its record (``metrics.json`` with ``status: failed`` and
        ``error.txt``) is in the run's folder, as from the shell.
    """
    overrides = _check_overrides(overrides, "overrides")
    with _hydra() as hydra:
        # hydra.mode as `python train.py` appends it (hydra-core's _run_app).
        ret = hydra.run(CONFIG_NAME, main, [*overrides, "hydra.mode=RUN"])
    folder = Path(ret.hydra_cfg.hydra.runtime.output_dir)
    metrics = folder / METRICS_FILE
    if not metrics.exists():  # the process was not rank 0 of a distributed run
        return {"path": str(folder)}
    return {**json.loads(metrics.read_text()), "path": str(folder)}


def _value(v: Any) -> str:
    """One value as Hydra's override grammar writes it."""
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "null"
    if isinstance(v, list | tuple):
        return "[" + ",".join(_value(x) for x in v) + "]"
    return str(v)


def _grid(params: Mapping[str, Any]) -> list[str]:
    """``{"sampler": ["none", "smote"], "seed": 0}`` -> ``["sampler=none,smote", "seed=0"]``."""
    out = []
    for key, values in params.items():
        if isinstance(values, list | tuple):
            if not values:
                raise ConfigError(f"sweep: {key} has no values; give at least one.")
            out.append(f"{key}={','.join(_value(v) for v in values)}")
        else:
            out.append(f"{key}={_value(values)}")
    return out


def sweep(
    params: Mapping[str, Any] | Sequence[str] | Sequence[Sequence[str]],
    overrides: Overrides = (),
) -> pd.DataFrame:
    """Run a sweep, as ``python train.py -m ...`` does, and return its leaderboard.

    Parameters
    ----------
    params : dict, list of str, or list of lists of str
        What to sweep, in one of three forms:

        - a grid, ``{"sampler": ["none", "smote"], "seed": [0, 1, 2]}``: every combination
          (a scalar is a fixed setting; a list of lists sweeps list values,
          ``{"model.net.hidden_sizes": [[64], [128, 64]]}``);
        - command-line sweep overrides, ``["sampler=none,smote", "seed=0,1,2"]``, or
          ``["hparams_search=optuna", "hydra.sweeper.n_trials=20"]`` for a search;
        - an explicit list of jobs, ``[["sampler=smote"], ["loss=weighted_bce"]]``: one job
          per inner list, for configurations that are no grid.
    overrides : list of str
        Settings shared by every job (``["data.name=yeast5", "trainer.max_epochs=30"]``),
        including the launcher's (``["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]``).

    Returns
    -------
    pandas.DataFrame
        The sweep's leaderboard, as in its ``leaderboard.csv``: one row per configuration
        (``strategy`` names what varies), ``runs`` and ``failed`` counts, ``<metric>_mean`` and
        ``<metric>_std`` of the test metrics over seeds and folds, ``best`` (the columns where
        the row is best), ``error`` for failed runs. ``df.attrs["sweep_dir"]`` is the sweep's
        folder, which also holds ``report.html``, the plots and each job's folder.
        A failed job does not raise: it is a row's ``failed`` count and ``error``.

    Raises
    ------
    ConfigError
        A setting that cannot work, or a sweep folder (``hydra.sweep.dir``) already in use.
    """
    shared = _check_overrides(overrides, "overrides")
    jobs: list[list[str]] | None = None
    if isinstance(params, Mapping):
        sweep_overrides = _grid(params)
    elif params and all(isinstance(p, str) for p in params):
        sweep_overrides = list(params)  # type: ignore[arg-type]
    elif params and all(not isinstance(p, str) and isinstance(p, Sequence) for p in params):
        jobs = [[*shared, *_check_overrides(job, "each job")] for job in params]
        sweep_overrides = []
    else:
        raise ConfigError(
            "sweep takes a dict of settings to values, a list of overrides as on the command "
            "line, or a list of jobs (lists of overrides); got " + repr(params)
        )
    with _hydra() as hydra:
        folder = _multirun(hydra, [*shared, *sweep_overrides], jobs)
    from imbalance_lab.evaluation.leaderboard import leaderboard, load_runs

    board = leaderboard(load_runs([folder]))
    board.attrs["sweep_dir"] = str(folder)
    return board


def _multirun(hydra: Any, overrides: list[str], jobs: list[list[str]] | None) -> Path:
    """Hydra's ``Hydra.multirun`` (compose, callbacks, sweeper, launcher), with the sweep
    folder returned, a failed job recorded rather than raised, and explicit ``jobs`` handed to
    the launcher as a sweeper would."""
    if jobs is not None:  # the sweep-wide config: what every job shares
        overrides = [o for o in jobs[0] if all(o in job for job in jobs)]
    # hydra.mode as `python train.py -m` appends it (hydra-core's _run_app): every job sees it.
    cfg = hydra.compose_config(
        config_name=CONFIG_NAME, overrides=[*overrides, "hydra.mode=MULTIRUN"],
        run_mode=RunMode.MULTIRUN,
    )  # fmt: skip
    with read_write(cfg), open_dict(cfg):
        # Failed jobs are rows of the returned leaderboard, not an exit status.
        if OmegaConf.select(cfg, "hydra.callbacks.leaderboard") is not None:
            cfg.hydra.callbacks.leaderboard.fail_on_error = False
    callbacks = _callbacks(cfg)
    callbacks.on_multirun_start(config=cfg, config_name=CONFIG_NAME)  # claims and pins the dir
    folder = Path(str(cfg.hydra.sweep.dir))
    context = HydraContext(config_loader=hydra.config_loader, callbacks=callbacks)
    if jobs is None:
        sweeper = Plugins.instance().instantiate_sweeper(
            config=cfg, hydra_context=context, task_function=main
        )
        sweeper.sweep(arguments=OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False))
    else:
        launcher = Plugins.instance().instantiate_launcher(
            config=cfg, hydra_context=context, task_function=main
        )
        folder.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, folder / "multirun.yaml")  # as Hydra's sweepers write it
        launcher.launch(jobs, initial_job_idx=0)
    callbacks.on_multirun_end(config=cfg, config_name=CONFIG_NAME)
    return folder
