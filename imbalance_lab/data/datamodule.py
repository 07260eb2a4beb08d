"""LightningDataModule: split -> impute, scale (fit on train) -> resample train only -> one-hot
categories -> batches."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import lightning as L
import numpy as np
import torch

from imbalance_lab.bundle.columns import RawSchema
from imbalance_lab.data.batches import MANY_STEPS, TensorBatches, auto_batch_size
from imbalance_lab.data.cache import cached_resample
from imbalance_lab.data.features import (
    MAX_CATEGORIES,
    SCALERS,
    FeatureTransform,
    check_max_categories,
)
from imbalance_lab.data.resampling import (
    adapt_sampler,
    check_category_codes,
    class_counts,
)
from imbalance_lab.data.sources import TabularData
from imbalance_lab.data.splits import check_split_settings, is_whole, split_data
from imbalance_lab.errors import ConfigError

log = logging.getLogger(__name__)

Split = tuple[np.ndarray, np.ndarray]


def _check_finite(data: TabularData) -> None:
    # NaNs are left for the train-fitted imputer when the data asks for one; inf never is.
    bad = np.isinf(data.X) if data.impute else ~np.isfinite(data.X)
    if bad.any():
        cols = np.flatnonzero(bad.any(axis=0))
        detail = ", ".join(f"{data.feature_names[c]} ({int(bad[:, c].sum())})" for c in cols[:10])
        raise ConfigError(
            f"data {data.name!r} holds NaN or infinite values in columns: {detail}. "
            "Clean the data or choose another data.name."
        )
    if len(np.unique(data.y)) < 2:
        raise ConfigError(
            f"data {data.name!r} holds a single class ({class_counts(data.y)}); a binary "
            "classifier needs both. Check the data settings."
        )


class ImbalanceDataModule(L.LightningDataModule):
    """Splits a source, fits the scaler on train, resamples the TRAIN split only.

    Validation and test keep the original class distribution; they are never resampled and are
    used to fit nothing but the decision threshold (validation only).
    Categorical code columns (``TabularData.categorical``) are imputed, never scaled, handed to
    the sampler as codes (SMOTE runs as SMOTENC) and one-hot encoded afterwards, in at most
    ``max_categories`` columns each (the rarest levels share one "other" column).
    ``resample_train=False`` keeps the sampler (adapted to the categories) for whoever resamples
    parts of the training split itself (``threshold=oof``: each inner training part), and
    leaves the training split as it is.
    """

    def __init__(
        self,
        source: TabularData | Callable[[], TabularData],
        sampler: Any = None,
        val_size: float = 0.2,
        test_size: float = 0.2,
        batch_size: int | str = 64,
        scaler: str = "standard",
        seed: int = 0,
        batch_sampling: str = "shuffle",
        folds: int | None = None,
        fold: int = 0,
        repeat: int = 0,
        cache_dir: str | None = None,
        batches_per_fetch: int = 1,
        on_device: bool | str = "auto",
        max_categories: int = MAX_CATEGORIES,
        resample_train: bool = True,
    ) -> None:
        super().__init__()
        self.resample_train = resample_train
        check_split_settings(val_size, test_size, folds, fold, repeat)
        if batch_size != "auto" and (not is_whole(batch_size) or batch_size < 1):
            raise ConfigError(
                f"data.batch_size={batch_size!r} must be auto or a whole number >= 1."
            )
        if scaler not in SCALERS:
            raise ConfigError(
                f"data.scaler={scaler!r} is unknown; use standard, minmax, quantile or none."
            )
        self.max_categories = check_max_categories(max_categories)
        self.source = source
        self.sampler = sampler
        self.val_size, self.test_size = val_size, test_size
        # "auto" until setup knows the training rows (see auto_batch_size).
        self.batch_size: int | str = batch_size
        self.scaler_kind = scaler
        self.seed = seed
        if batch_sampling not in ("shuffle", "balanced"):
            raise ConfigError(
                f"data.batch_sampling={batch_sampling!r} is unknown; use shuffle or balanced."
            )
        self.batch_sampling = batch_sampling
        if not isinstance(batches_per_fetch, int) or batches_per_fetch < 1:
            raise ConfigError(
                f"data.batches_per_fetch={batches_per_fetch!r} must be a whole number >= 1."
            )
        self.batches_per_fetch = batches_per_fetch
        if on_device not in (True, False, "auto"):
            raise ConfigError(f"data.on_device={on_device!r} is unknown; use true, false or auto.")
        self.on_device = on_device
        self.folds, self.fold, self.repeat = folds, fold, repeat
        self.splits: dict[str, Split] = {}
        self.train_original: Split | None = None
        self.counts: dict[str, dict[str, int]] = {}
        self.resample_seconds = 0.0
        self.resample_cached = False
        self.cache_dir = cache_dir
        self.n_dropped_features = 0
        # Categorical columns one-hot encoded with an "other" column: name -> (levels, kept).
        self.grouped_categories: dict[str, tuple[int, int]] = {}
        self.name = ""
        self.image_shape: tuple[int, ...] | None = None
        # The raw columns and the fitted features, kept so a model bundle can be written.
        self.schema: RawSchema | None = None
        self.features: FeatureTransform | None = None
        # Train (before resampling) and val as the samplers see them: threshold=oof re-splits
        # them into inner folds and resamples each inner training part.
        self.prepared: dict[str, Split] = {}
        # (categorical columns, their valid codes, their names) as the samplers see them.
        self._category_codes: tuple[Any, Any, list[str]] = ([], [], [])
        # The training batches and, on resume, the generator state they continue from.
        self._train_batches: TensorBatches | None = None
        self._train_generator_state: torch.Tensor | None = None

    @property
    def n_features(self) -> int:
        self.setup()
        return int(self.splits["train"][0].shape[1])

    def setup(self, stage: str | None = None) -> None:
        if self.splits:  # Lightning calls setup per stage; the work is done once.
            return
        data = self.source() if callable(self.source) else self.source
        _check_finite(data)
        self.name = data.name
        self.image_shape = data.image_shape
        train, val, test = split_data(
            data.X,
            data.y,
            self.val_size,
            self.test_size,
            self.seed,
            folds=self.folds,
            fold=self.fold,
            repeat=self.repeat,
        )
        features = FeatureTransform(
            train[0],
            self.scaler_kind,
            data.categorical,
            data.impute,
            drop_constant=data.image_shape is None,  # an image keeps every pixel
            max_categories=self.max_categories,
        )
        self.schema, self.features = RawSchema.of(data), features
        self.n_dropped_features = features.n_dropped
        if self.n_dropped_features:
            log.info("dropped %d features constant in the train split", self.n_dropped_features)
        for j, (levels, kept) in features.grouped.items():
            name = data.feature_names[features.cat[j]]
            self.grouped_categories[name] = (levels, kept)
            log.info(
                "categorical column %s: %d levels in train; the %d most frequent get a one-hot "
                "column each, the rest share one 'other' column (data.max_categories=%d)",
                name,
                levels,
                kept,
                self.max_categories,
            )
        X_train, y_train = features.prepare(train[0]), train[1]
        self.prepared = {"train": (X_train, y_train), "val": (features.prepare(val[0]), val[1])}
        self.counts["train_before"] = class_counts(y_train)
        # Kept to diagnose the model on the rows it learnt from, before resampling.
        self.train_original = (features.encode(X_train), y_train)
        if self.sampler is not None:
            # The sampler that runs is the one recorded (SMOTE -> SMOTENC on categories).
            self.sampler = adapt_sampler(
                self.sampler, features.sampler_categorical, X_train.shape[1]
            )
        names = [data.feature_names[c] for c in features.cat]
        self._category_codes = (features.sampler_categorical, features.valid_codes, names)
        if self.sampler is not None and self.resample_train:
            X_train, y_train, self.resample_seconds, self.resample_cached = self.resample(
                X_train, y_train
            )
        self.counts["train"] = class_counts(y_train)
        self._choose_batch_size(len(y_train), len(val[1]))
        self.counts["val"] = class_counts(val[1])
        self.counts["test"] = class_counts(test[1])
        self.splits = {
            "train": (features.encode(X_train), y_train),
            "val": (features.encode(self.prepared["val"][0]), val[1]),
            "test": (features(test[0]), test[1]),
        }
        log.info("class counts %s", self.counts)

    def resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, bool]:
        """The sampler applied to training rows ``X`` (``(n, d)``, as the sampler sees them:
        ``prepared``, categories as codes) and labels ``y`` (``(n,)``), through the resample
        cache; returns ``(X, y, seconds, cached)``.

        Raises ``ConfigError`` when the sampler synthesised category codes that do not exist
        (an interpolating sampler on categorical columns)."""
        res, cached = cached_resample(self.sampler, X, y, self.cache_dir)
        check_category_codes(self.sampler, res.X, *self._category_codes)
        return res.X, res.y, res.seconds, cached

    def _choose_batch_size(self, rows: int, val_rows: int) -> None:
        """Resolve ``data.batch_size=auto``, or say when a given size makes epochs very long."""
        auto = auto_batch_size(rows)
        if self.batch_size == "auto":
            self.batch_size = auto
            if auto > 64:
                log.info(
                    "data.batch_size=auto: %d for %s training rows (%s steps per epoch)",
                    auto,
                    f"{rows:,}",
                    f"{-(-rows // auto):,}",
                )
            return
        steps = -(-rows // int(self.batch_size))
        if steps > MANY_STEPS and auto > int(self.batch_size):
            log.warning(
                "an epoch is %s steps at data.batch_size=%d (%s training rows) plus %s "
                "validation batches; data.batch_size=auto would take %d rows a step (%s steps)",
                f"{steps:,}",
                self.batch_size,
                f"{rows:,}",
                f"{-(-val_rows // int(self.batch_size)):,}",
                auto,
                f"{-(-rows // auto):,}",
            )

    def _batches(self, split: str, shuffle: bool) -> TensorBatches:
        self.setup()
        X, y = self.splits[split]
        train = split == "train"
        device = None
        if self.trainer is not None:
            root = self.trainer.strategy.root_device
            if self.on_device is True or (self.on_device == "auto" and root.type != "cpu"):
                device = root
        # Evaluation runs whole on each rank; only training is sharded across ranks.
        trainer = self.trainer if train else None
        return TensorBatches(
            torch.from_numpy(X),
            torch.from_numpy(y.astype(np.float32)),
            int(self.batch_size),
            shuffle=shuffle,
            seed=self.seed,
            balanced=train and self.batch_sampling == "balanced",
            rank=trainer.global_rank if trainer else 0,
            world_size=trainer.world_size if trainer else 1,
            # Validation is fetched as training is (the model evaluates batch by batch);
            # the test loader stays one batch at a time for whoever iterates it by hand.
            batches_per_fetch=self.batches_per_fetch if split in ("train", "val") else 1,
            device=device,
        )

    def train_dataloader(self) -> TensorBatches:
        batches = self._batches("train", shuffle=True)
        if self._train_generator_state is not None:
            batches.generator.set_state(self._train_generator_state)
            self._train_generator_state = None
        self._train_batches = batches
        return batches

    def state_dict(self) -> dict[str, Any]:
        """The batch order's generator state, saved in checkpoints so a resumed run shuffles
        its next epochs as the uninterrupted run would have."""
        if self._train_batches is None:
            return {}
        return {"train_generator": self._train_batches.generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._train_generator_state = state_dict.get("train_generator")

    def predict_probs(self, net: torch.nn.Module, X: np.ndarray) -> np.ndarray:
        """Probabilities of class 1 for the rows ``X`` of a split, shape ``(rows,)``."""
        from imbalance_lab.models.networks import predict_probs

        return predict_probs(net, X)

    def val_dataloader(self) -> TensorBatches:
        return self._batches("val", shuffle=False)

    def test_dataloader(self) -> TensorBatches:
        return self._batches("test", shuffle=False)
