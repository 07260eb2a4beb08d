"""The training loop: several batches per fetch step exactly like one batch per step."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import pytest
import torch

from imbalance_lab.data import TensorBatches
from imbalance_lab.errors import ConfigError
from imbalance_lab.models.module import ImbalanceClassifier
from imbalance_lab.objects import build_callbacks
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


@pytest.mark.parametrize("gather_rows", [64, 150, 1 << 15])
def test_gathers_of_any_size_give_the_same_batches(gather_rows: int, monkeypatch) -> None:
    import imbalance_lab.data.batches as batches

    X = torch.arange(1000, dtype=torch.float32)[:, None]
    y = (torch.arange(1000) % 10 == 0).float()
    expected = list(TensorBatches(X, y, 64, shuffle=True, seed=5))
    monkeypatch.setattr(batches, "GATHER_ROWS", gather_rows)
    for per_fetch in (1, 3):
        got = list(TensorBatches(X, y, 64, shuffle=True, seed=5, batches_per_fetch=per_fetch))
        if per_fetch == 1:
            flat = got
        else:
            assert [len(fetch) for fetch in got] == [3] * 5 + [1]
            flat = [batch for fetch in got for batch in fetch]
        assert len(flat) == len(expected) == 16
        for (xa, ya), (xb, yb) in zip(expected, flat, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    # Every row exactly once per epoch.
    assert torch.equal(torch.cat([xb for xb, _ in expected]).sort(0).values, X)


@pytest.mark.parametrize("rows", [160, 150])  # batches of equal size; a short last batch
def test_epoch_loss_and_metrics_cover_every_batch_of_every_fetch(rows: int) -> None:
    from torch import nn

    from imbalance_lab.evaluation.metrics import counts_to_metrics
    from imbalance_lab.models.module import ImbalanceClassifier
    from imbalance_lab.models.networks import MLP

    seen: list[tuple[float, int, torch.Tensor, torch.Tensor]] = []

    class Recording(nn.BCEWithLogitsLoss):
        def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            loss = super().forward(logits, target)
            seen.append((float(loss), len(target), logits.detach() > 0, target.bool()))
            return loss

    torch.manual_seed(0)
    X = torch.randn(rows, 4)
    y = (X[:, 0] + 0.5 * torch.randn(rows) > 0.8).float()
    module = ImbalanceClassifier(MLP(4, hidden_sizes=(8,), dropout=0.0), Recording())
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(module, TensorBatches(X, y, 32, shuffle=True, batches_per_fetch=3))
    assert sum(n for _, n, _, _ in seen) == rows and len(seen) == 5
    mean_loss = sum(loss * n for loss, n, _, _ in seen) / rows
    logged = trainer.callback_metrics
    assert float(logged["train/loss"]) == pytest.approx(mean_loss, rel=1e-5)
    pred = torch.cat([p for _, _, p, _ in seen])
    true = torch.cat([t for _, _, _, t in seen])
    expected = counts_to_metrics(
        tp=int((pred & true).sum()),
        fp=int((pred & ~true).sum()),
        tn=int((~pred & ~true).sum()),
        fn=int((~pred & true).sum()),
    )
    for name in ("acc", "precision", "recall", "f1"):
        assert float(logged[f"train/{name}"]) == pytest.approx(float(expected[name]), abs=1e-6)


class _PerBatchValidation(ImbalanceClassifier):
    """Validation as the module did it before fetches: ``self.log`` per batch, Lightning's mean."""

    def validation_step(self, batch, _):
        for x, y in [batch] if isinstance(batch[0], torch.Tensor) else batch:
            logits = self(x)
            self.log("val/loss", self.loss_fn(logits, y), on_epoch=True, batch_size=len(y))
            self.val_metrics.update(logits.sigmoid(), y.long())

    def on_validation_epoch_end(self):
        self.log_dict(self.val_metrics.compute())
        self.val_metrics.reset()


class _EpochMetrics(L.Callback):
    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_validation_end(self, trainer, module) -> None:
        if not trainer.sanity_checking:
            metrics = trainer.callback_metrics
            self.epochs.append({k: float(v) for k, v in metrics.items() if k.startswith("val/")})


@pytest.mark.parametrize("monitor", ["val/pr_auc", "val/loss"])
def test_fetched_validation_keeps_metrics_best_epoch_and_weights(
    make_cfg, monkeypatch, monitor: str
) -> None:
    from imbalance_lab import pipeline

    mode = "min" if monitor == "val/loss" else "max"
    # 12 validation batches of 10 rows, in fetches of 5 (the last one short); early stopping
    # and the best checkpoint watch the validation metric.
    settings = (
        "trainer.max_epochs=8",
        "data.batch_size=10",
        "data.batches_per_fetch=5",
        f"callbacks.monitor={monitor}",
        f"callbacks.mode={mode}",
        "callbacks.early_stopping.patience=2",
    )

    def fit(module_class: type) -> tuple[Any, _EpochMetrics]:
        recorder = _EpochMetrics()
        monkeypatch.setattr(pipeline, "_callbacks", lambda cfg: [*build_callbacks(cfg), recorder])
        monkeypatch.setattr(pipeline, "ImbalanceClassifier", module_class)
        cfg = make_cfg(*settings)
        L.seed_everything(cfg.seed)
        dm = build_datamodule(cfg)
        dm.setup()
        return fit_network(cfg, dm), recorder

    before, before_epochs = fit(_PerBatchValidation)
    after, after_epochs = fit(ImbalanceClassifier)
    assert after_epochs.epochs == before_epochs.epochs  # every val metric of every epoch, exactly
    assert len(after_epochs.epochs) == after.epochs and "val/loss" in after_epochs.epochs[0]
    assert after.best_epoch == before.best_epoch
    assert after.epochs == before.epochs
    for a, b in zip(after.model.parameters(), before.model.parameters(), strict=True):
        assert torch.equal(a, b)
