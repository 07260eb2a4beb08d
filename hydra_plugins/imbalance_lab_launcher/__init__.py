"""Submitit launchers (``hydra/launcher=slurm``) whose sweep survives a job that dies without a
result: killed (``kill -9``, out of memory, ``scancel``), past its time limit, or lost with its
node.

The plugin's launchers raise on the first such job: the sweep stops waiting for the others and
writes no leaderboard. These record the job as failed instead, in its run folder's
``metrics.json`` as ``train.py`` records a job that raised (status, error, choices, overrides),
wait for every job, and let the leaderboard callback run; the sweep still exits non-zero.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as plugin
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf, open_dict

from imbalance_lab.records import failed_record
from imbalance_lab.train import METRICS_FILE, write_metrics

log = logging.getLogger(__name__)


class _KeepsFailedJobs(plugin.BaseSubmititLauncher):
    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """The plugin's ``launch`` (hydra-submitit-launcher 1.2), but a job that ends without a
        result is recorded as failed instead of raising."""
        import submitit  # lazy, as in the plugin: plugin discovery stays fast

        assert self.config is not None and len(job_overrides) > 0
        init_keys = {"submitit_folder", "max_num_timeout"}
        init = {"folder": self.params["submitit_folder"]}
        if "max_num_timeout" in self.params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = self.params["max_num_timeout"]
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{
                k if k in base else f"{self._EXECUTOR}_{k}": v
                for k, v in self.params.items()
                if k not in init_keys
            }
        )
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {self.config.hydra.sweep.dir}")
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        params = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            state = Singleton.get_state()
            params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", state))
        jobs = executor.map_array(self, *zip(*params, strict=True))

        returns: list[JobReturn] = []
        for idx, (job, overrides) in enumerate(zip(jobs, job_overrides, strict=True)):
            try:
                returns.append(job.results()[0])
            except (submitit.core.utils.UncompletedJobError, submitit.core.utils.FailedJobError):
                returns.append(self._record_failure(job, list(overrides), initial_job_idx + idx))
        return returns

    def _record_failure(self, job: Any, overrides: list[str], job_num: int) -> JobReturn:
        assert self.hydra_context is not None and self.config is not None
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(cfg.hydra.job):
            cfg.hydra.job.num = job_num
        out = Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)
        state = job.watcher.get_state(job.job_id, mode="force")
        error = f"killed or crashed without a result (SLURM job {job.job_id}: {state})"
        log.error("job #%d %s; its log: %s", job_num, error, job.paths.stderr)
        out.mkdir(parents=True, exist_ok=True)
        if not (out / METRICS_FILE).exists():  # a record the job wrote itself wins
            choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
            write_metrics(out, failed_record(cfg, error, choices, overrides))
        # COMPLETED with no value, as train.py returns for a job that raised: the sweepers raise
        # on a FAILED return, which would skip the leaderboard.
        return JobReturn(
            overrides=overrides,
            working_dir=str(out),
            task_name=str(cfg.hydra.job.name),
            status=JobStatus.COMPLETED,
            _return_value=None,
        )


class SlurmLauncher(_KeepsFailedJobs, plugin.SlurmLauncher):
    pass


class LocalLauncher(_KeepsFailedJobs, plugin.LocalLauncher):
    pass
