"""Tomek links (Tomek, 1976) found from the rows that can be in one.

imblearn's ``TomekLinks`` searches the nearest neighbour of *every* row among all rows, an
all-vs-all search (quadratic in rows for 30 features, hours at 1M rows). A Tomek link joins rows
of two different classes, so one endpoint of every link lies outside the largest class (the
minority, for binary data). :class:`TomekLinks` searches neighbours for those rows only, then for
the rows they point at, and applies imblearn's test to the rows whose neighbour is known: every
other row cannot be a link. The searches are scikit-learn's own estimator fitted on the same
data, queried for fewer rows under the parallel strategy scikit-learn picks for imblearn's full
query (it decides how exact ties between duplicate rows break), with the query rows in BLAS
blocks of the same shape as in the full query (BLAS rounds differently at block edges).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from imblearn.under_sampling import TomekLinks as _ImblearnTomekLinks
from scipy.sparse import issparse
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import _safe_indexing

from imbalance_lab.data.neighbors import _kneighbors_like_full_query, _uses_argkmin


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
