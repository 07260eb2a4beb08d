"""Plain ``nn.Module`` networks that map a batch of inputs to one logit per row."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from imbalance_lab.errors import ConfigError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


class MLP(nn.Module):
    """``in_features -> hidden_sizes... -> 1`` with an activation and dropout after each layer."""

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int] = (64, 32),
        dropout: float = 0.1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ConfigError(
                f"model.net.activation={activation!r} is unknown; use one of {sorted(ACTIVATIONS)}."
            )
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.flatten(1)).squeeze(-1)
