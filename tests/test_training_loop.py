"""The training loop: several batches per fetch step exactly like one batch per step."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from imbalance_lab.data import TensorBatches
from imbalance_lab.errors import ConfigError
from imbalance_lab.pipeline import build_datamodule, fit_network


@pytest.mark.parametrize("balanced", [False, True])
def test_a_fetch_holds_the_batches_one_at_a_time_would(balanced: bool) -> None:
    X = torch.arange(1000, dtype=torch.float32)[:, None]
    y = (torch.arange(1000) % 10 == 0).float()
    single = list(TensorBatches(X, y, 64, shuffle=True, seed=3, balanced=balanced))
    fetched = TensorBatches(X, y, 64, shuffle=True, seed=3, balanced=balanced, batches_per_fetch=4)
    fetches = list(fetched)
    assert len(fetches) == len(fetched) == 4  # 16 batches of 64 (the last one 40 rows)
    flat = [batch for fetch in fetches for batch in fetch]
    assert len(flat) == len(single) == 16
    for (xa, ya), (xb, yb) in zip(single, flat, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def _fit(make_cfg, *overrides: str):
    cfg = make_cfg("callbacks=none", "trainer.max_epochs=2", *overrides)
    L.seed_everything(cfg.seed)  # weights and dropout draw from the global generator
    dm = build_datamodule(cfg)
    dm.setup()
    fitted = fit_network(cfg, dm)
    return fitted, dm


def test_batches_per_fetch_trains_the_same_weights(make_cfg) -> None:
    one, dm = _fit(make_cfg, "data.batches_per_fetch=1", "data.batch_size=32")
    many, _ = _fit(make_cfg, "data.batches_per_fetch=5", "data.batch_size=32")
    batches = -(-sum(dm.counts["train"].values()) // 32)
    # One optimizer step per batch, not per fetch.
    assert one.trainer.global_step == many.trainer.global_step == 2 * batches
    X_val = dm.splits["val"][0]
    assert np.array_equal(one.predict(X_val), many.predict(X_val))
    other, _ = _fit(make_cfg, "data.batches_per_fetch=5", "data.batch_size=32", "seed=1")
    assert not np.array_equal(one.predict(X_val), other.predict(X_val))


def test_trainer_gradient_clipping_is_applied(make_cfg, monkeypatch) -> None:
    from imbalance_lab.models.module import ImbalanceClassifier

    norms: list[float] = []

    def record(self, optimizer) -> None:
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))

    monkeypatch.setattr(ImbalanceClassifier, "on_before_optimizer_step", record, raising=False)
    _fit(make_cfg, "data.batches_per_fetch=3")
    unclipped = max(norms)
    norms.clear()
    _fit(make_cfg, "data.batches_per_fetch=3", f"+trainer.gradient_clip_val={unclipped / 10}")
    assert unclipped / 10 < max(norms) * 10  # it did train
    assert max(norms) <= unclipped / 10 * 1.0001


def test_gradient_accumulation_is_refused_with_the_setting_named(make_cfg) -> None:
    cfg = make_cfg("+trainer.accumulate_grad_batches=4")
    dm = build_datamodule(cfg)
    dm.setup()
    with pytest.raises(ConfigError, match=r"trainer\.accumulate_grad_batches"):
        fit_network(cfg, dm)


def test_bad_batches_per_fetch_names_the_setting(make_cfg) -> None:
    with pytest.raises(ConfigError, match=r"data\.batches_per_fetch"):
        build_datamodule(make_cfg("data.batches_per_fetch=0"))


def test_direct_steps_match_lightnings_wrapped_steps(make_cfg, monkeypatch) -> None:
    import lightning as L

    from imbalance_lab import pipeline

    class StepCounter(L.Callback):
        """Listens to a hook that only Lightning's wrapped optimizer step calls."""

        def __init__(self) -> None:
            self.calls = 0

        def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
            self.calls += 1

    direct, dm = _fit(make_cfg, "data.batch_size=32")
    assert direct.trainer.lightning_module._direct_steps
    counter = StepCounter()
    monkeypatch.setattr(pipeline, "_callbacks", lambda cfg: [counter])
    wrapped, _ = _fit(make_cfg, "data.batch_size=32")
    assert not wrapped.trainer.lightning_module._direct_steps
    assert counter.calls == wrapped.trainer.global_step == direct.trainer.global_step > 0
    X_val = dm.splits["val"][0]
    assert np.array_equal(direct.predict(X_val), wrapped.predict(X_val))
