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


def effective_number_weights(counts: tuple[int, int], beta: float) -> tuple[float, float]:
    """Class-balanced weights ``(w_0, w_1)`` by effective number of samples (Cui et al., 2019,
    "Class-Balanced Loss Based on Effective Number of Samples", CVPR).

    ``w_c = (1 - beta) / (1 - beta ** n_c)``, normalised so that ``w_0 + w_1 = 2``. ``beta = 0``
    weighs both classes alike; ``beta -> 1`` tends to inverse class frequency.
    """
    n0, n1 = (max(int(n), 1) for n in counts)
    raw = [1.0 if beta == 0 else (1 - beta) / (1 - beta**n) for n in (n0, n1)]
    total = sum(raw)
    return 2 * raw[0] / total, 2 * raw[1] / total


def _check_beta(beta: float) -> None:
    if not 0 <= beta < 1:
        raise ConfigError(f"loss.beta={beta!r} must lie in [0, 1) (0.999 or 0.9999 are usual).")


class ClassBalancedBCEWithLogitsLoss(nn.Module):
    """Binary cross-entropy with class-balanced weights by effective number (Cui et al., 2019).

    The weights come from the class counts of the data the model trains on (after resampling),
    through :meth:`fit_counts`, as ``weighted_bce``'s ``auto``; see
    :func:`effective_number_weights`. ``pos_weight`` (``w_1 / w_0``) is what the run records.
    Input: logits and 0/1 targets of the same shape; output: the weighted mean.
    """

    def __init__(self, beta: float = 0.999) -> None:
        super().__init__()
        _check_beta(beta)
        self.beta = float(beta)
        self.register_buffer("class_weights", torch.ones(2))

    def fit_counts(self, n_negative: int, n_positive: int) -> None:
        """Set the class weights from the training class counts."""
        weights = effective_number_weights((n_negative, n_positive), self.beta)
        self.class_weights.copy_(torch.tensor(weights))

    @property
    def pos_weight(self) -> torch.Tensor:
        return self.class_weights[1] / self.class_weights[0]

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        w0, w1 = self.class_weights
        return F.binary_cross_entropy_with_logits(logits, target, weight=w0 + (w1 - w0) * target)


class DeferredReweightedBCEWithLogitsLoss(ClassBalancedBCEWithLogitsLoss):
    """Deferred re-weighting, DRW (Cao et al., 2019, "Learning Imbalanced Datasets with
    Label-Distribution-Aware Margin Loss", NeurIPS): plain cross-entropy for the first
    ``start_epoch`` epochs, so the features are learnt from the data as it is, then
    class-balanced weights (effective number, ``beta``) to move the decision boundary.

    The LightningModule tells the loss the epoch through :meth:`set_epoch` at the start of
    each training epoch (epochs counted from 0; a resumed run gets its own epoch back).
    """

    def __init__(self, start_epoch: int = 20, beta: float = 0.9999) -> None:
        super().__init__(beta)
        if not (isinstance(start_epoch, int) and start_epoch >= 0):
            raise ConfigError(f"loss.start_epoch={start_epoch!r} must be a whole number >= 0.")
        self.start_epoch = start_epoch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The training epoch about to run (from 0)."""
        self.epoch = int(epoch)

    @property
    def reweighting(self) -> bool:
        return self.epoch >= self.start_epoch

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not self.reweighting:
            return F.binary_cross_entropy_with_logits(logits, target)
        return super().forward(logits, target)


class LogitAdjustedBCEWithLogitsLoss(nn.Module):
    """Logit-adjusted cross-entropy (Menon et al., 2021, "Long-Tail Learning via Logit
    Adjustment", ICLR), for one logit per row.

    Training adds ``tau * log(pi_1 / pi_0)`` (the log prior odds of the training data, from
    :meth:`fit_counts`) to the logit before the cross-entropy; predictions use the logit
    without it. The network so learns log-odds shifted by ``tau * log(pi_0 / pi_1)`` towards
    the minority, i.e. the balanced-error-optimal boundary for ``tau = 1``: the decision
    boundary moves into the majority class. Input: logits and 0/1 targets of the same shape.
    """

    def __init__(self, tau: float = 1.0) -> None:
        super().__init__()
        if not tau >= 0:
            raise ConfigError(f"loss.tau={tau!r} must be a number >= 0 (1.0 in the paper).")
        self.tau = float(tau)
        self.register_buffer("log_prior_odds", torch.zeros(()))

    def fit_counts(self, n_negative: int, n_positive: int) -> None:
        """Set the prior odds from the training class counts."""
        odds = max(n_positive, 1) / max(n_negative, 1)
        self.log_prior_odds.fill_(float(torch.log(torch.tensor(odds))))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        adjusted = logits + self.tau * self.log_prior_odds
        return F.binary_cross_entropy_with_logits(adjusted, target)
