"""Image files as a data source: a folder of class sub-folders (the ImageFolder layout) or a CSV
of paths and labels, indexed and checked once (every file's header, none decoded); the loader
decodes them lazily, one file per row (:class:`~imbalance_lab.data.image_files.ImageFiles`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from imbalance_lab.errors import ConfigError
from imbalance_lab.records import images_name

log = logging.getLogger(__name__)

# File suffixes read as images (those torchvision's ImageFolder reads).
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}
)
# Pillow modes and the channels they become: grey modes 1, colour modes 3 (alpha dropped).
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
BAD_IMAGES = ("error", "skip")


@dataclass
class ImageIndex:
    """The image files of a dataset, none of them decoded: ``paths`` (rows), ``y`` (int64,
    1 = the positive, minority class), ``image_shape`` ``(C, H, W)`` every image is brought to,
    ``labels`` the original class names of 0 and 1."""

    paths: list[str]
    y: np.ndarray
    name: str
    image_shape: tuple[int, int, int]
    labels: tuple[str, str]


def _show(paths: Sequence[str], root: Path, n: int = 3) -> str:
    def rel(p: str) -> str:
        try:
            return str(Path(p).relative_to(root))
        except ValueError:
            return p

    more = f" and {len(paths) - n} more" if len(paths) > n else ""
    return ", ".join(rel(p) for p in paths[:n]) + more


def _from_folder(root: Path) -> tuple[list[str], list[str]]:
    """``(paths, class names)`` of a folder with one sub-folder per class."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths, labels, others = [], [], []
    for c in classes:
        for f in sorted((root / c).rglob("*")):
            if f.is_dir() or f.name.startswith("."):
                continue
            if f.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(str(f))
                labels.append(c)
            else:
                others.append(str(f))
    if others:
        log.warning(
            "%d file(s) without an image suffix ignored (%s): %s",
            len(others),
            " ".join(sorted(IMAGE_SUFFIXES)),
            _show(others, root),
        )
    if not classes:
        raise ConfigError(
            f"data.path={root} holds no class sub-folders: put each class's images in a "
            "sub-folder named after the class (e.g. scans/healthy/, scans/lesion/), or point "
            "data.path at a CSV of image paths and labels."
        )
    return paths, labels


def _from_csv(csv: Path, path_column: str, label_column: str) -> tuple[list[str], list[str]]:
    """``(paths, labels)`` from a CSV; relative paths are read from the CSV's folder."""
    import pandas as pd

    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    for setting, column in (("data.path_column", path_column), ("data.label_column", label_column)):
        if column not in table.columns:
            raise ConfigError(
                f"{setting}={column} is not a column of {csv} (columns: "
                f"{', '.join(map(str, table.columns))}); set {setting}."
            )
    paths = [str(p if Path(p).is_absolute() else csv.parent / p) for p in table[path_column]]
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise ConfigError(
            f"data.path={csv}: {len(missing)} of {len(paths)} listed image files do not exist "
            f"({_show(missing, csv.parent)}). Fix the paths (relative ones are read from the "
            "CSV's folder) or drop those rows."
        )
    return paths, [str(v) for v in table[label_column]]


def _binary_labels(labels: list[str], positive: object, where: str) -> tuple[np.ndarray, tuple]:
    counts = Counter(labels)
    found = ", ".join(f"{k} ({v})" for k, v in sorted(counts.items()))
    if len(counts) < 2:
        raise ConfigError(
            f"{where} holds a single class ({found or 'no images'}); a binary classifier "
            "needs images of both classes (one sub-folder per class)."
        )
    if positive is None:
        if len(counts) > 2:
            raise ConfigError(
                f"{where} holds {len(counts)} classes ({found}); set data.positive_label to the "
                "class to detect (it is trained against all others)."
            )
        positive = min(sorted(counts), key=lambda k: counts[k])  # the rarer class
    elif str(positive) not in counts:
        raise ConfigError(f"data.positive_label={positive} is not a class of {where} ({found}).")
    positive = str(positive)
    y = np.array([lab == positive for lab in labels], dtype=np.int64)
    negative = next(k for k in sorted(counts) if k != positive) if len(counts) == 2 else "rest"
    return y, (negative, positive)


def read_header(path: str) -> tuple[tuple[int, int], str] | str:
    """``((width, height), mode)`` of a readable image, else why it is not. Pillow's
    ``verify`` reads the whole file and checks what the format allows (PNG chunk checksums and
    a truncated PNG fail here, not in a loader worker); it does not decode, so a damaged JPEG
    body is found only when the image is read."""
    try:
        with Image.open(path) as im:
            size, mode = im.size, im.mode
            im.verify()
        return size, mode
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"{type(err).__name__}: {err}"


def scan_images(
    path: str,
    positive_label: object = None,
    image_size: Sequence[int] | int | None = None,
    channels: int | None = None,
    bad_images: str = "error",
    path_column: str = "path",
    label_column: str = "label",
    name: str | None = None,
) -> ImageIndex:
    """Index the images at ``path`` (a folder of class sub-folders, or a CSV of
    ``path_column`` and ``label_column``) and check every file's header, decoding none.

    ``image_size`` ``(H, W)`` (or one int for square) and ``channels`` (1 or 3) are what every
    image is brought to; ``None`` = what the images share, an error naming the setting when
    they differ. ``bad_images``: ``error`` refuses unreadable files, ``skip`` leaves them out
    with a count. Raises ``ConfigError`` for every input a user can fix.
    """
    if path is None:
        raise ConfigError("data.path is not set: data.path=scans/ (class sub-folders) or a CSV.")
    if bad_images not in BAD_IMAGES:
        raise ConfigError(f"data.bad_images={bad_images!r} is unknown; use error or skip.")
    source = Path(str(path)).expanduser()
    if not source.exists():
        raise ConfigError(f"data.path={path} does not exist.")
    root = source if source.is_dir() else source.parent
    if source.is_dir():
        paths, labels = _from_folder(source)
    else:
        paths, labels = _from_csv(source, path_column, label_column)
    if not paths:
        raise ConfigError(
            f"data.path={path} holds no image files ({' '.join(sorted(IMAGE_SUFFIXES))})."
        )
    headers = [read_header(p) for p in paths]
    bad = [p for p, h in zip(paths, headers, strict=True) if isinstance(h, str)]
    if bad:
        first = next(h for h in headers if isinstance(h, str))
        if bad_images == "error":
            raise ConfigError(
                f"{len(bad)} of {len(paths)} image files cannot be read ({_show(bad, root)}; "
                f"{first}). Remove or replace them, or set data.bad_images=skip to leave them out."
            )
        log.warning("data.bad_images=skip: %d unreadable image file(s) left out: %s",
                    len(bad), _show(bad, root))  # fmt: skip
        keep = [i for i, h in enumerate(headers) if not isinstance(h, str)]
        paths, labels = [paths[i] for i in keep], [labels[i] for i in keep]
        headers = [headers[i] for i in keep]
    y, names = _binary_labels(labels, positive_label, f"data.path={path}")
    shape = (_channels(headers, channels, root, paths), *_size(headers, image_size, root, paths))
    return ImageIndex(paths, y, images_name(path, name), shape, names)  # type: ignore[arg-type]


def _channels(headers: list, setting: int | None, root: Path, paths: list[str]) -> int:
    if setting is not None:
        if setting not in (1, 3):
            raise ConfigError(f"data.channels={setting} must be 1 (grey) or 3 (RGB), or null.")
        return int(setting)
    kinds = ["grey" if mode in GREY_MODES else "colour" for _, mode in headers]
    modes = Counter(kinds)
    if len(modes) > 1:
        rare = min(modes, key=lambda k: modes[k])
        example = _show([p for p, k in zip(paths, kinds, strict=True) if k == rare], root, 1)
        shown = {k: f"{n}, e.g. {example}" if k == rare else str(n) for k, n in modes.items()}
        raise ConfigError(
            f"the images mix grey ({shown['grey']}) and colour ({shown['colour']}) modes; set "
            "data.channels=3 to read all as RGB or data.channels=1 to read all as grey."
        )
    return 1 if "grey" in modes else 3


def _size(headers: list, setting: Sequence[int] | int | None, root: Path, paths: list[str]):
    if setting is not None:
        hw = [int(setting)] * 2 if isinstance(setting, int) else [int(s) for s in setting]
        if len(hw) != 2 or min(hw) < 1:
            raise ConfigError(f"data.image_size={setting} must be [height, width] or one number.")
        return tuple(hw)
    sizes = Counter(size for size, _ in headers)
    if len(sizes) > 1:
        shown = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sizes.most_common(3))
        (w, h), _ = sizes.most_common(1)[0]
        raise ConfigError(
            f"the images have {len(sizes)} different sizes (width x height: {shown}); set "
            f"data.image_size=[{h},{w}] (height, width) to resize them all."
        )
    (w, h), _ = sizes.most_common(1)[0]
    return h, w
