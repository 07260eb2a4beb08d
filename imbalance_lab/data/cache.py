"""On-disk cache of resampled training sets, so a sweep over model settings resamples once.

The key hashes the training rows themselves (which pins the data, split, fold, scaling and
seed) together with the sampler's class and parameters, the imbalanced-learn version, and the
source of the project's own samplers.
Writes go to a temporary file renamed into place, so jobs starting at once never read a partial
file; two jobs computing the same entry both write identical content.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from imbalance_lab.data.resampling import ResampleResult, resample

log = logging.getLogger(__name__)


def _project_sources(module_name: str) -> list[Path]:
    """The source of ``module_name`` when it is one of this package's, and of the package's
    modules it imports names from, and theirs in turn; empty for other modules."""
    if module_name not in sys.modules or not module_name.startswith("imbalance_lab"):
        return []
    seen, todo = {module_name}, [module_name]
    while todo:  # e.g. samplers.combine -> samplers.enn -> neighbors
        for value in vars(sys.modules[todo.pop()]).values():
            name = getattr(value, "__module__", None) or getattr(value, "__name__", "")
            if name.startswith("imbalance_lab") and name in sys.modules and name not in seen:
                seen.add(name)
                todo.append(name)
    return [Path(inspect.getfile(sys.modules[n])) for n in sorted(seen)]


def cache_key(sampler: Any, X: np.ndarray, y: np.ndarray) -> str:
    """Hex digest identifying ``sampler.fit_resample(X, y)``."""
    import imblearn

    h = hashlib.blake2b(digest_size=20)
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(str(X.shape).encode())
    params = sampler.get_params(deep=True)
    # The project's own samplers: a change to their code, or to the project code they call
    # (samplers -> neighbors), must not read old results.
    for source in _project_sources(type(sampler).__module__):
        h.update(source.read_bytes())
    h.update(
        json.dumps(
            [type(sampler).__module__, type(sampler).__name__, imblearn.__version__, params],
            sort_keys=True,
            default=repr,
        ).encode()
    )
    return h.hexdigest()


def cached_resample(
    sampler: Any, X: np.ndarray, y: np.ndarray, cache_dir: str | Path | None
) -> tuple[ResampleResult, bool]:
    """``resample`` through the cache in ``cache_dir`` (None = no cache); returns (result, hit)."""
    identity = type(sampler).__name__ == "FunctionSampler" and sampler.func is None
    if cache_dir is None or identity:  # nothing worth storing for sampler=none
        return resample(sampler, X, y), False
    directory = Path(cache_dir)
    path = directory / f"{cache_key(sampler, X, y)}.npz"
    if path.exists():
        with np.load(path) as f:
            log.info("resampled training set read from cache %s", path)
            return ResampleResult(f["X"], f["y"], float(f["seconds"])), True
    result = resample(sampler, X, y)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, X=result.X, y=result.y, seconds=result.seconds)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return result, False
