"""imbalance-lab: neural-network binary classifiers on class-imbalanced data, and the ways of
handling the imbalance compared side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__version__ = "0.1.0"
__all__ = ["load_model", "run", "sweep"]

# The functions below import their modules when called, so that `import imbalance_lab` (and
# train.py --help) stays instant.


def load_model(path: Any, dataset: str | None = None) -> Any:
    """A trained run's model, or a sweep's chosen configuration: see
    :func:`imbalance_lab.bundle.model.load_model`."""
    from imbalance_lab.bundle.model import load_model as _load

    return _load(path, dataset)


def run(overrides: Sequence[str] = ()) -> dict[str, Any]:
    """One run, as ``python train.py OVERRIDES``; returns its ``metrics.json`` as a dict (plus
    ``path``, its folder). See :func:`imbalance_lab.api.run`."""
    from imbalance_lab.api import run as _run

    return _run(overrides)


def sweep(params: Mapping[str, Any] | Sequence[Any], overrides: Sequence[str] = ()) -> Any:
    """A sweep, as ``python train.py -m ...``; returns its leaderboard as a pandas DataFrame.
    See :func:`imbalance_lab.api.sweep`."""
    from imbalance_lab.api import sweep as _sweep

    return _sweep(params, overrides)
