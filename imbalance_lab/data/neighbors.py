"""Nearest-neighbour searches for imblearn's samplers: on the GPU when one is present, in
pieces with a progress bar on CPU, and with scikit-learn's own answers.

* :class:`TorchNearestNeighbors`: matmul + topk on torch; the GPU search.
* :class:`NeighbourSearch`: the object the project's ENN-family samplers search with
  (``imbalance_lab.data.samplers``): torch on a GPU when there is one, otherwise
  scikit-learn's ``NearestNeighbors`` queried in pieces (a progress bar for large queries) that
  return exactly what one whole query returns.
* ``_kneighbors_like_full_query``: a subset or a piece of a query, answered as the whole
  query answers it, down to ties and rounding.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import sklearn
import torch
from scipy.sparse import csr_matrix, issparse
from sklearn.base import BaseEstimator
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import _safe_indexing, check_array

# Queries at least this large show a progress bar (on a terminal, or with progress=True).
PROGRESS_MIN_QUERIES = 50_000
# Query rows per piece of NeighbourSearch's CPU search (rounded to scikit-learn's blocks).
PIECE_ROWS = 16384


def _openmp_threads() -> int:
    try:
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        return int(_openmp_effective_n_threads())
    except ImportError:  # pragma: no cover - private helper moved
        return os.cpu_count() or 1


def _chunk_size() -> int:
    """Rows per block in scikit-learn's pairwise-distance reductions."""
    return int(sklearn.get_config().get("pairwise_dist_chunk_size", 256))


def _argkmin_strategy(n_queries: int, n_fit: int) -> str:
    """The parallel strategy scikit-learn's ArgKmin picks for ``n_queries`` x ``n_fit`` rows.

    It decides the order in which candidate neighbours reach each row's heap, hence which of two
    equally distant rows (duplicates) wins. Querying a subset must reuse imblearn's choice.
    """
    strategy = sklearn.get_config().get("pairwise_dist_parallel_strategy", "auto")
    if strategy != "auto":
        return strategy
    if n_fit < n_queries or 4 * _chunk_size() * _openmp_threads() < n_queries:
        return "parallel_on_X"
    return "parallel_on_Y"


def _uses_argkmin(nn: NearestNeighbors, X: Any) -> bool:
    """Whether ``nn.kneighbors(X)`` runs scikit-learn's Cython ArgKmin reduction."""
    from sklearn.metrics._pairwise_distances_reduction import ArgKmin

    if nn._fit_method != "brute" or issparse(X):
        return False
    X = np.ascontiguousarray(X[:1])  # kneighbors makes its query C-contiguous
    return bool(ArgKmin.is_usable_for(X, nn._fit_X, nn.effective_metric_))


def _kneighbors_like_full_query(
    nn: NearestNeighbors, X: Any, rows: np.ndarray, n_neighbors: int
) -> np.ndarray:
    """The rows ``rows`` of ``nn.kneighbors(X)`` (indices), searching for those rows only.

    Tree searches and scikit-learn's brute-force fallback treat each query row on its own.
    Its Cython ArgKmin reduction does as well, provided that (1) it runs under the parallel
    strategy of the full query, which sets the order in which equally distant rows reach a
    row's heap; (2) each row's dot products come from BLAS calls of the same shape as in the
    full query, since BLAS kernels round differently at block edges: the full query cuts X
    into blocks of ``chunk_size`` rows and a last partial block. Rows of full blocks are queried
    here in full blocks (padded), rows of the last block by querying that block as it is.
    """
    if len(rows) == 0:
        return np.empty((0, n_neighbors), dtype=np.intp)
    n_full = X.shape[0]
    if not _uses_argkmin(nn, X):
        return nn.kneighbors(_safe_indexing(X, rows), n_neighbors, return_distance=False)

    from sklearn.metrics._pairwise_distances_reduction import ArgKmin

    def argkmin(query: np.ndarray) -> np.ndarray:
        return ArgKmin.compute(
            X=np.ascontiguousarray(query),
            Y=nn._fit_X,
            k=n_neighbors,
            metric=nn.effective_metric_,
            metric_kwargs=nn.effective_metric_params_,
            strategy=_argkmin_strategy(n_full, nn.n_samples_fit_),
            return_distance=False,
        )

    block = _chunk_size()
    if n_full <= block:  # a single block: the full query is the cheap one
        return argkmin(X)[rows]
    last_start = n_full - n_full % block  # == n_full when there is no partial block
    out = np.empty((len(rows), n_neighbors), dtype=np.intp)
    in_full = rows < last_start
    if in_full.any():
        picked = rows[in_full]
        padded = np.concatenate([picked, np.full(-len(picked) % block, picked[0])])
        out[in_full] = argkmin(X[padded])[: len(picked)]
    if not in_full.all():
        out[~in_full] = argkmin(X[last_start:])[rows[~in_full] - last_start]
    return out


class TorchNearestNeighbors(BaseEstimator):
    """k nearest neighbours by matrix product and ``torch.topk``, on the GPU when there is one.

    A scikit-learn-like ``fit`` / ``kneighbors`` / ``kneighbors_graph`` object (Euclidean
    distance only) that imblearn accepts wherever it takes a neighbours estimator, e.g.
    ``SMOTE(k_neighbors=TorchNearestNeighbors(n_neighbors=6))`` (SMOTE asks for one more: the row
    itself) or ``NearMiss(n_neighbors=TorchNearestNeighbors(3))``. Queries run in batches of
    rows so that a batch's distance matrix stays within ``batch_elements`` values.

    Neighbours match scikit-learn's except where distances tie or differ by rounding: squared
    distances are ``|x|^2 - 2 x.y + |y|^2`` in ``dtype`` (float64 by default; float32 is faster
    on GPUs and rounds at ~1e-7 relative), and ``topk`` orders equal distances its own way.
    """

    def __init__(
        self,
        n_neighbors: int = 5,
        *,
        device: str | None = None,
        dtype: str = "float64",
        batch_elements: int = 2**25,
        n_jobs: int | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.device = device
        self.dtype = dtype
        self.batch_elements = batch_elements
        self.n_jobs = n_jobs  # accepted for imblearn, which sets it; unused

    def _device(self) -> torch.device:
        if self.device is not None:
            return torch.device(self.device)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def _tensor(self, X: Any) -> torch.Tensor:
        X = check_array(X, dtype=[np.float64, np.float32])
        return torch.as_tensor(X, device=self._device()).to(getattr(torch, self.dtype))

    def fit(self, X: Any, y: Any = None) -> TorchNearestNeighbors:
        self._fit_X = self._tensor(X)
        self._fit_sq = (self._fit_X * self._fit_X).sum(dim=1)
        self.n_samples_fit_, self.n_features_in_ = self._fit_X.shape
        return self

    def kneighbors(
        self, X: Any = None, n_neighbors: int | None = None, return_distance: bool = True
    ) -> Any:
        """As :meth:`sklearn.neighbors.NearestNeighbors.kneighbors`; ``X=None`` queries the fit
        rows, each without itself."""
        k = self.n_neighbors if n_neighbors is None else int(n_neighbors)
        query_is_train = X is None
        Q = self._fit_X if query_is_train else self._tensor(X)
        search = k + 1 if query_is_train else k
        if search > self.n_samples_fit_:
            raise ValueError(
                f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {search}, "
                f"n_samples_fit = {self.n_samples_fit_}, n_samples = {len(Q)}"
            )
        rows = max(1, self.batch_elements // max(self.n_samples_fit_, 1))
        dists, indices = [], []
        for start in range(0, len(Q), rows):
            q = Q[start : start + rows]
            d2 = (q * q).sum(dim=1, keepdim=True) - 2.0 * (q @ self._fit_X.T)
            d2 += self._fit_sq[None, :]
            vals, idx = torch.topk(d2.clamp_min_(0), search, dim=1, largest=False, sorted=True)
            if query_is_train:  # drop the row itself, or the first if duplicates hid it
                own = idx == torch.arange(start, start + len(q), device=idx.device)[:, None]
                own[~own.any(dim=1), 0] = True
                keep = ~own
                vals, idx = vals[keep].view(len(q), k), idx[keep].view(len(q), k)
            dists.append(vals.sqrt().cpu())
            indices.append(idx.cpu())
        ind = torch.cat(indices).numpy().astype(np.intp)
        if not return_distance:
            return ind
        return torch.cat(dists).numpy().astype(np.float64), ind

    def kneighbors_graph(
        self, X: Any = None, n_neighbors: int | None = None, mode: str = "connectivity"
    ) -> csr_matrix:
        """As :meth:`sklearn.neighbors.NearestNeighbors.kneighbors_graph`."""
        k = self.n_neighbors if n_neighbors is None else int(n_neighbors)
        if mode == "connectivity":
            ind = self.kneighbors(X, k, return_distance=False)
            data = np.ones(ind.size)
        elif mode == "distance":
            dist, ind = self.kneighbors(X, k, return_distance=True)
            data = dist.ravel()
        else:
            raise ValueError(f'mode must be "connectivity" or "distance", got {mode!r}')
        n_queries = ind.shape[0]
        indptr = np.arange(0, n_queries * k + 1, k)
        return csr_matrix((data, ind.ravel(), indptr), shape=(n_queries, self.n_samples_fit_))


class NeighbourSearch(BaseEstimator):
    """The neighbours object of the project's ENN-family samplers.

    ``device="auto"`` searches with :class:`TorchNearestNeighbors` on the GPU when torch sees
    one (the all-vs-all search becomes batched matrix products and top-k, the work GPUs are
    built for; not measured here), and with scikit-learn's ``NearestNeighbors`` otherwise
    (``"sklearn"``), where
    the answers are exactly scikit-learn's: a large query runs in pieces of whole distance
    blocks under the parallel strategy of the whole query, so every row meets the same
    arithmetic and the same tie order as in one call. Any other value is a torch device for
    :class:`TorchNearestNeighbors` (``"cuda:1"``, or ``"cpu"``). ``progress`` shows a bar for
    queries of at least ``PROGRESS_MIN_QUERIES`` rows on scikit-learn's search: ``"auto"`` when
    stderr is a terminal, ``True`` always, ``False`` never.
    """

    def __init__(
        self,
        n_neighbors: int = 5,
        *,
        device: str = "auto",
        progress: bool | str = "auto",
        piece_rows: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.device = device
        self.progress = progress
        self.piece_rows = piece_rows
        self.n_jobs = n_jobs

    def resolved_device(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "sklearn"
        return str(self.device)

    def fit(self, X: Any, y: Any = None) -> NeighbourSearch:
        device = self.resolved_device()
        if device == "sklearn":
            self.nn_ = NearestNeighbors(n_neighbors=self.n_neighbors, n_jobs=self.n_jobs)
        else:
            # 2**27 float64 distances a query batch (1 GiB): few, large matrix products.
            self.nn_ = TorchNearestNeighbors(self.n_neighbors, device=device, batch_elements=2**27)
        self.nn_.fit(X)
        self.n_samples_fit_ = self.nn_.n_samples_fit_
        self.n_features_in_ = self.nn_.n_features_in_
        return self

    def _show_progress(self, n_queries: int) -> bool:
        if self.progress == "auto":
            return n_queries >= PROGRESS_MIN_QUERIES and sys.stderr.isatty()
        return bool(self.progress) and n_queries >= PROGRESS_MIN_QUERIES

    def kneighbors(
        self, X: Any = None, n_neighbors: int | None = None, return_distance: bool = True
    ) -> Any:
        """As :meth:`sklearn.neighbors.NearestNeighbors.kneighbors`."""
        k = self.n_neighbors if n_neighbors is None else int(n_neighbors)
        pieces = isinstance(self.nn_, NearestNeighbors) and X is not None and not return_distance
        if not pieces or X.shape[0] <= (self.piece_rows or PIECE_ROWS):
            return self.nn_.kneighbors(X, k, return_distance=return_distance)
        return self.kneighbors_rows(X, np.arange(X.shape[0]), k)

    def kneighbors_rows(self, X: Any, rows: np.ndarray, n_neighbors: int) -> np.ndarray:
        """Rows ``rows`` of ``kneighbors(X, n_neighbors, return_distance=False)``, searched
        for those rows only, in pieces (with a progress bar), each answered as the whole query
        answers it (``_kneighbors_like_full_query``)."""
        if not isinstance(self.nn_, NearestNeighbors):
            return self.nn_.kneighbors(_safe_indexing(X, rows), n_neighbors, return_distance=False)
        # Pieces of whole blocks: scikit-learn's reduction cuts a query into blocks of
        # chunk_size rows, and a row's answer depends on nothing but its block.
        step = max(1, (self.piece_rows or PIECE_ROWS) // _chunk_size()) * _chunk_size()
        out = np.empty((len(rows), n_neighbors), dtype=np.intp)
        with _progress(self._show_progress(len(rows)), len(rows), n_neighbors) as advance:
            for start in range(0, len(rows), step):
                piece = rows[start : start + step]
                out[start : start + len(piece)] = _kneighbors_like_full_query(
                    self.nn_, X, piece, n_neighbors
                )
                advance(len(piece))
        return out

    def kneighbors_graph(
        self, X: Any = None, n_neighbors: int | None = None, mode: str = "connectivity"
    ) -> csr_matrix:
        """As :meth:`sklearn.neighbors.NearestNeighbors.kneighbors_graph`."""
        return self.nn_.kneighbors_graph(X, n_neighbors, mode)


@contextmanager
def _progress(show: bool, total: int, k: int) -> Iterator[Callable[[int], object]]:
    """A rich progress bar on stderr (or nothing); yields a function advancing it by rows."""
    if not show:
        yield lambda rows: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    with Progress(
        f"{k}-NN search (quadratic)",
        BarColumn(),
        "{task.completed:,}/{task.total:,} rows",
        TimeElapsedColumn(),
        "eta",
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("search", total=total)
        yield lambda rows: bar.advance(task, rows)
