"""A Hydra sweeper that runs an Optuna study through Optuna's ask-and-tell interface
(``hydra/sweeper=optuna_study``, used by ``hparams_search=optuna``).

Hydra's own Optuna sweeper (``hydra-optuna-sweeper`` 1.3) pins ``optuna<3``; this one reads the
same ``hydra.sweeper.params`` search spaces and works on current Optuna. Each batch of ``n_jobs``
trials is asked from the study, launched as ordinary jobs by whichever launcher is configured
(basic, joblib, submitit local or SLURM), and told its result read from the job's
``metrics.json``. Trial ``n`` runs in ``<sweep dir>/n`` and knows its trial number and the
study's storage (``hydra.sweeper.trial``, ``hydra.sweeper.storage``), so it can report
per-epoch values for pruning (``imbalance_lab.search.pruning``) whichever process it runs in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from imbalance_lab.errors import ConfigError
from imbalance_lab.search.space import search_space
from imbalance_lab.search.study import (
    RESULTS_FILE,
    best_trial_summary,
    check_validation_metric,
    open_storage,
    storage_setting,
    trial_outcome,
)

log = logging.getLogger(__name__)


class OptunaStudySweeper(Sweeper):
    """Runs ``n_trials`` trials of the study ``study_name`` in ``storage`` (shared with any other
    sweeper process given the same storage), maximising or minimising ``objective``."""

    def __init__(
        self,
        objective: str,
        direction: str,
        study_name: str,
        storage: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        sampler: Any = None,
        pruner: Any = None,
        prune_on: str | None = None,
        params: DictConfig | None = None,
        trial: int | None = None,  # set on each job by this sweeper, never by the user
    ) -> None:
        self.metric = check_validation_metric(objective, "hydra.sweeper.objective")
        if prune_on:
            check_validation_metric(prune_on, "hydra.sweeper.prune_on")
        if direction not in ("maximize", "minimize"):
            raise ConfigError(f"hydra.sweeper.direction={direction!r}: use maximize or minimize.")
        if n_trials < 1 or n_jobs < 1 or not 0 <= max_failure_rate <= 1:
            raise ConfigError(
                "hydra.sweeper.n_trials and hydra.sweeper.n_jobs must be >= 1 and "
                "hydra.sweeper.max_failure_rate between 0 and 1."
            )
        self.objective, self.direction, self.study_name = objective, direction, study_name
        self.storage, self.n_trials, self.n_jobs = storage, n_trials, n_jobs
        self.max_failure_rate, self.sampler, self.pruner = max_failure_rate, sampler, pruner
        self.params = params
        self.job_idx = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context  # validate_batch_is_legal composes with it
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        self.sweep_dir = Path(str(config.hydra.sweep.dir))

    def sweep(self, arguments: list[str]) -> None:
        import optuna
        from optuna.trial import TrialState

        params = OmegaConf.to_container(self.params) if self.params else {}
        space = search_space([*(f"{k}={v}" for k, v in params.items()), *arguments])
        storage = storage_setting(self.storage, self.sweep_dir)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=open_storage(storage),
            sampler=self.sampler,
            pruner=self.pruner or optuna.pruners.NopPruner(),
            direction=self.direction,
            load_if_exists=True,  # other workers share it
        )
        log.info(
            "study %r in %s: %d trials of %s, %s %s (%d trials already in it)",
            study.study_name, storage, self.n_trials, ", ".join(space.distributions),
            self.direction, self.objective, len(study.trials),
        )  # fmt: skip
        failed = done = 0
        while done < self.n_trials:
            batch = min(self.n_jobs, self.n_trials - done)
            trials = [study.ask(space.distributions) for _ in range(batch)]
            jobs = [
                self._job_overrides(space.overrides(t.params), t.number, storage) for t in trials
            ]
            # Every trial's config composed before any runs, as Hydra's own sweeper does: a
            # mistake stops the search at once, and the default launcher's jobs run with these.
            self.validate_batch_is_legal(jobs)
            self.launcher.launch(jobs, initial_job_idx=self.job_idx)
            self.job_idx += len(trials)
            for trial in trials:
                run_dir = self.sweep_dir / str(trial.number)
                trial.set_user_attr("run_dir", str(run_dir))
                state, value = trial_outcome(run_dir, self.metric)
                if state == "complete":
                    study.tell(trial, value)
                elif state == "pruned":  # its value: the last epoch it reported
                    study.tell(trial, state=TrialState.PRUNED)
                else:
                    study.tell(trial, state=TrialState.FAIL)
                    failed += 1
                log.info("trial %d: %s, %s=%s", trial.number, state, self.objective, value)
            done += len(trials)
            if failed / done > self.max_failure_rate:
                log.error(
                    "%d of %d trials failed (more than hydra.sweeper.max_failure_rate=%s): "
                    "search stopped; see the leaderboard's failed column",
                    failed, done, self.max_failure_rate,
                )  # fmt: skip
                break
        summary = best_trial_summary(study, space.fixed, self.objective)
        OmegaConf.save(OmegaConf.create(summary), self.sweep_dir / RESULTS_FILE)
        log.info("best trial: %s; rerun it: %s", summary.get("best_trial"), summary.get("command"))

    def _job_overrides(self, overrides: Sequence[str], number: int, storage: str) -> list[str]:
        # The folder is named after the trial, so folders of workers sharing a study never clash
        # in name and optimization_results.yaml's best trial is found by its number.
        return [
            *overrides,
            f"hydra.sweep.subdir={number}",
            f"hydra.sweeper.trial={number}",
            f"hydra.sweeper.storage='{storage}'",
        ]
