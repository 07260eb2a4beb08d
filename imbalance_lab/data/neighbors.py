"""A nearest-neighbour search on torch (matmul + topk), on the GPU when one is present.

Drop-in for the neighbour objects imbalanced-learn samplers accept (``k_neighbors`` /
``n_neighbors``): it gives the same neighbours as scikit-learn's brute force on CPU, so the
samplers' output stays the same, and moves the search to the device where there is one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator
from sklearn.utils import check_array


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
