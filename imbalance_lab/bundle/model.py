"""A model bundle loaded for use: ``load_model(run_dir)`` -> :class:`Model`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imbalance_lab.bundle.columns import RawSchema, where
from imbalance_lab.bundle.features import FittedFeatures
from imbalance_lab.bundle.store import find_bundle, load_estimator, load_network, read_meta
from imbalance_lab.errors import ConfigError

log = logging.getLogger(__name__)

_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A whole CSV or Parquet file (by suffix) as a DataFrame."""
    file = Path(path).expanduser()
    kind = next((k for s, k in _READERS.items() if file.name.lower().endswith(s)), None)
    if kind is None:
        raise ConfigError(f"{path}: unknown file type; give a .csv or .parquet file.")
    if not file.is_file():
        raise ConfigError(f"{where(path)} does not exist.")
    return pd.read_parquet(file) if kind == "parquet" else pd.read_csv(file, low_memory=False)


class Model:
    """A trained binary classifier with its feature pipeline, labels and decision threshold.

    Attributes follow scikit-learn where they fit: ``feature_names_in_`` (raw columns in
    training order), ``classes_`` (original labels of class 0 and 1), ``threshold``; ``info``:
    metrics (val, test), threshold and its rule, run settings, library versions.
    """

    def __init__(self, folder: Path) -> None:
        meta = read_meta(folder)
        if "images" in meta:
            raise ConfigError(
                f"{folder} holds a model of image files, which reads a folder of images, not "
                "rows; a sweep of image runs is not scored as one: give one of its run folders."
            )
        self.folder = folder
        self.info: dict[str, Any] = meta
        self.schema = RawSchema.from_json(meta["raw"])
        self.features = FittedFeatures.from_json(meta["features"])
        self.threshold = float(meta["threshold"]["value"])
        self.feature_names_in_ = np.asarray(self.schema.names, dtype=object)
        self.classes_ = self.schema.label_values(np.array([0, 1]))
        self.last_report: dict[str, Any] = {}
        self.notes: list[str] = []  # what a sweep folder chose (see bundle/sweep.py)
        if meta["kind"] == "network":
            self._net = load_network(folder, meta["network"])
            self._estimator = None
        elif meta["kind"] == "estimator":
            self._net, self._estimator = None, load_estimator(folder)
        else:
            raise ConfigError(f"{folder}: unknown model kind {meta['kind']!r} in bundle.json.")

    def __repr__(self) -> str:
        run = self.info.get("run", {})
        return (
            f"Model({self.folder}, {self.info['kind']}, dataset={run.get('dataset')}, "
            f"threshold={self.threshold:.4g}, test f1={self.info['metrics']['test']['f1']:.4f})"
        )

    def raw(self, X: Any, source: str = "the input") -> np.ndarray:
        """Raw rows -> the raw matrix ``(n, n_raw)`` float32 as training read the file (numbers;
        categories as codes, -1 if unseen; NaN where missing), shared by the runs of a sweep.

        ``X``: a DataFrame (columns by name, any order; extra ones ignored), a CSV/Parquet
        path, or an array ``(n, n_raw)`` in training column order. Raises ``ConfigError`` on a
        missing column, text in a numeric column, infinite values, or missing values when the
        model was trained without imputation. Unseen categories encode as unknown and are
        counted in ``last_report["unseen"]``.
        """
        if isinstance(X, (str, os.PathLike)):
            source, X = str(X), read_table(X)
        df = self.schema.frame(X, source)
        raw, self.last_report = self.schema.matrix(df, source)
        for name, n in self.last_report["unseen"].items():
            log.warning("%s: %d rows hold a category of %s unseen in training", source, n, name)
        return raw

    def transform(self, X: Any, source: str = "the input") -> np.ndarray:
        """Raw rows (as :meth:`raw` takes them) -> the model's input features
        ``(n, n_features)`` float32."""
        return self.features(self.raw(X, source))

    def score_raw(self, raw: np.ndarray) -> np.ndarray:
        """Probabilities ``(n,)`` float32 of a raw matrix from :meth:`raw`."""
        features = self.features(raw)
        if self._net is not None:
            from imbalance_lab.models.networks import predict_probs

            return predict_probs(self._net, features)
        return self._estimator.predict_proba(features)[:, 1].astype(np.float32)

    def predict_proba(self, X: Any, source: str = "the input") -> np.ndarray:
        """Probability of the positive class (class 1, ``classes_[1]``), shape ``(n,)``.
        ``source`` names ``X`` in error messages."""
        return self.score_raw(self.raw(X, source))

    def predict(self, X: Any, threshold: float | None = None) -> np.ndarray:
        """Labels in the training file's own values, shape ``(n,)``: the positive label where
        the probability exceeds ``threshold`` (default: the bundle's, chosen on validation)."""
        cut = self.threshold if threshold is None else float(threshold)
        return self.schema.label_values(self.predict_proba(X) > cut)


def load_model(path: str | os.PathLike, dataset: str | None = None) -> Model:
    """The model of a run folder (or of its ``model/`` folder), or of a sweep folder: the
    configuration selection.md chooses on validation, its runs' probabilities averaged (see
    :func:`imbalance_lab.bundle.sweep.load_sweep`; ``dataset`` names one when the sweep covers
    several). Runs no code from the bundle: JSON, safetensors weights into a network this
    package builds, or a skops file read with an explicit list of trusted types. Raises
    ``ConfigError`` for a folder without a bundle (a failed run), a sweep whose runs all failed,
    a bundle of a newer format version, or altered files."""
    from imbalance_lab.bundle.sweep import is_sweep, load_sweep

    if is_sweep(path):
        return load_sweep(Path(path).expanduser(), dataset)
    folder = find_bundle(path)
    if "images" in read_meta(folder):  # a network trained on image files
        from imbalance_lab.bundle.images import ImageModel

        return ImageModel(folder)
    return Model(folder)
