"""LightningModule: one batch goes network -> logits -> loss; metrics per split."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn

from imbalance_lab.evaluation.metrics import binary_metrics, step_metrics


class ImbalanceClassifier(L.LightningModule):
    """Binary classifier producing one logit per row; label 1 is the minority class.

    ``threshold`` turns probabilities into labels for test metrics; it is 0.5 unless a tuned
    value chosen on validation data is set before testing.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        threshold: float = 0.5,
    ) -> None:
        super().__init__()
        self.net = net
        self.loss_fn = loss
        self.optimizer_factory = optimizer or torch.optim.AdamW
        self.threshold = threshold
        # Epochs trained, as state: it travels with the weights (back from spawned DDP workers,
        # into checkpoints), where the trainer's own counter does not.
        self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long))
        self.train_metrics = step_metrics().clone(prefix="train/")
        self.val_metrics = step_metrics(ranking=True).clone(prefix="val/")
        self._test_probs: list[torch.Tensor] = []
        self._test_targets: list[torch.Tensor] = []
        self.test_results: dict[str, Any] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss_fn(logits, y)
        self.train_metrics.update(logits.detach().sigmoid(), y.long())
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def on_train_epoch_end(self) -> None:
        self.epochs_done += 1
        self.log_dict(self.train_metrics.compute())
        self.train_metrics.reset()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val/loss", self.loss_fn(logits, y), on_epoch=True, batch_size=len(y))
        self.val_metrics.update(logits.sigmoid(), y.long())

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics.compute())
        self.val_metrics.reset()

    def predict_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        return self(batch[0]).sigmoid()

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        self._test_probs.append(self(x).sigmoid())
        self._test_targets.append(y)

    def on_test_epoch_end(self) -> None:
        # Every rank evaluates the whole test split (only training is sharded), so no gather.
        probs = torch.cat(self._test_probs).flatten()
        target = torch.cat(self._test_targets).flatten()
        self._test_probs.clear()
        self._test_targets.clear()
        metrics = binary_metrics(probs, target, self.threshold)
        self.test_results = {"probs": probs.cpu(), "target": target.cpu(), "metrics": metrics}
        self.log_dict({f"test/{k}": float(v) for k, v in metrics.items()}, sync_dist=False)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())
