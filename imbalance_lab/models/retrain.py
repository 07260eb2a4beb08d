"""Classifier re-training (``retrain=crt``): the two-stage scheme of Kang et al. 2020,
"Decoupling Representation and Classifier for Long-Tailed Recognition" (ICLR).

Stage 1 is the run's training as configured (its loss, sampler, early stopping and best
checkpoint): it learns the representation. Stage 2 freezes every layer below the last one,
re-initialises the last linear layer and re-trains it alone on class-balanced batches (each
row drawn with probability 1 / (2 x its class count), with replacement, by the same
:class:`~imbalance_lab.data.batches.TensorBatches` as ``data.batch_sampling=balanced``), so the
classifier is fitted as if the classes were equally frequent while the features keep what
instance-balanced training learnt. The frozen layers run once, in eval mode (dropout off): their
outputs are computed once and the last layer trains on them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from imbalance_lab.data.batches import TensorBatches
from imbalance_lab.errors import ConfigError


def last_linear(net: nn.Module, probe: torch.Tensor) -> nn.Linear:
    """The ``nn.Linear`` layer whose one output is ``net``'s logit, checked on ``probe`` rows
    ``(N, in_features)`` in eval mode.

    Raises ``ConfigError`` naming ``retrain`` when ``net`` has no such layer (TabM's k heads).
    """
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    layer = linears[-1] if linears else None
    out = None
    if layer is not None and layer.out_features == 1:
        seen: list[torch.Tensor] = []
        hook = layer.register_forward_hook(lambda _m, _i, o: seen.append(o.detach()))
        was_training = net.training
        try:
            net.eval()
            with torch.no_grad():
                logits = net(probe)
        finally:
            hook.remove()
            net.train(was_training)
        out = seen[-1].reshape(logits.shape) if seen else None
        if out is not None and torch.allclose(out, logits):
            return layer
    name = type(net).__name__
    raise ConfigError(
        f"retrain=crt re-trains a network's last linear layer, and the logit of {name} is not "
        "the output of one (model=mlp and cnn have one); use retrain=none with this model."
    )


def _inputs_of(net: nn.Module, layer: nn.Linear, X: torch.Tensor, batch: int) -> torch.Tensor:
    """What ``layer`` receives when ``net`` runs on ``X`` in eval mode, ``(N, in_features)``."""
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda _m, i, _o: seen.append(i[0].detach()))
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            for start in range(0, len(X), batch):
                net(X[start : start + batch])
    finally:
        hook.remove()
        net.train(was_training)
    return torch.cat(seen)


def retrain_classifier(
    net: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int = 10,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    batch_size: int = 64,
    reinit: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Stage 2 of cRT on ``net`` in place: its last linear layer (re-initialised when
    ``reinit``) trained alone for ``epochs`` epochs with AdamW (``lr``, ``weight_decay``) and
    binary cross-entropy, on class-balanced batches of ``batch_size`` rows drawn from ``X``
    ``(N, in_features)`` float32 and ``y`` ``(N,)`` in {0, 1}; every other parameter is left
    as it was.

    Returns what stage 2 saw: ``epochs``, ``steps`` and ``positive_share`` (the fraction of
    positive rows over all its batches, ~0.5). Raises ``ConfigError`` (see :func:`last_linear`).
    """
    first = next(net.parameters())
    X_t = torch.from_numpy(np.ascontiguousarray(X)).to(first.device, first.dtype)
    layer = last_linear(net, X_t[:8])
    features = _inputs_of(net, layer, X_t, max(batch_size, 4096))
    target = torch.as_tensor(np.asarray(y), dtype=first.dtype, device=first.device)
    if reinit:
        torch.manual_seed(seed)
        layer.reset_parameters()
    optimizer = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    batches = TensorBatches(features, target, batch_size, shuffle=True, seed=seed, balanced=True)
    steps, positives, rows = 0, 0.0, 0
    layer.train()
    for _ in range(epochs):
        for xb, yb in batches:
            loss = loss_fn(layer(xb).squeeze(-1), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps, positives, rows = steps + 1, positives + float(yb.sum()), rows + len(yb)
    return {"epochs": epochs, "steps": steps, "positive_share": positives / max(rows, 1)}
