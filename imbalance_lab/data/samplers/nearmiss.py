"""NearMiss (Mani and Zhang, 2003); version 2 in bounded memory.

imblearn's ``NearMiss(version=2)`` asks for the distance of every majority row to *every*
minority row, sorted: a majority x minority float64 matrix twice over (158 GB at 1M rows with 1%
minority). It only needs the mean distance to the k farthest minority rows. :class:`NearMiss`
computes that per chunk of majority rows, repeating scikit-learn's distance arithmetic operation
for operation (the same BLAS calls on the same blocks, the same row norms, the same float32
rounding for float32 data), so the selected rows are identical.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np
import torch
from imblearn.under_sampling import NearMiss as _ImblearnNearMiss
from scipy.linalg.blas import dgemm
from scipy.sparse import issparse
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import _safe_indexing
from threadpoolctl import threadpool_limits

from imbalance_lab.data.neighbors import _chunk_size, _openmp_threads, _uses_argkmin

# Rows x minority-rows distances held at once by NearMiss-2 (float64): 2**21 = 16 MiB a buffer.
_NEARMISS_CHUNK_ELEMENTS = 2**21


class NearMiss(_ImblearnNearMiss):
    """imblearn's ``NearMiss``; version 2 runs in bounded memory, versions 1 and 3 are imblearn's.

    Same parameters, attributes and output as :class:`imblearn.under_sampling.NearMiss`.
    NearMiss-2 keeps the majority rows whose mean distance to their ``n_neighbors`` *farthest*
    minority rows is smallest; imblearn sorts the distances to all minority rows for every
    majority row at once, which does not fit in memory at a million rows. Here the k largest
    distances are taken per chunk of majority rows.
    """

    def _fit_resample(self, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
        if self.version != 2:
            return super()._fit_resample(X, y)
        self._validate_estimator()

        idx_under = np.empty((0,), dtype=int)
        target_stats = Counter(y)
        class_minority = min(target_stats, key=target_stats.get)
        minority_class_indices = np.flatnonzero(y == class_minority)
        X_minority = _safe_indexing(X, minority_class_indices)
        self.nn_.fit(X_minority)

        for target_class in np.unique(y):
            if target_class in self.sampling_strategy_:
                n_samples = self.sampling_strategy_[target_class]
                X_class = _safe_indexing(X, np.flatnonzero(y == target_class))
                dist_sum = self._farthest_distance_sums(X_class, X_minority)
                # imblearn: sorted(range(n), key=dist.__getitem__), a stable ascending sort.
                index_target_class = np.argsort(dist_sum, kind="stable")[:n_samples]
                if len(dist_sum) < n_samples:
                    warnings.warn(
                        "The number of the samples to be selected is larger"
                        " than the number of samples available. The"
                        " balancing ratio cannot be ensure and all samples"
                        " will be returned.",
                        stacklevel=2,
                    )
            else:
                index_target_class = slice(None)
            idx_under = np.concatenate(
                (idx_under, np.flatnonzero(y == target_class)[index_target_class]), axis=0
            )

        self.sample_indices_ = idx_under
        return _safe_indexing(X, idx_under), _safe_indexing(y, idx_under)

    def _farthest_distance_sums(self, X_class: Any, X_minority: Any) -> np.ndarray:
        """For each row of ``X_class``, the sum of its distances to its ``nn_.n_neighbors``
        farthest minority rows, ascending, as ``np.sum(dist_vec[:, -k:], axis=1)`` in imblearn,
        where ``dist_vec`` holds the sorted distances to all minority rows."""
        nn = self.nn_
        n_min = nn.n_samples_fit_
        k = min(nn.n_neighbors, n_min)
        n_rows = X_class.shape[0]
        out = np.empty(n_rows, dtype=np.float64)

        plain_euclidean = (
            type(nn) is NearestNeighbors
            and nn.effective_metric_ == "euclidean"
            and not nn.effective_metric_params_
            and not issparse(X_class)
        )
        if plain_euclidean and _uses_argkmin(nn, X_class):
            kernel = _BruteEuclidean(X_class, nn._fit_X)
        elif plain_euclidean and nn._fit_method in ("kd_tree", "ball_tree"):
            kernel = _TreeEuclidean(X_class, X_minority)
        else:
            kernel = None

        # Chunks of whole row blocks of scikit-learn's reduction.
        block = kernel.x_block if isinstance(kernel, _BruteEuclidean) else 1
        chunk = max(1, _NEARMISS_CHUNK_ELEMENTS // (n_min * block)) * block
        # One BLAS thread, as scikit-learn's own reduction: threaded dgemm calls on small chunks
        # spin against torch's threads on a loaded machine.
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, n_rows, chunk):
                stop = min(start + chunk, n_rows)
                out[start:stop] = self._chunk_sums(kernel, X_class, start, stop, n_min, k)
        return out

    def _chunk_sums(
        self, kernel: Any, X_class: Any, start: int, stop: int, n_min: int, k: int
    ) -> np.ndarray:
        if kernel is None:  # any other neighbours object: its own search, chunk by chunk
            rows = np.arange(start, stop)
            dist, _ = self.nn_.kneighbors(_safe_indexing(X_class, rows), n_neighbors=n_min)
            farthest = dist[:, -k:]
        else:
            # The k largest of a row's distances: the kernels return a value monotone in the
            # distance, so select on it and finish only k values per row.
            values = torch.from_numpy(kernel.reduced(start, stop))
            top = torch.topk(values, k, dim=1, sorted=False).values.numpy()
            farthest = np.sort(kernel.finish(top), axis=1)
        return np.sum(farthest, axis=1)


class _BruteEuclidean:
    """Distances exactly as scikit-learn's ``EuclideanArgKmin`` computes them.

    ``sqrt(max((|x|^2 + (-2 x.y)) + |y|^2, 0))``: the dot products from BLAS ``dgemm`` on
    float64 (float32 input upcast), called block by block with the shapes and layout of
    scikit-learn's ``_gemm`` calls (BLAS rounds differently at block edges), and the squared
    norms from scikit-learn's own row-norm routine. For float32 input the squared distance is
    rounded to float32 before the square root and the distance after it, as scikit-learn does.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray) -> None:
        from sklearn.metrics._pairwise_distances_reduction import sqeuclidean_row_norms

        X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
        self.X_sq = sqeuclidean_row_norms(X, _openmp_threads())
        self.Y_sq = sqeuclidean_row_norms(Y, _openmp_threads())
        self.X, self.Y64 = X, np.asarray(Y, dtype=np.float64)
        self.x_block = min(len(X), _chunk_size())
        self.y_block = min(len(Y), _chunk_size())

    def reduced(self, start: int, stop: int) -> np.ndarray:
        """Squared distances (before the clip at 0) of rows ``start:stop``; ``start`` must be a
        multiple of ``x_block``."""
        n_y = len(self.Y64)
        out = np.empty((stop - start, n_y))
        for xs in range(start, stop, self.x_block):
            xe = min(xs + self.x_block, stop)
            X64 = np.ascontiguousarray(self.X[xs:xe], dtype=np.float64)
            for ys in range(0, n_y, self.y_block):
                ye = min(ys + self.y_block, n_y)
                # Fortran view: C^T = -2 * Y_c @ X_c^T, as scikit-learn's row-major _gemm.
                middle = dgemm(-2.0, self.Y64[ys:ye].T, X64.T, trans_a=1, trans_b=0)
                out[xs - start : xe - start, ys:ye] = middle.T
        out += self.X_sq[start:stop, None]
        out += self.Y_sq[None, :]
        return out

    def finish(self, values: np.ndarray) -> np.ndarray:
        values = np.maximum(values, 0.0)
        if self.X.dtype == np.float32:
            # DistanceMetric32's rdist-to-dist takes and returns float32: round, sqrt, round.
            # Stored in a float64 array, so the sums run in float64.
            rounded = np.sqrt(values.astype(np.float32).astype(np.float64)).astype(np.float32)
            return rounded.astype(np.float64)
        return np.sqrt(values)


class _TreeEuclidean:
    """Distances exactly as scikit-learn's KD/Ball trees compute them: the squared differences
    summed feature by feature in float64, then a square root."""

    def __init__(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.X = np.asarray(X, dtype=np.float64)
        self.Y = np.asarray(Y, dtype=np.float64)

    def reduced(self, start: int, stop: int) -> np.ndarray:
        X = self.X[start:stop]
        acc = np.zeros((X.shape[0], self.Y.shape[0]))
        diff = np.empty_like(acc)
        for f in range(X.shape[1]):
            np.subtract(X[:, f, None], self.Y[None, :, f], out=diff)
            diff *= diff
            acc += diff
        return acc

    @staticmethod
    def finish(values: np.ndarray) -> np.ndarray:
        return np.sqrt(values)
