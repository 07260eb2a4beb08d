"""Training rows as batches: :class:`TensorBatches` slices whole tensors, and
``data.batch_size=auto`` sizes the batch to the training rows."""

from __future__ import annotations

from collections.abc import Iterator

import torch

Batch = tuple[torch.Tensor, torch.Tensor]

# Rows per index_select when TensorBatches shuffles (see TensorBatches.__iter__).
GATHER_ROWS = 1 << 15
# data.batch_size=auto: 64 (the lab's batch on its small tables, whose results it keeps) until
# an epoch would exceed AUTO_STEPS optimizer steps, then the power of two that keeps it under,
# up to AUTO_MAX_BATCH. At 64 rows a step, 1M rows of a 1:500 table after SMOTE were 18.7k steps
# per epoch (14.5 min for 2 epochs); at 2048, 585.
AUTO_STEPS = 1000
AUTO_MAX_BATCH = 4096
# With a batch size given, an epoch longer than this many steps earns a note in the log.
MANY_STEPS = 10_000


def auto_batch_size(rows: int) -> int:
    """The training batch size ``data.batch_size=auto`` takes for ``rows`` training rows."""
    size = 64
    while size < AUTO_MAX_BATCH and rows > size * AUTO_STEPS:
        size *= 2
    return size


class TensorBatches:
    """Yields ``(x, y)`` batches by slicing whole tensors.

    Written by hand because ``DataLoader(TensorDataset)`` collates one row at a time, which
    costs ~7x the throughput of slicing on small tabular models. Shuffling draws from a
    generator seeded by the run's seed, so batches are reproducible.

    ``balanced=True`` draws each epoch's rows with replacement, each class with probability 1/2
    (the online alternative to oversampling). Under distributed training every rank draws the
    same order from the shared seed and takes every ``world_size``-th row of it, so the ranks
    see disjoint shards of one epoch.

    ``batches_per_fetch=K`` hands over K consecutive batches at once, as a list of ``(x, y)``
    pairs (the last fetch may hold fewer): ``ImbalanceClassifier`` takes one optimizer step per
    batch in it, so Lightning's per-step loop overhead is paid once per K steps. ``device``
    moves the tensors there once, so batches are gathered where the model trains.
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        balanced: bool = False,
        rank: int = 0,
        world_size: int = 1,
        batches_per_fetch: int = 1,
        device: torch.device | str | None = None,
    ) -> None:
        if device is not None:
            X, y = X.to(device), y.to(device)
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.batches_per_fetch = max(1, int(batches_per_fetch))
        self.shuffle = shuffle
        self.balanced = balanced
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        if balanced:
            counts = torch.bincount(y.long(), minlength=2).clamp(min=1).double()
            self.weights = (1.0 / counts)[y.long()].cpu()

    def _order(self) -> torch.Tensor | None:
        n = len(self.y)
        if self.balanced:
            order = torch.multinomial(self.weights, n, replacement=True, generator=self.generator)
        elif self.shuffle:
            # int32 where it fits: measured ~2x faster to draw and ~10 % faster to gather by
            # than int64 at 1M rows.
            dtype = torch.int32 if n < 2**31 else torch.int64
            order = torch.randperm(n, generator=self.generator, dtype=dtype)
        else:
            order = None if self.world_size == 1 else torch.arange(n)
        if order is not None and self.world_size > 1:
            # Every rank must run the same number of steps (each step's gradient all-reduce
            # needs all ranks), so pad the epoch by wrapping around, as DistributedSampler does.
            pad = -len(order) % self.world_size
            order = torch.cat([order, order[:pad]])[self.rank :: self.world_size]
        # The order is drawn on the CPU (one generator, whatever the device) and moved once.
        return order if order is None else order.to(self.y.device)

    def __len__(self) -> int:
        n = -(-len(self.y) // self.world_size)
        batches = -(-n // self.batch_size)
        return -(-batches // self.batches_per_fetch)

    def __iter__(self) -> Iterator[Batch | list[Batch]]:
        order = self._order()
        n = len(self.y) if order is None else len(order)
        # Rows are gathered GATHER_ROWS at a time (whole batches), whatever the fetch size: one
        # call per batch took ~2x as long at batch 1024, and gathers of 100k+ rows ~30 % longer
        # (fresh memory each time; both measured on CPU at 1M rows x 30).
        per_gather = max(1, min(self.batches_per_fetch, GATHER_ROWS // self.batch_size))
        rows = per_gather * self.batch_size
        fetch: list[Batch] = []
        for start in range(0, n, rows):
            if order is None:
                x, y = self.X[start : start + rows], self.y[start : start + rows]
            else:
                idx = order[start : start + rows]
                x, y = self.X.index_select(0, idx), self.y.index_select(0, idx)
            for batch in zip(x.split(self.batch_size), y.split(self.batch_size), strict=True):
                if self.batches_per_fetch == 1:
                    yield batch
                    continue
                fetch.append(batch)
                if len(fetch) == self.batches_per_fetch:
                    yield fetch
                    fetch = []
        if fetch:
            yield fetch
