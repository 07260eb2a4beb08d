"""SMOTE followed by a cleaning step (Batista et al., 2003, 2004), on this package's cleaners."""

from __future__ import annotations

from imblearn import combine as _combine

from imbalance_lab.data.samplers.enn import EditedNearestNeighbours
from imbalance_lab.data.samplers.tomek import TomekLinks


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
