"""A Lightning callback for the tests: which training rows each rank trained on in the first
epoch, with the process's distributed setting, saved to ``<out>/rank<global rank>.pt``.

Added to a run from the command line, so that it works in processes the test does not start
(SLURM tasks): ``+callbacks.shards._target_=record_shards.RecordShards
+callbacks.shards.out=DIR`` with this folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import torch


class RecordShards(L.Callback):
    def __init__(self, out: str) -> None:
        self.out = Path(out)
        self.rows: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer: L.Trainer, module: Any, batch: Any, _: int) -> None:
        if trainer.current_epoch == 0:
            steps = [batch] if isinstance(batch[0], torch.Tensor) else batch
            self.rows.extend(x.detach().cpu() for x, _ in steps)

    def on_train_epoch_end(self, trainer: L.Trainer, module: Any) -> None:
        if trainer.current_epoch != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        import torch.distributed as dist

        record = {
            "rows": torch.cat(self.rows),
            "global_rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "environment": type(trainer.strategy.cluster_environment).__name__,
            "backend": dist.get_backend() if dist.is_initialized() else None,
            "slurm_procid": os.environ.get("SLURM_PROCID"),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "pid": os.getpid(),
        }
        torch.save(record, self.out / f"rank{trainer.global_rank}.pt")
