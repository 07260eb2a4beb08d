"""Rows of image files decoded when read, as a torch Dataset, and the small grey thumbnails the
neighbour-based samplers compare.

Decoding, conversion and resizing use Pillow; tensors, scaling and augmentation use torch. The
torchvision equivalents (``datasets.ImageFolder``, ``transforms.v2``) are not used because
PyPI's Linux torchvision wheels are CUDA builds that fail to import next to a CPU torch
("operator torchvision::nms does not exist", pytorch/pytorch#122494), and the matching CPU
build lives only on PyTorch's own index: what is here is the few steps this project needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from imbalance_lab.data.image_augment import augment

# Pixel scale after conversion: [0, 1] mapped to [-1, 1] (mean 0.5, std 0.5 per channel).
MEAN, STD = 0.5, 0.5


class ImageFiles(Dataset):
    """Rows of image files, decoded when a row is read: ``dataset[i]`` is ``(x, y)`` with ``x``
    float32 ``image_shape`` ``(C, H, W)`` scaled to [-1, 1] and ``y`` a float32 label.

    ``augment`` (training only): names from :data:`AUGMENTATIONS` applied at random per read,
    drawn from torch's generator (seeded per loader worker by the DataLoader).
    """

    def __init__(
        self,
        paths: Sequence[str],
        y: np.ndarray,
        image_shape: Sequence[int],
        augment: Sequence[str] = (),
    ) -> None:
        self.paths = list(paths)
        self.y = torch.as_tensor(np.asarray(y), dtype=torch.float32)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.augment = tuple(augment)

    def __len__(self) -> int:
        return len(self.paths)

    def decode(self, i: int) -> torch.Tensor:
        """Image ``i`` as uint8 ``(C, H, W)``, converted and resized, not augmented."""
        c, h, w = self.image_shape
        with Image.open(self.paths[i]) as im:
            im = im.convert("L" if c == 1 else "RGB")
            if im.size != (w, h):
                im = im.resize((w, h), Image.Resampling.BILINEAR)
            pixels = torch.from_numpy(np.asarray(im).copy())
        return pixels.reshape(h, w, c).permute(2, 0, 1)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.decode(i).float().div_(255.0)
        if self.augment:
            x = augment(x, self.augment)
        return x.sub_(MEAN).div_(STD), self.y[i]


def thumbnails(files: ImageFiles, size: int, workers: int = 0) -> np.ndarray:
    """Cheap features of every row, for the samplers that search neighbours (NearMiss,
    Tomek links, ...): each image in grey, resized to ``size`` x ``size``, flattened, in
    [0, 1]. Shape ``(rows, size * size)``, float32; read through a DataLoader with ``workers``."""
    from torch.utils.data import DataLoader

    small = _Thumbnails(files.paths, size)
    loader = DataLoader(small, batch_size=256, num_workers=workers)
    out = [batch for batch in loader]
    return torch.cat(out).numpy() if out else np.zeros((0, size * size), np.float32)


class _Thumbnails(Dataset):
    def __init__(self, paths: list[str], size: int) -> None:
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as im:
            im = im.convert("L").resize((self.size, self.size), Image.Resampling.BILINEAR)
            return torch.from_numpy(np.asarray(im, dtype=np.float32).ravel() / 255.0)
