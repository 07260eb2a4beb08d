"""Edited nearest neighbours (Wilson, 1972) and the samplers built on it: RENN, AllKNN
(Tomek, 1976) and the neighbourhood cleaning rule (Laurikkala, 2001).

imblearn's ``EditedNearestNeighbours`` searches the neighbours of every row of a cleaned class
among all rows. :class:`EditedNearestNeighbours` settles most rows of a large class without that
search and searches the rest with scikit-learn's own answers; on a GPU every search runs there
instead (``NeighbourSearch``).
"""

from __future__ import annotations

import logging
from numbers import Integral
from typing import Any

import numpy as np
from imblearn import under_sampling as _under
from joblib import Parallel, delayed
from scipy.sparse import issparse
from scipy.stats import mode
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import _safe_indexing
from threadpoolctl import threadpool_limits

from imbalance_lab.data.neighbors import NeighbourSearch, _openmp_threads

log = logging.getLogger(__name__)

# Classes of at least this many rows are cleaned with ENN's bounds (smaller: one full search).
ENN_BOUND_MIN_ROWS = 20_000
# Rows per k-means bucket for those bounds, and the buckets searched, in turn, to tighten the
# bounds still open: each round searches the rows the round before left open, in more buckets.
ENN_BUCKET_ROWS = 5_000
ENN_PROBE_BUCKETS = (8, 32)


def _kth_distances(X: np.ndarray, k: int, tasks: list[tuple[np.ndarray, np.ndarray]]) -> list:
    """For each (query rows, pool rows) task, each query row's distance to its k-th nearest row
    of the pool (inf where the pool has fewer than k rows).

    The tasks run side by side on scikit-learn's OpenMP thread count, each search on one
    thread: every small search would otherwise start an OpenMP team and meet its barriers, which
    cost more than the search itself when other work shares the cores (10x on a loaded 2-core
    machine, measured on the k-means buckets of 200k rows)."""

    def kth(query: np.ndarray, pool: np.ndarray) -> np.ndarray:
        if len(pool) < k:
            return np.full(len(query), np.inf)
        with threadpool_limits(limits=1, user_api="openmp"):
            nn = NearestNeighbors(n_neighbors=k).fit(X[pool])
            return nn.kneighbors(X[query])[0][:, k - 1]

    return Parallel(n_jobs=_openmp_threads(), prefer="threads")(
        delayed(kth)(query, pool) for query, pool in tasks
    )


def _bucket_kth_distance(X: np.ndarray, k: int) -> tuple[np.ndarray, Any]:
    """Per row, the distance to its k-th nearest row (itself first) within its k-means bucket:
    an upper bound of the same distance among all rows (inf in buckets of fewer rows). Also
    returns the partition (k-means, bucket per row, rows per bucket)."""
    from sklearn.cluster import MiniBatchKMeans

    n_buckets = max(1, len(X) // ENN_BUCKET_ROWS)
    kmeans = MiniBatchKMeans(n_clusters=n_buckets, n_init=1, batch_size=4096, random_state=0)
    with threadpool_limits(limits=1, user_api="openmp"):  # small steps: see _kth_distances
        buckets = kmeans.fit_predict(X)
    members = np.split(np.argsort(buckets, kind="stable"), np.cumsum(np.bincount(buckets))[:-1])
    out = np.full(len(X), np.inf)
    for rows, kth in zip(members, _kth_distances(X, k, [(m, m) for m in members]), strict=True):
        out[rows] = kth
    return out, (kmeans, buckets, members)


def _refine_kth_distance(
    X: np.ndarray, k: int, rows: np.ndarray, bound: np.ndarray, partition: Any, probes: int
) -> np.ndarray:
    """Tighter bounds for ``rows``: the k-th nearest row within their bucket and the
    ``probes - 1`` buckets whose centres lie nearest to its centre."""
    kmeans, buckets, members = partition
    centres = kmeans.cluster_centers_
    probes = min(probes, len(centres))
    nearest = NearestNeighbors(n_neighbors=probes).fit(centres).kneighbors(centres)[1]
    by_bucket = buckets[rows]
    tasks = [
        (rows[by_bucket == b], np.concatenate([members[c] for c in nearest[b]]))
        for b in np.unique(by_bucket)
    ]
    out = bound.copy()
    for (query, _), kth in zip(tasks, _kth_distances(X, k, tasks), strict=True):
        out[query] = np.minimum(out[query], kth)
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
    the distance to their nearest row. Rows the bound leaves open are bounded again among their
    bucket and the 7, then the 31, buckets whose centres lie nearest. Only rows where the bound
    does not settle it, by a margin well above rounding, are searched in full, with
    scikit-learn's own answers (see ``_kneighbors_like_full_query``), so the output is
    imblearn's exactly. Every removed row is among them: the bounds only find rows closer than
    the nearest row of another class, never show that there are none. On the
    benchmark's 1M rows x 30 isotropic features with 1% minority, 4.3% of the majority is
    searched in full, 2.0% removed (docs/benchmark.md).

    Besides imblearn's attributes, ``searched_rows_`` maps each cleaned class to the number of
    its rows whose neighbours were searched among all rows (the class size without bounds).
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
        self.searched_rows_: dict[Any, int] = {}
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
        self.searched_rows_[target] = len(candidates)
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
        bound, partition = _bucket_kth_distance(X, k1)
        undecided = np.flatnonzero(d_other**2 <= bound[class_rows] ** 2 + margin)
        for probes in ENN_PROBE_BUCKETS:
            log.info("ENN: %d rows open, searching %d buckets", len(undecided), probes)
            open_rows = class_rows[undecided]
            bound = _refine_kth_distance(X, k1, open_rows, bound, partition, probes)
            undecided = undecided[d_other[undecided] ** 2 <= bound[open_rows] ** 2 + margin]
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
