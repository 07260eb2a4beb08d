"""The resume checkpoint (``last.ckpt``), written on a time basis rather than after every epoch.

An epoch of a KEEL-size run takes ~0.1 s and writing a checkpoint ~5 ms, so a checkpoint after
every epoch was ~6 % of such a fit. Resuming from an older ``last.ckpt`` is as exact as from the
newest: it holds the random-number states and the batch order's generator of its epoch
(:mod:`imbalance_lab.resume`), so the resumed run repeats the epochs since then as they ran.
What a longer interval costs is only the time those epochs take again.
"""

from __future__ import annotations

import time

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


def final_epoch(trainer: L.Trainer) -> bool:
    """Whether the epoch now ending is the fit's last (max_epochs, max_steps, or a stop asked by
    early stopping, ``max_time`` or a pruner), read without the side effects of Lightning's own
    ``fit_loop.done``; a stop that ``min_epochs`` still holds back counts as last (one more
    write at most)."""
    loop = trainer.fit_loop
    if 0 <= loop.max_steps <= trainer.global_step:
        return True
    max_epochs = loop.max_epochs
    if max_epochs is not None and 0 <= max_epochs <= loop.epoch_progress.current.processed:
        return True
    return bool(trainer.should_stop)


class LastCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` of the latest epoch (``monitor=None``) that writes at the end of an
    epoch only when ``every_seconds`` have passed since its last write, at the first epoch and
    at the fit's last epoch (:func:`final_epoch`). ``every_seconds=0`` writes after every epoch.

    Args:
        every_seconds: the most training time (s) a killed run loses; >= 0.
        **kwargs: :class:`lightning.pytorch.callbacks.ModelCheckpoint`'s arguments.

    Raises:
        ValueError: ``every_seconds`` is negative.
    """

    def __init__(self, every_seconds: float = 10.0, **kwargs: object) -> None:
        if every_seconds < 0:
            raise ValueError(f"every_seconds must be >= 0, got {every_seconds}")
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.every_seconds = float(every_seconds)
        self._written: float | None = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        now = time.monotonic()
        due = self._written is None or now - self._written >= self.every_seconds
        # Every process must take the same decision: writing a checkpoint is collective under
        # DDP (broadcast and barrier), and the processes' clocks differ near a boundary.
        due = trainer.strategy.broadcast(due, src=0)
        if due or final_epoch(trainer):
            super().on_train_epoch_end(trainer, pl_module)
            self._written = now
