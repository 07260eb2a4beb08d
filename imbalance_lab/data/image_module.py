"""The DataModule of image files: split the file list, resample the TRAINING rows by index,
and read the files in multi-worker DataLoaders.

Samplers never see pixels they could copy or blend: random over/under-sampling runs on the row
indices alone; the samplers that search neighbours (NearMiss, Tomek links, ENN, ...) run on a
stated feature space, each training image in grey at ``data.thumbnail_size`` squared, and
select rows by their ``sample_indices_``; the loader then reads the selected files. Samplers
that synthesise rows (SMOTE family, ADASYN, ClusterCentroids) are refused before any file is
read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, WeightedRandomSampler

from imbalance_lab.data.datamodule import ImbalanceDataModule
from imbalance_lab.data.image_augment import check_augment
from imbalance_lab.data.image_files import ImageFiles, thumbnails
from imbalance_lab.data.images import ImageIndex
from imbalance_lab.data.resampling import class_counts, resample
from imbalance_lab.data.splits import split_data
from imbalance_lab.errors import ConfigError

log = logging.getLogger(__name__)

# Samplers that pick training rows by chance alone: they see only the row indices.
_BY_INDEX = ("RandomOverSampler", "RandomUnderSampler")
# Rows per evaluation batch (no gradients: larger than training batches costs nothing).
_EVAL_BATCH = 256


def sampler_kind(sampler: Any) -> str:
    """``none``, ``index`` (random over/under-sampling) or ``thumbnails`` (a selection that
    searches neighbours); raises ``ConfigError`` for a sampler that synthesises rows."""
    if sampler is None:
        return "none"
    cls = type(sampler).__name__
    if cls == "FunctionSampler" and getattr(sampler, "func", None) is None:
        return "none"
    bases = {b.__name__ for b in type(sampler).__mro__}
    if bases & set(_BY_INDEX):
        return "index"
    selects = bases & {"BaseUnderSampler", "BaseCleaningSampler"}
    if selects and cls != "ClusterCentroids":
        return "thumbnails"
    raise ConfigError(
        f"sampler={cls} synthesises new rows by interpolating or averaging feature vectors; "
        "data=images reads each training image from its file and never holds the pixels in "
        "memory, so there is nothing meaningful to blend (a blend of two scans is no scan). "
        "Use sampler=random_over (repeats minority files), data.batch_sampling=balanced, "
        "loss=weighted_bce or loss=focal, or a selecting under-sampler (sampler=random_under, "
        "nearmiss, tomek, enn); for SMOTE on flattened pixels of small images, use data=digits."
    )


class ImageDataModule(ImbalanceDataModule):
    """:class:`ImbalanceDataModule` for image files: the same splits, counts and sampler
    settings, with the rows read from their files in DataLoaders.

    ``workers``: loader processes, ``auto`` = sized with the run's torch threads (half of them
    on CPU, the other half training; all but one when the model trains on a GPU).
    ``augment``: names of :data:`imbalance_lab.data.image_augment.AUGMENTATIONS`, training only.
    ``thumbnail_size``: side of the grey thumbnails neighbour-searching samplers run on.
    """

    def __init__(
        self,
        source: ImageIndex | Callable[[], ImageIndex],
        sampler: Any = None,
        augment: Any = (),
        workers: int | str = "auto",
        thumbnail_size: int = 16,
        **split_settings: Any,
    ) -> None:
        super().__init__(source, sampler, scaler="none", **split_settings)
        self.sampler_kind = sampler_kind(sampler)  # refused here, before any file is read
        self.augment = check_augment(augment)
        if workers != "auto" and not (isinstance(workers, int) and workers >= 0):
            raise ConfigError(f"data.workers={workers!r} must be auto or a whole number >= 0.")
        self.workers_setting = workers
        if not isinstance(thumbnail_size, int) or not 2 <= thumbnail_size <= 128:
            raise ConfigError(f"data.thumbnail_size={thumbnail_size!r} must be in 2..128.")
        self.thumbnail_size = thumbnail_size
        self.index: ImageIndex | None = None
        self._threads = 1
        self._threads_split = False  # torch threads lowered for the loader workers (once)
        self._generator = torch.Generator()

    @property
    def n_features(self) -> int:
        self.setup()
        return int(np.prod(self.image_shape))

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        index = self.source() if callable(self.source) else self.source
        self.index, self.name, self.image_shape = index, index.name, index.image_shape
        self._threads = torch.get_num_threads()  # the run's threads, set before setup
        rows = np.arange(len(index.paths))
        train, val, test = split_data(
            rows[:, None], index.y, self.val_size, self.test_size, self.seed,
            folds=self.folds, fold=self.fold, repeat=self.repeat,
        )  # fmt: skip
        train_rows, y_train = train[0][:, 0], train[1]
        self.counts["train_before"] = class_counts(y_train)
        self.train_original = (self._files(train_rows), y_train)
        if self.sampler_kind != "none":
            picked = self._resample(train_rows, y_train)
            train_rows, y_train = train_rows[picked], y_train[picked]
        self.counts["train"] = class_counts(y_train)
        self._choose_batch_size(len(y_train), len(val[1]))
        self.counts["val"], self.counts["test"] = class_counts(val[1]), class_counts(test[1])
        self.splits = {
            "train": (self._files(train_rows, self.augment), y_train),
            "val": (self._files(val[0][:, 0]), val[1]),
            "test": (self._files(test[0][:, 0]), test[1]),
        }
        log.info("class counts %s; images %s (C, H, W)", self.counts, list(self.image_shape))

    def _files(self, rows: np.ndarray, augment: tuple[str, ...] = ()) -> ImageFiles:
        assert self.index is not None
        paths = [self.index.paths[i] for i in rows]
        return ImageFiles(paths, self.index.y[rows], self.index.image_shape, augment)

    def _resample(self, rows: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Positions in ``rows`` the sampler keeps (repeats included), from its
        ``sample_indices_``; the features it sees are the row indices or thumbnails."""
        start = time.perf_counter()
        if self.sampler_kind == "index":
            X = rows[:, None].astype(np.float32)
        else:
            # Nothing trains yet: with workers=auto every thread but this one's decodes.
            auto = self.workers_setting == "auto"
            workers = self._threads - 1 if auto else int(self.workers_setting)
            X = thumbnails(self._files(rows), self.thumbnail_size, workers)
            log.info(
                "%s runs on %dx%d grey thumbnails of the %d training images",
                type(self.sampler).__name__, self.thumbnail_size, self.thumbnail_size, len(rows),
            )  # fmt: skip
        resample(self.sampler, X, y)
        self.resample_seconds = time.perf_counter() - start
        return np.asarray(self.sampler.sample_indices_)

    def _loader_workers(self, on_gpu: bool) -> int:
        if self.workers_setting != "auto":
            return int(self.workers_setting)
        # On CPU decoding and training share the run's threads; on a GPU the host only feeds
        # it, so all but one thread decode.
        workers = max(0, self._threads - 1 if on_gpu else self._threads // 2)
        if not self._threads_split:
            self._threads_split = True
            if not on_gpu and workers:
                torch.set_num_threads(max(1, self._threads - workers))
            log.info(
                "data.workers=auto: %d loader worker(s), %d torch thread(s) training",
                workers, torch.get_num_threads(),
            )  # fmt: skip
        return workers

    def _on_gpu(self) -> bool:
        return self.trainer is not None and self.trainer.strategy.root_device.type == "cuda"

    def _loader(self, split: str, train: bool) -> DataLoader:
        self.setup()
        files, _ = self.splits[split]
        on_gpu = self._on_gpu()
        workers = self._loader_workers(on_gpu)
        sampler = None
        if train:
            if self._train_generator_state is not None:  # resume: continue the saved order
                self._generator.set_state(self._train_generator_state)
                self._train_generator_state = None
            else:
                self._generator.manual_seed(self.seed)
            if self.batch_sampling == "balanced":  # each class drawn with probability 1/2
                y = torch.as_tensor(files.y).long()
                weights = (1.0 / torch.bincount(y, minlength=2).clamp(min=1).double())[y]
                sampler = WeightedRandomSampler(weights, len(y), generator=self._generator)
            else:
                sampler = RandomSampler(files, generator=self._generator)
        return DataLoader(
            files,
            batch_size=int(self.batch_size) if train else _EVAL_BATCH,
            sampler=sampler,
            num_workers=workers,
            pin_memory=on_gpu,
            persistent_workers=workers > 0,
            generator=self._generator if train else None,
        )

    def train_dataloader(self) -> DataLoader:  # type: ignore[override]
        return self._loader("train", train=True)

    def state_dict(self) -> dict[str, Any]:
        return {"train_generator": self._generator.get_state()}

    def val_dataloader(self) -> DataLoader:  # type: ignore[override]
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:  # type: ignore[override]
        return self._loader("test", train=False)

    @torch.no_grad()
    def predict_probs(self, net: nn.Module, X: Any) -> np.ndarray:
        """Probabilities of class 1 for the image rows ``X`` (an :class:`ImageFiles`), shape
        ``(rows,)``, read in order by a loader with this module's workers."""
        if not isinstance(X, ImageFiles):
            return super().predict_probs(net, X)
        first = next(net.parameters())
        was_training = net.training
        net.eval()
        plain = ImageFiles(X.paths, X.y.numpy(), X.image_shape)  # never augmented
        loader = DataLoader(
            plain, batch_size=_EVAL_BATCH, num_workers=self._loader_workers(self._on_gpu())
        )
        out = [torch.sigmoid(net(x.to(first.device, first.dtype))).float().cpu() for x, _ in loader]
        net.train(was_training)
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)
