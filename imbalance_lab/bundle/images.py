"""Model bundles of networks trained on image files (``data=images``), and ``imbalance-lab
predict RUN_DIR folder/ --out scores.csv`` on a folder of new images.

The bundle is the tables' (``bundle.json`` + ``weights.safetensors``, see ``store.py``) with an
``images`` entry in place of raw columns and fitted features: the ``(C, H, W)`` every image is
brought to and the class names of 0 and 1. New images are read exactly as the run's validation
images were (:class:`imbalance_lab.data.image_files.ImageFiles`, never augmented).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np

from imbalance_lab.bundle.store import load_network, read_meta
from imbalance_lab.data.image_files import ImageFiles
from imbalance_lab.data.images import IMAGE_SUFFIXES
from imbalance_lab.errors import ConfigError

log = logging.getLogger(__name__)


def image_meta(dm: Any) -> dict[str, Any]:
    """The ``images`` entry of a bundle, from an :class:`ImageDataModule` after setup."""
    return {"image_shape": list(dm.image_shape), "labels": list(dm.index.labels)}


class ImageModel:
    """A network trained on image files: ``predict_proba(paths)`` -> probabilities ``(n,)``
    of the positive class ``classes_[1]``; ``threshold`` chosen on validation by the run."""

    def __init__(self, folder: Path) -> None:
        meta = read_meta(folder)
        self.folder, self.info = folder, meta
        self.image_shape = tuple(meta["images"]["image_shape"])
        self.classes_ = np.asarray(meta["images"]["labels"], dtype=object)
        self.threshold = float(meta["threshold"]["value"])
        self.notes: list[str] = []
        self._net = load_network(folder, meta["network"])

    def __repr__(self) -> str:
        run = self.info.get("run", {})
        return (
            f"ImageModel({self.folder}, dataset={run.get('dataset')}, images "
            f"{list(self.image_shape)}, threshold={self.threshold:.4g})"
        )

    def predict_proba(self, paths: list[str], batch_size: int = 256) -> np.ndarray:
        """Probabilities ``(len(paths),)`` float32; each file converted and resized to
        ``image_shape`` as in training. Raises ``ConfigError`` naming unreadable files."""
        import torch
        from torch.utils.data import DataLoader

        from imbalance_lab.data.images import read_header

        bad = [p for p in paths if isinstance(read_header(p), str)]
        if bad:
            raise ConfigError(
                f"{len(bad)} of {len(paths)} image files cannot be read: {', '.join(bad[:3])}."
            )
        files = ImageFiles(paths, np.zeros(len(paths)), self.image_shape)
        with torch.no_grad():
            out = [torch.sigmoid(self._net(x)) for x, _ in DataLoader(files, batch_size)]
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def image_paths(folder: Path) -> list[str]:
    """Every image file under ``folder`` (sub-folders included, hidden files not), sorted."""
    paths = sorted(
        str(p)
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not paths:
        raise ConfigError(f"{folder} holds no image files ({' '.join(sorted(IMAGE_SUFFIXES))}).")
    return paths


def score_folder(model: ImageModel, folder: Path, out: Path, threshold: float) -> str:
    """Write ``out`` (CSV: ``path`` relative to ``folder``, ``probability``, ``label``) for
    every image under ``folder``; returns what to print."""
    if out.suffix.lower() != ".csv":
        raise ConfigError(f"--out {out}: scores of images are written as CSV (name it .csv).")
    paths = image_paths(folder)
    probs = model.predict_proba(paths)
    labels = model.classes_[(probs > threshold).astype(int)]
    partial = out.with_name(f".{out.name}.partial")
    with partial.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "probability", "label"])
        for p, prob, label in zip(paths, probs, labels, strict=True):
            writer.writerow([str(Path(p).relative_to(folder)), f"{prob:.6g}", label])
    partial.replace(out)
    positives = int((probs > threshold).sum())
    return (
        f"scored {len(paths)} images under {folder} with {model.folder} at threshold "
        f"{threshold:.4g}: {positives} labelled {model.classes_[1]!r}; wrote {out}"
    )
