"""What an image user looks at first: the minority test images the model missed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from imbalance_lab.data.image_files import ImageFiles

log = logging.getLogger(__name__)

MISSED_FILE = "misclassified_minority.png"
# Images in the grid: enough to see a pattern, small enough to look at.
MAX_SHOWN = 64
# Smaller images are enlarged (nearest pixel, whole multiples) to about this side to be seen.
MIN_SIDE = 64


def image_grid(images: torch.Tensor, columns: int = 8, pad: int = 2) -> torch.Tensor:
    """Tile uint8 images ``(N, C, H, W)`` into one ``(3, rows*(H+pad)+pad, ...)`` uint8 grid on
    a white background; grey images are shown in RGB. Written here because torchvision's
    ``make_grid`` is not a dependency (see imbalance_lab.data.image_files)."""
    n, c, h, w = images.shape
    if c == 1:
        images = images.expand(n, 3, h, w)
    cols = min(columns, n)
    rows = -(-n // cols)
    grid = torch.full((3, rows * (h + pad) + pad, cols * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[:, top : top + h, left : left + w] = images[i]
    return grid


def misclassified_minority(
    files: ImageFiles,
    probs: np.ndarray,
    threshold: float,
    run_dir: Path,
    trainer: Any = None,
) -> Path | None:
    """Write a grid of the minority (class 1) test images predicted as class 0, the most
    confidently wrong first (at most :data:`MAX_SHOWN`), to ``run_dir/misclassified_minority.png``
    and, when ``trainer`` logs to TensorBoard, as the image ``test/misclassified_minority``.
    ``probs``: class-1 probabilities of ``files``' rows, shape ``(rows,)``. Returns the PNG's
    path, or ``None`` when every minority test image was found."""
    y = files.y.numpy()
    missed = np.flatnonzero((y == 1) & (probs < threshold))
    if len(missed) == 0:
        log.info("every minority test image was found at threshold %.3f", threshold)
        return None
    missed = missed[np.argsort(probs[missed], kind="stable")][:MAX_SHOWN]
    images = torch.stack([files.decode(int(i)) for i in missed])
    scale = -(-MIN_SIDE // min(images.shape[-2:]))
    if scale > 1:
        images = images.repeat_interleave(scale, -2).repeat_interleave(scale, -1)
    grid = image_grid(images)
    path = Path(run_dir) / MISSED_FILE
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(path)
    log.info("%d missed minority test image(s) shown in %s", len(missed), path)
    for lg in getattr(trainer, "loggers", []) if trainer is not None else []:
        writer = getattr(lg, "experiment", None)
        if hasattr(writer, "add_image"):
            writer.add_image("test/misclassified_minority", grid, trainer.global_step)
    return path
