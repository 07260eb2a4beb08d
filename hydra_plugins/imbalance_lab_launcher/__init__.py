"""Launchers whose sweep survives a job that dies without a result: killed (``kill -9``, the
out-of-memory killer, ``scancel``), past its time limit, or lost with its node. Submitit's
(``hydra/launcher=slurm`` and ``local``) and joblib's (``hydra/launcher=parallel``, the
default).

The plugins' launchers raise on the first such job: the sweep stops waiting for the others and
writes no leaderboard. These record the job as failed instead, in its run folder's
``metrics.json`` as ``train.py`` records a job that raised (status, error, choices, overrides),
wait for every job, and let the leaderboard callback run; the sweep still exits non-zero.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as plugin
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf, open_dict

from imbalance_lab.records import failed_record, run_status
from imbalance_lab.train import METRICS_FILE, sweep_value, write_metrics

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
        state = job.watcher.get_state(job.job_id, mode="force")
        error = f"killed or crashed without a result (SLURM job {job.job_id}: {state})"
        log.error("job #%d %s; its log: %s", job_num, error, job.paths.stderr)
        return _record_failed_job(self, overrides, job_num, error)


def _job_config(launcher: Any, overrides: list[str], job_num: int) -> tuple[Any, Path]:
    """A job's composed config and its run folder, as the job itself composes them."""
    assert launcher.hydra_context is not None and launcher.config is not None
    cfg = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, overrides)
    with open_dict(cfg.hydra.job):
        cfg.hydra.job.num = job_num
    return cfg, Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)


def _record_failed_job(launcher: Any, overrides: list[str], job_num: int, error: str) -> JobReturn:
    """Write a failed record for a job that ended without one; its ``JobReturn``."""
    cfg, out = _job_config(launcher, overrides, job_num)
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


def _in_worker() -> None:
    """In a sweep's worker process (not in the launching process, where joblib runs the jobs
    when it has one worker): skip the final garbage collection at exit, and end with the
    launching process."""
    import multiprocessing

    from imbalance_lab.quick_exit import exit_quickly

    if multiprocessing.parent_process() is not None:
        exit_quickly()
        exit_with_parent()


_watching = False


def exit_with_parent(every_seconds: float = 0.5) -> None:
    """End this process within ``every_seconds`` of its parent's end (once per process).

    A sweep killed with ``kill -9``, SIGTERM or a closed terminal left joblib's workers running
    their jobs without it, training (and writing into run folders) for as long as a job takes;
    a new sweep in the same folder then met them. joblib's workers learn of it only when they
    next talk to the parent, after the job. Linux's ``PR_SET_PDEATHSIG`` follows the thread
    that started the worker, not the process, so a thread here watches the parent's id, which
    changes when the parent ends (the worker is re-parented). Before it ends, the processes
    the job started (DDP's other ranks under ``trainer=ddp`` on CPU, a user's subprocesses)
    get SIGTERM, which they would otherwise never see, and SIGKILL if they have not ended a
    few seconds later. POSIX only; a no-op elsewhere.
    """
    import threading
    import time

    global _watching
    if _watching or not hasattr(os, "getppid") or os.name != "posix":
        return
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_seconds)
        try:
            _end_children()
        finally:  # whatever the scan met, the worker must not outlive the sweep
            os._exit(1)  # the sweep is gone: nobody reads this job's result

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
    _watching = True


def _end_children(grace_seconds: float = 3.0) -> None:
    """SIGTERM to this process's child processes, then SIGKILL to those still running after
    ``grace_seconds``: one that ignores SIGTERM, or defers it as Lightning's DDP ranks do (to
    the end of their batch, after a broadcast from a rank 0 that is gone), would run on."""
    import signal
    import time

    children = _child_processes()
    for pid in children:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while children and time.monotonic() < deadline:
        time.sleep(0.05)
        children = [pid for pid in _child_processes() if pid in children]
    for pid in children:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _child_processes() -> list[int]:
    """Ids of this process's running child processes (an ended one, not yet reaped, is left
    out), read from Linux's ``/proc`` (each process's ``stat`` names its parent and state);
    empty where there is no ``/proc``. Written here because the standard library tracks only
    the children it started itself (``multiprocessing``), and psutil, which does this, is not
    a dependency."""
    me, children = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:  # "pid (command) state ppid ...": the command may hold spaces and parentheses,
            # and any bytes (a program file named in Latin-1): read as bytes, never decoded
            fields = stat.read_bytes().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        if len(fields) > 1 and fields[1] == str(me).encode() and fields[0] != b"Z":
            children.append(int(stat.parent.name))
    return children


def _import_training_stack() -> None:
    """Run in a sweep worker as it starts: what every job imports (torch, Lightning, the
    samplers; ~5 s), done while the launching process still composes the jobs' configs."""
    import imbalance_lab.pipeline  # noqa: F401

    _in_worker()


def _import_leaderboard() -> None:
    """The leaderboard's imports (pandas, matplotlib, the report; ~2 s), done in the launching
    process while it waits for the jobs, instead of after the last one."""
    try:
        import imbalance_lab.evaluation.leaderboard  # noqa: F401
    except Exception:  # the sweep-end callback imports it again and reports the error
        log.debug("the leaderboard's imports failed", exc_info=True)


def _numbered_job(
    num: int,
    overrides: list[str],
    context: Any,
    config: Any,
    task: Any,
    state: Any,
    composed: Any = None,
) -> tuple[int, JobReturn]:
    """Run job ``num`` in a worker: hydra-joblib-launcher's ``execute_job``, but with the job's
    config as the launching process composed it when there is one (composing costs a KEEL-size
    job about as much as a fifth of its training, and the sweeper has done it already)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import run_job, setup_globals
    from hydra_plugins.hydra_joblib_launcher._core import execute_job

    _in_worker()  # a worker that had no head start (_import_training_stack)
    if composed is None:
        return num, execute_job(num, overrides, context, config, task, state)
    setup_globals()
    Singleton.set_state(state)
    with open_dict(composed):
        composed.hydra.job.id = f"{composed.hydra.job.name}_{num}"
        composed.hydra.job.num = num
    HydraConfig.instance().set_config(composed)
    job_return = run_job(
        hydra_context=context,
        config=composed,
        task_function=task,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    return num, job_return


class ParallelLauncher(JoblibLauncher):
    """hydra-joblib-launcher's launcher (``hydra/launcher=parallel``), but a job whose worker
    process dies is recorded as failed and the sweep goes on.

    When a worker dies, joblib's loky executor stops every worker and fails every job it still
    holds. The jobs that had finished keep their results; the jobs that had started (their run
    folder exists) are recorded as failed, the one that died and any that ran beside it; the
    jobs that had not started are launched again, in a new set of workers.

    The workers start while this process checks the jobs' configs, one for each config checked
    up to the number of workers, and import the training stack at once; joblib keeps them for
    the jobs. The configs the sweeper composed to check them are the ones the jobs run with: a
    worker does not compose its job's config again.
    """

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        """The plugin's ``setup``; the head start of the workers begins with the first job
        config the sweeper composes."""
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self._composed: dict[tuple[str, ...], Any] = {}
        self._warming: list[Any] = []
        try:
            from joblib import effective_n_jobs

            self._workers = int(effective_n_jobs(self._joblib_settings()["n_jobs"]))
        except Exception:
            self._workers = 1
        # A sweep whose configs fail to compose never collects the head start: joblib's note
        # that it cancelled those imports would follow the sweep's own error.
        warnings.filterwarnings(
            "ignore", message=r".*tasks which were still being processed by the workers have "
            r"been cancelled", category=UserWarning, module="joblib"
        )  # fmt: skip
        self._keep_composed(True)

    def _warm_one(self) -> None:
        """Give one more worker its head start (``_import_training_stack``): one per job
        composed, up to the number of workers; none when joblib runs the jobs in this process."""
        if self._workers < 2 or len(self._warming) >= self._workers:
            return
        try:
            from joblib import Parallel, delayed

            parallel = Parallel(**self._joblib_settings(), return_as="generator_unordered")
            self._warming.append((parallel, parallel([delayed(_import_training_stack)()])))
        except Exception:  # a head start only: the jobs start their workers anyway
            log.debug("a sweep worker not started ahead of the jobs", exc_info=True)

    def _stop_warming(self) -> None:
        """Kill the workers of the head start: a job's config failed to compose, the sweep
        ends here, and it would otherwise wait for their imports (seconds) before exiting."""
        warming, self._warming = self._warming, []
        for _, started in warming:
            try:
                started.close()  # joblib aborts the call: its workers are killed
            except Exception:
                log.debug("the sweep workers' head start not stopped", exc_info=True)

    def _keep_composed(self, keep: bool) -> None:
        """Keep (or stop keeping) each job config the sweeper composes when it checks a batch
        (``Sweeper.validate_batch_is_legal``), by the job's overrides. Stopped while jobs are
        sent to the workers: the config loader travels with each job, and must travel plain."""
        loader = self.hydra_context.config_loader if self.hydra_context else None
        if loader is None:
            return
        vars(loader).pop("load_sweep_config", None)
        if not keep:
            return
        compose, kept = loader.load_sweep_config, self._composed

        def compose_and_keep(master_config: Any, sweep_overrides: list[str]) -> Any:
            try:
                composed = compose(master_config, sweep_overrides)
            except Exception:
                self._stop_warming()
                raise
            if master_config is self.config:  # the sweep's own: the one its jobs launch from
                kept[tuple(sweep_overrides)] = composed
                self._warm_one()
            return composed

        loader.load_sweep_config = compose_and_keep

    def _joblib_settings(self) -> dict[str, Any]:
        from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg

        settings = dict(self.joblib)
        settings["backend"] = "loky"  # the threading backend is incompatible with Hydra
        process_joblib_cfg(settings)
        return settings

    def _warmed(self) -> None:
        """Wait for the workers' head start: joblib reuses them once those calls have ended."""
        warming, self._warming = getattr(self, "_warming", []), []
        for _, started in warming:
            try:
                for _ in started:
                    pass
            except Exception:  # the jobs meet the same error and record it
                log.debug("a sweep worker's imports failed", exc_info=True)

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """The plugin's ``launch`` (hydra-joblib-launcher 1.2), jobs returned as they end."""
        import threading

        from hydra.core.utils import configure_log, setup_globals
        from joblib import Parallel, delayed
        from joblib.externals.loky.process_executor import BrokenProcessPool

        setup_globals()
        assert self.config is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        joblib_cfg = self._joblib_settings()
        jobs = {initial_job_idx + i: list(o) for i, o in enumerate(job_overrides)}
        self._keep_composed(False)
        composed = {n: self._composed.pop(tuple(o), None) for n, o in jobs.items()}
        self._composed.clear()
        self._warmed()
        log.info(f"Joblib.Parallel({joblib_cfg}) is launching {len(job_overrides)} jobs")
        log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
        for num, overrides in jobs.items():
            log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
        state = Singleton.get_state()
        context, config, task = self.hydra_context, self.config, self.task_function
        returns: dict[int, JobReturn] = {}
        pending = list(jobs)
        if self._workers > 1:  # this process waits for the jobs: it imports meanwhile
            threading.Thread(target=_import_leaderboard, daemon=True).start()
        while pending:
            try:
                ended = Parallel(**joblib_cfg, return_as="generator_unordered")(
                    delayed(_numbered_job)(
                        num, jobs[num], context, config, task, state, composed[num]
                    )
                    for num in pending
                )
                for num, job_return in ended:
                    returns[num] = job_return
                pending = []
            except BrokenProcessPool as err:
                log.error("a worker process of the sweep died: %s", str(err).splitlines()[0])
                left = [n for n in pending if not self._settle(n, jobs[n], returns)]
                if len(left) == len(pending):  # workers die before any job starts: give up
                    for num in left:
                        error = "its worker processes died before it started"
                        returns[num] = _record_failed_job(self, jobs[num], num, error)
                    left = []
                pending = left
        self._keep_composed(True)  # for the sweeper's next batch
        return [returns[num] for num in jobs]

    def _settle(self, num: int, overrides: list[str], returns: dict[int, JobReturn]) -> bool:
        """After a worker died: whether job ``num`` has its return now (finished, or recorded
        as failed because it had started); False = it never started, launch it again."""
        if num in returns:
            return True
        _, out = _job_config(self, overrides, num)
        status = run_status(out)
        if status is not None:  # it finished (or failed) as its worker pool broke
            record = json.loads((out / METRICS_FILE).read_text()) if status == "ok" else {}
            returns[num] = JobReturn(
                overrides=overrides,
                working_dir=str(out),
                task_name=str(self.config.hydra.job.name),
                status=JobStatus.COMPLETED,
                _return_value=sweep_value(record) if record else None,
            )
            return True
        if not out.exists():
            return False
        error = (
            "killed or crashed without a result: its worker process died (killed, out of "
            "memory?), or another job's did and the sweep's workers were stopped with it"
        )
        log.error("job #%d %s", num, error)
        returns[num] = _record_failed_job(self, overrides, num, error)
        return True
