"""LightningModule: one batch goes network -> logits -> loss; train/val metrics per epoch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import BinaryStatScores

from imbalance_lab.evaluation.metrics import (
    THRESHOLD_METRICS,
    counts_to_metrics,
    epoch_metrics,
)
from imbalance_lab.models.networks import mean_probability_logit

Batch = tuple[torch.Tensor, torch.Tensor]


class ImbalanceClassifier(L.LightningModule):
    """Binary classifier producing one logit per row; label 1 is the minority class.

    Training and validation metrics are logged per epoch at threshold 0.5; the run's final
    evaluation (threshold chosen on validation, test metrics) happens in ``pipeline.run``.

    Checkpoints carry, under ``imbalance_lab``, the run's ``settings`` and ``overrides`` (checked
    by :func:`imbalance_lab.resume.check_resume` before a resume) and torch's random-number
    state (dropout), which Lightning does not save: with it a resumed run draws what the
    uninterrupted run would have drawn.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        run_info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.run_info = run_info or {}
        self.net = net
        self.loss_fn = loss
        self.optimizer_factory = optimizer or torch.optim.AdamW
        # The module steps the optimizer itself: a training batch may be a list of batches
        # (TensorBatches(batches_per_fetch=K)), each of which gets its own zero_grad, backward
        # and step, exactly as automatic optimisation would do, while Lightning's per-step
        # loop runs once per K (measured at batch 1024: 0.63x -> 0.87x a hand-written loop).
        # Lightning refuses its own gradient clipping under manual optimisation, so the
        # trainer's setting is handed to this module (pipeline.fit_network).
        self.automatic_optimization = False
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self._direct_steps = False
        # Epochs trained, as state: it travels with the weights (back from spawned DDP workers,
        # into checkpoints), where the trainer's own counter does not.
        self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long))
        # Training: one tp/fp/tn/fn state for the four metrics and a running loss sum, updated
        # without argument checks or per-step logging (those cost ~40 % of a small MLP's step).
        self.train_stats = BinaryStatScores(validate_args=False)
        self.register_buffer("_loss_sum", torch.zeros(()), persistent=False)
        self._rows = 0
        self.val_metrics = epoch_metrics().clone(prefix="val/")
        self.register_buffer("_val_loss_sum", torch.zeros(()), persistent=False)
        self._val_rows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_train_start(self) -> None:
        self._direct_steps = self._can_step_directly()

    def on_train_epoch_start(self) -> None:
        if hasattr(self.loss_fn, "set_epoch"):  # a loss with a schedule (loss=drw)
            self.loss_fn.set_epoch(self.current_epoch)

    def _can_step_directly(self) -> bool:
        """Whether backward and the optimizer step may skip Lightning's wrappers.

        ``manual_backward`` and ``LightningOptimizer.step`` cost 5-8 % of a small MLP's step on
        CPU (measured), for work that does nothing here: mixed-precision scaling, distributed
        hooks, clipping and the backward / optimizer-step hooks. With 32-bit precision on one
        device, no clipping and no callback or override listening to those hooks, the step
        runs on the torch optimizer itself; step counting and profiling stay Lightning's.
        """
        from lightning.pytorch.plugins.precision import Precision
        from lightning.pytorch.strategies import SingleDeviceStrategy
        from lightning.pytorch.utilities.model_helpers import is_overridden

        trainer = self.trainer
        hooks = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")
        listened = any(is_overridden(h, c, L.Callback) for h in hooks for c in trainer.callbacks)
        overridden = any(is_overridden(h, self, L.LightningModule) for h in (*hooks, "backward"))
        return (
            type(trainer.precision_plugin) is Precision
            and type(trainer.strategy) is SingleDeviceStrategy
            and not self.gradient_clip_val
            and not listened
            and not overridden
        )

    def training_step(self, batch: Batch | list[Batch], _: int) -> None:
        steps = [batch] if isinstance(batch[0], torch.Tensor) else batch
        optimizer = self.optimizers()
        logits_seen, targets, losses, sizes = [], [], [], []
        for x, y in steps:
            optimizer.zero_grad()
            logits = self(x)
            if logits.dim() > y.dim():  # an ensemble's k logits per row (model=tabm): each
                # member learns every row's label, as TabM trains (Gorishniy et al. 2025)
                loss = self.loss_fn(logits, y.unsqueeze(-1).expand_as(logits))
                logits = mean_probability_logit(logits.detach(), -1)  # for the train metrics
            else:
                loss = self.loss_fn(logits, y)
            if self._direct_steps:
                loss.backward()
                # What LightningOptimizer.step wraps around the step under manual optimisation:
                # the trainer's step count (global_step) and its profiler.
                optimizer._on_before_step()
                optimizer.optimizer.step()
                optimizer._on_after_step()
            else:
                self.manual_backward(loss)
                if self.gradient_clip_val:
                    self.clip_gradients(
                        optimizer,
                        gradient_clip_val=self.gradient_clip_val,
                        gradient_clip_algorithm=self.gradient_clip_algorithm,
                    )
                optimizer.step()
            logits_seen.append(logits.detach())
            targets.append(y)
            losses.append(loss.detach())
            sizes.append(len(y))
        # Metrics and the loss sum are updated once per fetch, not once per batch: per-batch
        # kernels on a small MLP cost ~2 % of its step (measured at batch 1024).
        # Logit > 0 is probability > 0.5: integer predictions skip torchmetrics' checks.
        self.train_stats.update((torch.cat(logits_seen) > 0).long(), torch.cat(targets).long())
        stacked = torch.stack(losses).to(self._loss_sum.dtype)
        if len(set(sizes)) == 1:  # no host-to-device copy (a sync on a GPU) for the sizes
            self._loss_sum += stacked.sum() * sizes[0]
        else:  # a fetch ending in the epoch's short last batch
            self._loss_sum += (stacked * stacked.new_tensor(sizes)).sum()
        self._rows += sum(sizes)

    def on_train_epoch_end(self) -> None:
        self.epochs_done += 1
        tp, fp, tn, fn, _ = self.train_stats.compute().tolist()
        metrics = counts_to_metrics(tn=tn, fp=fp, fn=fn, tp=tp)
        logged = {f"train/{m}": float(metrics[m]) for m in THRESHOLD_METRICS}
        logged["train/loss"] = float(self._loss_sum) / max(self._rows, 1)
        # Logged by Lightning one step before the step counter moves on to the next epoch.
        self._publish(logged, step_offset=-1, sync_dist=True)
        self.train_stats.reset()
        self._loss_sum.zero_()
        self._rows = 0

    def validation_step(self, batch: Batch | list[Batch], _: int) -> None:
        # A fetch of validation batches, as in training: each batch is its own forward pass (the
        # numbers do not depend on the fetch size), while Lightning's evaluation loop and its
        # logging run once per fetch; they were ~half of a KEEL-size run's fit.
        steps = [batch] if isinstance(batch[0], torch.Tensor) else batch
        probs, targets = [], []
        for x, y in steps:
            logits = self(x)
            # Lightning's mean of a value logged per batch with batch_size=len(y), in the same
            # float32 arithmetic, so val/loss (and a monitor on it) is the same number as it was
            # when each batch called self.log.
            self._val_loss_sum = self._val_loss_sum + self.loss_fn(logits, y) * len(y)
            self._val_rows += len(y)
            probs.append(logits.sigmoid())
            targets.append(y)
        # One update per fetch: the curve metrics keep every score, the rest sum counts.
        self.val_metrics.update(torch.cat(probs), torch.cat(targets).long())

    def on_validation_epoch_end(self) -> None:
        logged = dict(self.val_metrics.compute())
        logged["val/loss"] = self._val_loss_sum / max(self._val_rows, 1)
        if not self.trainer.sanity_checking:  # Lightning drops what the sanity check logs
            self._publish(logged)
        self.val_metrics.reset()
        self._val_loss_sum = torch.zeros_like(self._val_loss_sum)
        self._val_rows = 0

    def _publish(
        self, values: dict[str, Any], step_offset: int = 0, sync_dist: bool = False
    ) -> None:
        """Hand an epoch's aggregates to the callbacks (``trainer.callback_metrics``: early
        stopping, checkpoints, the epoch line, pruning) and to the loggers, as
        ``self.log(..., on_epoch=True)`` at the end of an epoch would, with the same values.

        Hand-written because ``self.log`` costs ~1 ms a call whatever the value (Lightning's
        result collection walks and copies its metadata on every call): 12 calls an epoch were
        ~10 % of a KEEL-size fit. What it does for an epoch-end value is done here: the value as
        a float tensor (float32 unless it is float64), averaged over processes with
        ``sync_dist``, written into ``callback_metrics`` and sent to every logger at the step
        and with the ``epoch`` that Lightning's own epoch-end logging uses.
        """
        trainer = self.trainer
        dtype = torch.get_default_dtype()
        tensors = {}
        for name, value in values.items():
            value = torch.as_tensor(value, device=self.device).detach()
            if value.dtype not in (torch.float32, torch.float64):
                value = value.to(dtype)
            if sync_dist and trainer.world_size > 1:
                value = trainer.strategy.reduce(value, reduce_op="mean")
            tensors[name] = value
        trainer.callback_metrics.update(tensors)
        if trainer.loggers:
            step = trainer.fit_loop.epoch_loop._batches_that_stepped + step_offset
            scalars = {k: v.item() for k, v in tensors.items()}
            scalars["epoch"] = trainer.current_epoch
            for logger in trainer.loggers:
                logger.log_metrics(scalars, step=step)
                logger.save()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint["imbalance_lab"] = {**self.run_info, "rng": rng}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        rng = checkpoint.get("imbalance_lab", {}).get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())
