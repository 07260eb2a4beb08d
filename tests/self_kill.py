"""A callback that SIGKILLs its own process when an epoch starts, in the job whose seed is
``kill_seed`` only: a sweep's job killed from outside (out of memory, ``kill -9``)."""

from __future__ import annotations

import os
import signal

import lightning as L


class KillSeed(L.Callback):
    def __init__(self, seed: int, kill_seed: int, epoch: int = 1) -> None:
        self.kill = seed == kill_seed
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.kill and trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)
