"""Drop-in versions of imblearn's samplers that finish at a million rows, or search on the GPU.

Each returns exactly what imblearn returns (same rows, same order, same ``sample_indices_``);
they only avoid work whose result is thrown away, or move it to the GPU. One module per family,
as imblearn lays out its own:

* :mod:`.tomek`: :class:`TomekLinks`, searching from the rows outside the largest class only.
* :mod:`.nearmiss`: :class:`NearMiss`, version 2 in bounded memory.
* :mod:`.enn`: :class:`EditedNearestNeighbours`, settling most rows of a large class without
  their neighbour search; :class:`RepeatedEditedNearestNeighbours`, :class:`AllKNN` and
  :class:`NeighbourhoodCleaningRule` run on it.
* :mod:`.combine`: :class:`SMOTEENN` and :class:`SMOTETomek` on those cleaners.

:class:`imbalance_lab.data.neighbors.TorchNearestNeighbors` is a neighbours object for
imblearn's ``k_neighbors`` / ``n_neighbors`` parameters that searches on the GPU.

Identity is by construction, not by luck, down to ties and rounding (each module says how);
tests/test_fast_samplers.py checks every class against imblearn.
"""

from imbalance_lab.data.samplers.combine import SMOTEENN, SMOTETomek
from imbalance_lab.data.samplers.enn import (
    AllKNN,
    EditedNearestNeighbours,
    NeighbourhoodCleaningRule,
    RepeatedEditedNearestNeighbours,
)
from imbalance_lab.data.samplers.nearmiss import NearMiss
from imbalance_lab.data.samplers.tomek import TomekLinks

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
