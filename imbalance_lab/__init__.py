"""imbalance-lab: neural-network binary classifiers on class-imbalanced data, and the ways of
handling the imbalance compared side by side."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["load_model"]


def load_model(path: Any, dataset: str | None = None) -> Any:
    """A trained run's model, or a sweep's chosen configuration: see
    :func:`imbalance_lab.bundle.model.load_model`."""
    # Imported here so that `import imbalance_lab` (and train.py --help) stays instant.
    from imbalance_lab.bundle.model import load_model as _load

    return _load(path, dataset)
