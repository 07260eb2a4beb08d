"""Label-preserving random changes of training images (flips, right-angle rotations, crops),
drawn from torch's generator, and the ``data.augment`` setting that names them."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from imbalance_lab.errors import ConfigError

AUGMENTATIONS = ("hflip", "vflip", "rotate", "crop")


def augment(x: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """Random label-preserving changes of one image ``(C, H, W)``: ``hflip`` / ``vflip`` (each
    with probability 1/2), ``rotate`` (a multiple of 90 degrees on square images, else 180),
    ``crop`` (a random crop of 7/8 of each side, resized back)."""
    if "hflip" in names and torch.rand(()) < 0.5:
        x = x.flip(-1)
    if "vflip" in names and torch.rand(()) < 0.5:
        x = x.flip(-2)
    if "rotate" in names:
        k = int(torch.randint(4, ()))
        x = torch.rot90(x, k, (-2, -1)) if x.shape[-1] == x.shape[-2] else x.rot90(2 * (k % 2))
    if "crop" in names:
        h, w = x.shape[-2:]
        ch, cw = max(1, h * 7 // 8), max(1, w * 7 // 8)
        top, left = int(torch.randint(h - ch + 1, ())), int(torch.randint(w - cw + 1, ()))
        x = torch.nn.functional.interpolate(
            x[None, :, top : top + ch, left : left + cw], size=(h, w), mode="bilinear"
        )[0]
    return x


def check_augment(names: object) -> tuple[str, ...]:
    """``data.augment`` as a tuple of names: ``none`` / ``[]`` or a list of AUGMENTATIONS."""
    if names in (None, "none"):
        return ()
    if isinstance(names, str):
        names = [names]
    names = tuple(str(n) for n in names)  # type: ignore[union-attr]
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ConfigError(
            f"data.augment: {', '.join(unknown)} unknown; use none or a list of "
            f"{', '.join(AUGMENTATIONS)}, e.g. data.augment=[hflip,rotate]."
        )
    return names
