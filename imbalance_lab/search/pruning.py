"""Stop a hopeless trial early: its per-epoch validation PR-AUC goes to the study, whose pruner
compares it with the other trials' values at the same epoch.

A pruned trial is not thrown away: training stops (as early stopping stops it), the best epoch
so far is evaluated and recorded as usual, with ``search.pruned_at_epoch`` in its
``metrics.json``; the sweeper then files the trial as pruned. So every trial, pruned or not, is an
ordinary run folder in the sweep's leaderboard.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import OmegaConf

from imbalance_lab.search.study import check_validation_metric, open_storage


class PruneHopelessTrial(L.Callback):
    """Reports ``monitor`` after every validation epoch to trial ``trial`` of the study and stops
    training when the study's pruner says so.

    Holds the study's address, not the study: the callback is pickled into DDP worker
    processes, and only rank 0 talks to the storage (the decision is broadcast to the others).
    """

    def __init__(
        self, study_name: str, storage: str, trial: int, pruner: Any, monitor: str = "val/pr_auc"
    ) -> None:
        self.study_name, self.storage, self.trial_number = study_name, storage, trial
        self.pruner, self.monitor = pruner, monitor
        self.pruned_at_epoch: int | None = None
        self._trial: Any = None

    def _open_trial(self) -> Any:
        import optuna

        study = optuna.load_study(
            study_name=self.study_name, storage=open_storage(self.storage), pruner=self.pruner
        )
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == self.trial_number)
        # Optuna has no public way to reopen a running trial by number; Trial(study, id) is what
        # its own ask() builds.
        return optuna.trial.Trial(study, frozen._trial_id)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune = False
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.is_global_zero and value is not None:
            self._trial = self._trial or self._open_trial()
            self._trial.report(float(value), step=trainer.current_epoch)
            prune = self._trial.should_prune()
        if trainer.strategy.broadcast(prune, src=0):
            self.pruned_at_epoch = trainer.current_epoch + 1  # counted from 1, as ``epochs``
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {}  # nothing to resume: a resumed trial reports again from its epoch on


def trial_pruning() -> PruneHopelessTrial | None:
    """The pruning callback when this job is a trial of ``hydra/sweeper=optuna_study``."""
    if not HydraConfig.initialized():
        return None
    sweeper = HydraConfig.get().sweeper
    if sweeper.get("trial") is None or not sweeper.get("prune_on") or not sweeper.get("pruner"):
        return None  # not a trial, or pruning switched off (prune_on=null or pruner=null)
    check_validation_metric(sweeper.prune_on, "hydra.sweeper.prune_on")
    pruner = instantiate(OmegaConf.to_container(sweeper.pruner))
    return PruneHopelessTrial(
        str(sweeper.study_name), str(sweeper.storage), int(sweeper.trial), pruner, sweeper.prune_on
    )
