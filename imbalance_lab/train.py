"""Hydra entry point: one run (see ``pipeline.run``) and its metrics.json, or a failure record.

python train.py                                   # default: KEEL yeast4, no resampling
python train.py -m sampler=none,smote,adasyn loss=bce,weighted_bce
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from imbalance_lab.errors import ConfigError, ConfigExit, first_line
from imbalance_lab.records import error_summary, failed_record, hydra_info, root_cause
from imbalance_lab.run_names import tensorboard_dir  # noqa: F401  (registers its resolver)
from imbalance_lab.rundir import METRICS_FILE, claim, release, started

log = logging.getLogger(__name__)

# The config tree: the repository's conf/, shipped inside the package as imbalance_lab/conf (a
# link to ../conf, copied into wheels), so an installed package finds it too; a checkout without
# symlinks (Windows) falls back to the repository's. An absolute path keeps Hydra from looking for
# a `conf` Python module.
_PACKAGE = Path(__file__).resolve().parent
CONF_DIR = _PACKAGE / "conf" if (_PACKAGE / "conf").is_dir() else _PACKAGE.parent / "conf"


def _share_config_store() -> None:
    """Let a deep copy of Hydra's ConfigStore (a singleton) be the store itself.

    Hydra 1.3 deep-copies its config repository, the ConfigStore with every plugin's schema
    included, each time it lists a config group: ``--help`` made 112 copies, most of its second.
    Hydra after 1.3 no longer copies the store (facebookresearch/hydra#2928, not in a release
    yet); this does the same until one has it. The store is only read after start-up.
    """
    if "__deepcopy__" not in vars(ConfigStore):
        ConfigStore.__deepcopy__ = lambda self, memo: self  # type: ignore[method-assign]


_share_config_store()


def sweep_jobs(accelerator: str) -> int:
    """Jobs a sweep runs side by side (``hydra.launcher.n_jobs`` of hydra/launcher=parallel):
    -1 = one per core, or 1 when the jobs would share an accelerator (``trainer.accelerator``
    gpu/cuda/mps, or auto on a machine with a GPU: ``/dev/nvidia*``, ROCm's ``/dev/kfd``)."""
    if accelerator in ("gpu", "cuda", "mps", "tpu"):
        return 1
    gpu = any(Path("/dev").glob("nvidia[0-9]*")) or Path("/dev/kfd").exists()
    if accelerator == "auto" and gpu:
        return 1
    return -1


if not OmegaConf.has_resolver("sweep_jobs"):
    OmegaConf.register_new_resolver("sweep_jobs", sweep_jobs)


def write_metrics(output_dir: Path, results: dict[str, Any]) -> Path:
    """Write ``metrics.json`` whole or not at all: a run killed while writing leaves the earlier
    file (or none), never a truncated one that the leaderboard would misread."""
    path = output_dir / METRICS_FILE
    partial = path.with_name(f".{METRICS_FILE}.partial")
    partial.write_text(json.dumps(results, indent=2, default=float))
    os.replace(partial, path)
    return path


def _user_error(message: str) -> None:
    """Stop a single run on a mistake the user can fix: the message alone, exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    raise ConfigExit(ConfigError(message))


def cli() -> None:
    """``python train.py [-m] OVERRIDES`` / ``imbalance-lab-train``: Hydra's command line around
    :func:`main`, with the project's plugins registered and exit status 2 for a configuration
    Hydra cannot compose (an unknown option such as ``sampler=nope``, a mistyped override),
    like every other mistake in the settings. Hydra itself exits 1 for those; a run or sweep
    that started and failed keeps Hydra's status."""
    from imbalance_lab.plugins import register_plugins
    from imbalance_lab.quick_exit import exit_quickly

    _check_override_syntax()
    register_plugins()
    exit_quickly()
    try:
        main()
    except SystemExit as stop:
        if stop.code == 1 and not started():
            raise SystemExit(2) from None
        raise


def _check_override_syntax() -> None:
    """Exit 2 naming the first override of the command line Hydra's grammar cannot read
    (``seed=1=2``): Hydra's own message gives the grammar's complaint but not the override."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    overrides, _ = get_args_parser().parse_known_args()
    parser = OverridesParser.create()
    for override in overrides.overrides:
        try:
            parser.parse_overrides([override])
        except OverrideParseException as err:
            _user_error(
                f"the override {override!r} cannot be read: {first_line(err)} (the grammar: "
                "https://hydra.cc/docs/advanced/override_grammar/basic/)"
            )


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Returns the validation F1, the objective of hyperparameter searches (never test)."""
    output_dir = Path(cfg.paths.output_dir)
    try:
        # A single run's folder was claimed before Hydra wrote into it (RunFolderCallback); a
        # sweep's job claims its own, which may hold only what Hydra wrote for this job.
        claim(output_dir, "hydra.run.dir", allow=(".hydra", f"{cfg.task_name}.log"))
    except ConfigError as err:
        if not hydra_info()["multirun"]:
            _user_error(str(err))
        log.error("job not run, its folder is taken: %s", err)  # never write into it
        return None
    try:
        return _run(cfg, output_dir)
    finally:
        if hydra_info()["multirun"]:  # a job's folder is free again once its record is written
            release(output_dir)


def _run(cfg: DictConfig, output_dir: Path) -> float | None:
    try:
        from imbalance_lab.settings_check import check_settings

        # The settings that need no torch first: a mistake there is reported in a second, before
        # the pipeline imports torch and Lightning (several seconds).
        check_settings(cfg)
        from imbalance_lab.pipeline import run  # heavy imports only once the config is valid

        results = run(cfg)
        if results is None:  # a non-zero rank of a distributed run: rank 0 reports
            return None
    except Exception as err:
        info = hydra_info()
        # The root cause, not a wrapper's text (Hydra's "Error in call to target ..." around
        # whatever a _target_ raised); the whole chain stays in error.txt.
        cause, error = root_cause(err), error_summary(err)
        write_metrics(output_dir, failed_record(cfg, error, info["choices"], info["overrides"]))
        (output_dir / "error.txt").write_text(traceback.format_exc())
        if not info["multirun"]:
            if isinstance(cause, ConfigError):  # the message says what to change: no traceback
                _user_error(str(cause))
            print(f"error: {error} (traceback in {output_dir / 'error.txt'})", file=sys.stderr)
            raise
        log.error("run failed (recorded in %s): %s", output_dir / METRICS_FILE, error)
        return None
    write_metrics(output_dir, results)
    (output_dir / "error.txt").unlink(missing_ok=True)  # of an attempt this resume completed
    if cfg.get("print_table", True):
        from imbalance_lab.evaluation.tables import print_run_table

        print_run_table(results)
    log.info("results written to %s", output_dir / METRICS_FILE)
    return sweep_value(results)


def sweep_value(results: dict[str, Any]) -> float:
    """What a run returns to the sweeper (an Optuna search's objective): validation F1."""
    return float(results["val"]["f1"])


if __name__ == "__main__":
    main()
