"""A model bundle loaded for use: ``load_model(run_dir)`` -> :class:`Model`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imbalance_lab.bundle.columns import RawSchema
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
        raise ConfigError(f"{path} does not exist ({file.resolve()}).")
    return pd.read_parquet(file) if kind == "parquet" else pd.read_csv(file, low_memory=False)


class Model:
    """A trained binary classifier with its feature pipeline, labels and decision threshold.

    Attributes follow scikit-learn where they fit: ``feature_names_in_`` (raw columns in
    training order), ``classes_`` (original labels of class 0 and 1), ``threshold``; ``info``:
    metrics (val, test), threshold and its rule, run settings, library versions.
    """

    def __init__(self, folder: Path) -> None:
        meta = read_meta(folder)
        self.folder = folder
        self.info: dict[str, Any] = meta
        self.schema = RawSchema.from_json(meta["raw"])
        self.features = FittedFeatures.from_json(meta["features"])
        self.threshold = float(meta["threshold"]["value"])
        self.feature_names_in_ = np.asarray(self.schema.names, dtype=object)
        self.classes_ = self.schema.label_values(np.array([0, 1]))
        self.last_report: dict[str, Any] = {}
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

    def transform(self, X: Any, source: str = "the input") -> np.ndarray:
        """Raw rows -> the model's input features ``(n, n_features)`` float32.

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
        return self.features(raw)

    def _probs(self, features: np.ndarray) -> np.ndarray:
        if self._net is not None:
            from imbalance_lab.models.networks import predict_probs

            return predict_probs(self._net, features)
        return self._estimator.predict_proba(features)[:, 1].astype(np.float32)

    def predict_proba(self, X: Any, source: str = "the input") -> np.ndarray:
        """Probability of the positive class (class 1, ``classes_[1]``), shape ``(n,)``.
        ``source`` names ``X`` in error messages."""
        return self._probs(self.transform(X, source))

    def predict(self, X: Any, threshold: float | None = None) -> np.ndarray:
        """Labels in the training file's own values, shape ``(n,)``: the positive label where
        the probability exceeds ``threshold`` (default: the bundle's, chosen on validation)."""
        cut = self.threshold if threshold is None else float(threshold)
        return self.schema.label_values(self.predict_proba(X) > cut)


def load_model(path: str | os.PathLike) -> Model:
    """The model of a run folder (or of its ``model/`` folder). Runs no code from the bundle:
    JSON, safetensors weights into a network this package builds, or a skops file read with an
    explicit list of trusted types. Raises ``ConfigError`` for a folder without a bundle (a
    failed run), a bundle of a newer format version, or altered files."""
    return Model(find_bundle(path))
