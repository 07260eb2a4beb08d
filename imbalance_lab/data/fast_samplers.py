"""Drop-in versions of imblearn's samplers that finish at a million rows, or search on the GPU.

Each returns exactly what imblearn returns (same rows, same order, same ``sample_indices_``);
they only avoid work whose result is thrown away, or move it to the GPU:

* imblearn's ``TomekLinks`` searches the nearest neighbour of *every* row among all rows, an
  all-vs-all search (quadratic in rows for 30 features, hours at 1M rows). A Tomek link joins
  rows of two different classes, so one endpoint of every link lies outside the largest class
  (the minority, for binary data). :class:`TomekLinks` searches neighbours for those rows only,
  then for the rows they point at, and applies imblearn's test to the rows whose neighbour is
  known: every other row cannot be a link.
* imblearn's ``NearMiss(version=2)`` asks for the distance of every majority row to *every*
  minority row, sorted: a majority x minority float64 matrix twice over (158 GB at 1M rows with
  1% minority). It only needs the mean distance to the k farthest minority rows.
  :class:`NearMiss` computes that per chunk of majority rows, with the same floating-point
  operations as scikit-learn's neighbour search, so the selected rows are identical.
* imblearn's ``EditedNearestNeighbours`` searches the neighbours of every row of a cleaned
  class among all rows. :class:`EditedNearestNeighbours` settles most rows of a large class
  without that search (a row whose k + 1 nearest certainly share its class is kept; k-means
  buckets give the bound) and searches the rest; RENN, AllKNN, the neighbourhood cleaning rule
  and SMOTEENN run on it. On a GPU every search runs there instead (``NeighbourSearch``).
  SMOTETomek runs on :class:`TomekLinks`.

:class:`imbalance_lab.data.neighbors.TorchNearestNeighbors` is a neighbours object for
imblearn's ``k_neighbors`` / ``n_neighbors`` parameters that searches on the GPU.

Identity is by construction, not by luck, down to ties and rounding. TomekLinks' searches are
scikit-learn's own estimator fitted on the same data, queried for fewer rows under the parallel
strategy scikit-learn picks for imblearn's full query (it decides how exact ties between
duplicate rows break), with the query rows in BLAS blocks of the same shape as in the full query
(BLAS rounds differently at block edges). NearMiss-2 repeats scikit-learn's distance arithmetic
operation for operation: the same BLAS calls on the same blocks, the same row norms, the same
float32 rounding for float32 data. tests/test_fast_samplers.py checks both against imblearn.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from numbers import Integral
from typing import Any

import numpy as np
import torch
from imblearn import combine as _combine
from imblearn import under_sampling as _under
from imblearn.under_sampling import NearMiss as _ImblearnNearMiss
from imblearn.under_sampling import TomekLinks as _ImblearnTomekLinks
from scipy.linalg.blas import dgemm
from scipy.sparse import issparse
from scipy.stats import mode
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import _safe_indexing
from threadpoolctl import threadpool_limits

from imbalance_lab.data.neighbors import (
    NeighbourSearch,
    _chunk_size,
    _kneighbors_like_full_query,
    _openmp_threads,
    _uses_argkmin,
)

log = logging.getLogger(__name__)

# Rows x minority-rows distances held at once by NearMiss-2 (float64): 2**21 = 16 MiB a buffer.
_NEARMISS_CHUNK_ELEMENTS = 2**21


class TomekLinks(_ImblearnTomekLinks):
    """imblearn's ``TomekLinks``, searching neighbours only where a link can be.

    Same parameters, attributes and output as :class:`imblearn.under_sampling.TomekLinks`. The
    neighbour search runs for the rows outside the largest class (1% of the rows on data with a
    1% minority) and then for the rows those point at, instead of for every row.
    """

    def _fit_resample(self, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
        nn = NearestNeighbors(n_neighbors=2, n_jobs=self.n_jobs)
        nn.fit(X)
        n = len(y)
        # imblearn's own run queries every row with ``kneighbors(X)``; the query is then the fit
        # data itself, which the brute-force fallback (dense data with scikit-learn's Cython
        # reduction disabled) treats specially. Only there is the full search kept.
        if not (nn._fit_method in ("kd_tree", "ball_tree") or issparse(X) or _uses_argkmin(nn, X)):
            return super()._fit_resample(X, y)

        classes, counts = np.unique(y, return_counts=True)
        largest = classes[np.argmax(counts)]
        # Every link joins two classes, so at least one endpoint lies outside the largest one.
        seeds = np.flatnonzero(y != largest)
        nn_index = np.full(n, -1, dtype=np.intp)
        nn_index[seeds] = _kneighbors_like_full_query(nn, X, seeds, 2)[:, 1]
        # The rows the seeds point at across classes: the other endpoint of every possible link.
        targets = nn_index[seeds]
        targets = np.setdiff1d(targets[y[targets] != y[seeds]], seeds)
        nn_index[targets] = _kneighbors_like_full_query(nn, X, targets, 2)[:, 1]

        links = self.is_tomek_known(y, nn_index, self.sampling_strategy_)
        self.sample_indices_ = np.flatnonzero(np.logical_not(links))
        return _safe_indexing(X, self.sample_indices_), _safe_indexing(y, self.sample_indices_)

    @staticmethod
    def is_tomek_known(y: np.ndarray, nn_index: np.ndarray, class_type: Any) -> np.ndarray:
        """imblearn's ``is_tomek``, vectorised, where ``nn_index`` is -1 for rows not searched.

        A row is a link when its class is cleaned, its nearest neighbour has another class and
        that neighbour's nearest neighbour is the row. Rows not searched cannot be links.
        """
        links = np.zeros(len(y), dtype=bool)
        cleaned = [c for c in np.unique(y) if c in class_type]
        rows = np.flatnonzero((nn_index >= 0) & np.isin(y, cleaned))
        partner = nn_index[rows]
        links[rows] = (y[partner] != y[rows]) & (nn_index[partner] == rows)
        return links


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


# ----------------------------------------------------------------------------- the ENN family
# Classes of at least this many rows are cleaned with ENN's bounds (smaller: one full search).
ENN_BOUND_MIN_ROWS = 20_000
# Rows per k-means bucket for those bounds, and buckets searched to tighten an open bound.
ENN_BUCKET_ROWS = 5_000
ENN_PROBE_BUCKETS = 8


def _bucket_kth_distance(X: np.ndarray, k: int, n_jobs: int | None) -> tuple[np.ndarray, Any]:
    """Per row, the distance to its k-th nearest row (itself first) within its k-means bucket:
    an upper bound of the same distance among all rows (inf in buckets of fewer rows). Also
    returns the partition (k-means, bucket per row, rows per bucket)."""
    from sklearn.cluster import MiniBatchKMeans

    n_buckets = max(1, len(X) // ENN_BUCKET_ROWS)
    kmeans = MiniBatchKMeans(n_clusters=n_buckets, n_init=1, batch_size=4096, random_state=0)
    buckets = kmeans.fit_predict(X)
    members = np.split(np.argsort(buckets, kind="stable"), np.cumsum(np.bincount(buckets))[:-1])
    out = np.full(len(X), np.inf)
    for rows in members:
        if len(rows) >= k:
            nn = NearestNeighbors(n_neighbors=k, n_jobs=n_jobs).fit(X[rows])
            out[rows] = nn.kneighbors(X[rows])[0][:, k - 1]
    return out, (kmeans, buckets, members)


def _refine_kth_distance(
    X: np.ndarray, k: int, n_jobs: int | None, rows: np.ndarray, bound: np.ndarray, partition: Any
) -> np.ndarray:
    """Tighter bounds for ``rows``: the k-th nearest row within their bucket and the
    ENN_PROBE_BUCKETS - 1 buckets whose centres lie nearest to its centre."""
    kmeans, buckets, members = partition
    centres = kmeans.cluster_centers_
    probes = min(ENN_PROBE_BUCKETS, len(centres))
    nearest = NearestNeighbors(n_neighbors=probes).fit(centres).kneighbors(centres)[1]
    out = bound.copy()
    by_bucket = buckets[rows]
    for b in np.unique(by_bucket):
        query = rows[by_bucket == b]
        pool = np.concatenate([members[c] for c in nearest[b]])
        if len(pool) >= k:
            nn = NearestNeighbors(n_neighbors=k, n_jobs=n_jobs).fit(X[pool])
            out[query] = np.minimum(out[query], nn.kneighbors(X[query])[0][:, k - 1])
    return out


# Edited nearest neighbours asks every row of a cleaned class for its neighbours among all rows:
# an all-vs-all search, quadratic in rows (about 17 s at 100k rows x 30 features on 2 cores,
# so ~30 min at 1M). Here NeighbourSearch runs it on the GPU when torch sees one; on CPU, ENN
# bounds what it can and searches the rest in pieces with a progress bar and exactly
# scikit-learn's answers (tests/test_fast_samplers.py checks each class against imblearn).


class EditedNearestNeighbours(_under.EditedNearestNeighbours):
    """imblearn's ``EditedNearestNeighbours``, searching with :class:`NeighbourSearch`, and on
    CPU only where a row can be removed.

    A row of a cleaned class is kept when its k + 1 nearest rows (itself included) all share
    its class. When the other classes are few (the majority class of imbalanced data), that is
    certain for most rows without their neighbour search: if k + 1 rows lie closer to a row
    than the nearest row of another class, no other class can be among its nearest. Rows are
    cut into k-means buckets; the (k + 1)-th nearest row within its bucket bounds a row's true
    (k + 1)-th neighbour distance from above, and one search against the other classes gives
    the distance to their nearest row. Only rows where the bound does not settle it, by a
    margin well above rounding, are searched in full, with scikit-learn's own answers (see
    ``_kneighbors_like_full_query``), so the output is imblearn's exactly. On 1M rows x 30
    features with 1% minority, ~8% of rows still need the full search (benchmark).
    """

    def _validate_estimator(self) -> None:
        if isinstance(self.n_neighbors, Integral):  # imblearn: k + 1, the row itself included
            self.nn_ = NeighbourSearch(n_neighbors=self.n_neighbors + 1, n_jobs=self.n_jobs)
        else:
            super()._validate_estimator()

    def _fit_resample(self, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
        # imblearn's loop, with the search per class in _kept.
        self._validate_estimator()
        self.nn_.fit(X)
        idx_under = np.empty((0,), dtype=int)
        for target_class in np.unique(y):
            class_rows = np.flatnonzero(y == target_class)
            if target_class in self.sampling_strategy_:
                class_rows = class_rows[self._kept(X, y, target_class, class_rows)]
            idx_under = np.concatenate((idx_under, class_rows), axis=0)
        self.sample_indices_ = idx_under
        return _safe_indexing(X, idx_under), _safe_indexing(y, idx_under)

    def _kept(self, X: Any, y: np.ndarray, target: Any, class_rows: np.ndarray) -> np.ndarray:
        """Which rows of ``class_rows`` (all of class ``target``) ENN keeps."""
        X_class = _safe_indexing(X, class_rows)
        k1 = self.nn_.n_neighbors
        candidates = self._undecided(X, y, target, class_rows, X_class, k1)
        if candidates is None:  # search every row, as imblearn does
            candidates = np.arange(len(class_rows))
            neighbours = self.nn_.kneighbors(X_class, return_distance=False)
        else:
            neighbours = self.nn_.kneighbors_rows(X_class, candidates, k1)
        keep = np.ones(len(class_rows), dtype=bool)
        if len(candidates) == 0:
            return keep
        labels = y[neighbours[:, 1:]]
        if self.kind_sel == "mode":
            labels, _ = mode(labels, axis=1, keepdims=False)
            keep[candidates] = np.ravel(labels) == target
        else:
            keep[candidates] = np.all(labels == target, axis=1)
        return keep

    def _undecided(
        self, X: Any, y: np.ndarray, target: Any, class_rows: np.ndarray, X_class: Any, k1: int
    ) -> np.ndarray | None:
        """Positions in ``class_rows`` whose neighbours must be searched; None: all of them."""
        other = np.flatnonzero(y != target)
        search = self.nn_
        if (
            not isinstance(search, NeighbourSearch)
            or not isinstance(search.nn_, NearestNeighbors)  # the GPU searches everything fast
            or search.nn_._fit_method != "brute"  # tree searches (few features) are not quadratic
            or issparse(X)
            or len(class_rows) < ENN_BOUND_MIN_ROWS
            or not 0 < len(other) <= len(y) // 4
        ):
            return None
        X = np.asarray(X)
        log.info("ENN: bounding the neighbours of %d rows of class %s", len(class_rows), target)
        nearest_other = NearestNeighbors(n_neighbors=1, n_jobs=self.n_jobs).fit(X[other])
        d_other = nearest_other.kneighbors(X_class)[0][:, 0]
        # Rounding of scikit-learn's distances (|x|^2 - 2x.y + |y|^2 in float64) is ~1e-13 of
        # the squared norms; the margin is far above it.
        margin = 1e-6 * (1.0 + float(np.max(np.einsum("ij,ij->i", X, X))))
        bound, partition = _bucket_kth_distance(X, k1, self.n_jobs)
        still_open = class_rows[d_other**2 <= bound[class_rows] ** 2 + margin]
        bound = _refine_kth_distance(X, k1, self.n_jobs, still_open, bound, partition)
        undecided = np.flatnonzero(d_other**2 <= bound[class_rows] ** 2 + margin)
        log.info("ENN: %d of %d rows need a neighbour search", len(undecided), len(class_rows))
        return undecided


class _RunsOwnENN:
    """For imblearn samplers that clean with an ``EditedNearestNeighbours`` they keep as
    ``enn_``: that step becomes this module's."""

    def _validate_estimator(self) -> None:
        super()._validate_estimator()  # type: ignore[misc]
        self.enn_ = EditedNearestNeighbours(
            sampling_strategy=self.sampling_strategy,
            n_neighbors=self.n_neighbors,
            kind_sel=self.kind_sel,
            n_jobs=self.n_jobs,
        )


class RepeatedEditedNearestNeighbours(_RunsOwnENN, _under.RepeatedEditedNearestNeighbours):
    """imblearn's ``RepeatedEditedNearestNeighbours`` on this module's ENN."""


class AllKNN(_RunsOwnENN, _under.AllKNN):
    """imblearn's ``AllKNN`` on this module's ENN (it sets the ENN's ``n_neighbors`` to 1, 2,
    ... k in turn)."""


class NeighbourhoodCleaningRule(_under.NeighbourhoodCleaningRule):
    """imblearn's ``NeighbourhoodCleaningRule``; its ENN step (the quadratic one) searches with
    :class:`NeighbourSearch`."""

    def _validate_estimator(self) -> None:
        super()._validate_estimator()
        if self.edited_nearest_neighbours is None:
            self.edited_nearest_neighbours_ = EditedNearestNeighbours(
                sampling_strategy=self.sampling_strategy,
                n_neighbors=self.n_neighbors,
                kind_sel="mode",
                n_jobs=self.n_jobs,
            )


class SMOTEENN(_combine.SMOTEENN):
    """imblearn's ``SMOTEENN``; unless given ``enn``, its ENN searches with
    :class:`NeighbourSearch`."""

    def _validate_estimator(self) -> None:
        super()._validate_estimator()
        if self.enn is None:
            self.enn_ = EditedNearestNeighbours(sampling_strategy="all", n_jobs=self.n_jobs)


class SMOTETomek(_combine.SMOTETomek):
    """imblearn's ``SMOTETomek``; unless given ``tomek``, its Tomek links are found by this
    module's :class:`TomekLinks` (searching from one class only: half the rows after SMOTE)."""

    def _validate_estimator(self) -> None:
        super()._validate_estimator()
        if self.tomek is None:
            self.tomek_ = TomekLinks(sampling_strategy="all", n_jobs=self.n_jobs)
