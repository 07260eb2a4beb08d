"""The former home of the project's drop-in samplers, now :mod:`imbalance_lab.data.samplers`;
kept so that configs of earlier runs (``_target_: imbalance_lab.data.fast_samplers.X``) and
imports still resolve."""

from imbalance_lab.data.samplers import (
    SMOTEENN,
    AllKNN,
    EditedNearestNeighbours,
    NearMiss,
    NeighbourhoodCleaningRule,
    RepeatedEditedNearestNeighbours,
    SMOTETomek,
    TomekLinks,
)

__all__ = [
    "SMOTEENN",
    "AllKNN",
    "EditedNearestNeighbours",
    "NearMiss",
    "NeighbourhoodCleaningRule",
    "RepeatedEditedNearestNeighbours",
    "SMOTETomek",
    "TomekLinks",
]
