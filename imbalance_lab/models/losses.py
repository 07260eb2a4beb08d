"""Losses on logits for imbalanced binary classification."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from imbalance_lab.errors import ConfigError


class WeightedBCEWithLogitsLoss(nn.Module):
    """``BCEWithLogitsLoss(pos_weight=w)`` whose ``w`` can be ``"auto"``.

    ``auto`` resolves, through :meth:`fit_counts`, to ``n_negative / n_positive`` of the data
    the model actually trains on, i.e. after resampling. ``scale`` multiplies the resolved
    weight (a knob for hyperparameter search: 0.5 = half the inverse-frequency weight).
    """

    def __init__(self, pos_weight: float | str = "auto", scale: float = 1.0) -> None:
        super().__init__()
        if pos_weight != "auto" and not (isinstance(pos_weight, (int, float)) and pos_weight > 0):
            raise ConfigError(f"loss.pos_weight={pos_weight!r} must be 'auto' or a number > 0.")
        if not scale > 0:
            raise ConfigError(f"loss.scale={scale!r} must be a number > 0.")
        self.pos_weight_setting, self.scale = pos_weight, float(scale)
        value = 1.0 if pos_weight == "auto" else float(pos_weight)
        self.register_buffer("pos_weight", torch.tensor(value * self.scale))

    def fit_counts(self, n_negative: int, n_positive: int) -> None:
        """Resolve ``pos_weight: auto`` from the training class counts."""
        if self.pos_weight_setting == "auto":
            self.pos_weight.fill_(self.scale * n_negative / max(n_positive, 1))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=self.pos_weight)


class FocalLoss(nn.Module):
    """Sigmoid focal loss (Lin et al., 2017), mean over the batch.

    Written here because torchvision's ``sigmoid_focal_loss`` would pull in torchvision for
    six lines. ``alpha`` weighs positives (``1 - alpha`` negatives); ``None`` disables it.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | None = 0.75) -> None:
        super().__init__()
        if gamma < 0:
            raise ConfigError(f"loss.gamma={gamma} must be >= 0.")
        if alpha is not None and not 0 <= alpha <= 1:
            raise ConfigError(f"loss.alpha={alpha} must lie in [0, 1] or be null.")
        self.gamma, self.alpha = gamma, alpha

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p = torch.sigmoid(logits)
        p_t = p * target + (1 - p) * (1 - target)
        loss = ce * (1 - p_t) ** self.gamma
        if self.alpha is not None:
            loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
        return loss.mean()
