"""Write an imbalanced image folder for trying data=images offline: scikit-learn's 8x8 digits
upsampled to PNG files, one digit as a rare class.

    python scripts/make_image_folder.py digits_png/ [--positive-digit 0] [--minority 0.02]
        [--size 32] [--rgb]
    python train.py data=images data.path=digits_png/ model=cnn

The folder gets one sub-folder per class, ``digit<d>/`` (the rare one) and ``other/`` (every
other digit), the layout of torchvision's ImageFolder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def write_digit_folder(
    out: str | Path,
    positive_digit: int = 0,
    minority_fraction: float = 0.02,
    size: int = 32,
    rgb: bool = False,
    n_images: int | None = None,
    seed: int = 0,
) -> dict[str, int]:
    """Write ``out/digit<positive_digit>/*.png`` (``minority_fraction`` of the images, seeded)
    and ``out/other/*.png``, each digit bilinearly upsampled from 8x8 to ``size`` x ``size``
    (grey, or RGB with ``rgb``). ``n_images`` caps the total. Returns the count per folder."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(digits.target == positive_digit)
    neg = rng.permutation(np.flatnonzero(digits.target != positive_digit))
    if n_images is not None:
        neg = neg[: round(n_images * (1 - minority_fraction))]
    n_pos = max(2, round(minority_fraction * len(neg) / (1 - minority_fraction)))
    pos = rng.choice(pos, min(n_pos, len(pos)), replace=False)
    counts = {}
    for folder, rows in ((f"digit{positive_digit}", pos), ("other", neg)):
        target = Path(out) / folder
        target.mkdir(parents=True, exist_ok=True)
        for i in rows:
            pixels = (digits.images[i] * (255 / 16)).astype(np.uint8)
            im = Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR)
            (im.convert("RGB") if rgb else im).save(target / f"{i:04d}.png")
        counts[folder] = len(rows)
    return counts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--positive-digit", type=int, default=0)
    p.add_argument("--minority", type=float, default=0.02, help="share of the rare digit")
    p.add_argument("--size", type=int, default=32, help="side of each image in pixels")
    p.add_argument("--rgb", action="store_true", help="write RGB instead of grey images")
    p.add_argument("--images", type=int, help="at most this many images in all")
    args = p.parse_args()
    counts = write_digit_folder(
        args.out, args.positive_digit, args.minority, args.size, args.rgb, args.images
    )
    print(f"{args.out}: " + ", ".join(f"{k}/ {v} images" for k, v in counts.items()))


if __name__ == "__main__":
    main()
