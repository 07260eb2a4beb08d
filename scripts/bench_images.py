"""Images/s of data=images' training loader against a hand-written loader on the same folder.

    python scripts/bench_images.py [--images 3000] [--size 64] [--workers 1] [--md PATH]
    python scripts/benchmark.py --only images

The folder: scikit-learn digits written as RGB PNGs of --size pixels (scripts/make_image_folder.py),
digit 0 a 2 % minority. Paths, each one epoch of (x, y) batches of 64, read in turns for
--repeat rounds:
    hand  a torch Dataset written as a tutorial would (Pillow open, convert, resize, to a float
          tensor, normalise) in a shuffling DataLoader with --workers processes (ratio 1.00);
    lab   ImageDataModule(...).train_dataloader() with data.workers=--workers, after setup
          (folder scan and header check not timed; they are reported separately).
Goal: lab >= 0.85x the hand loop on CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def _hand_loader(root: Path, size: int, workers: int, batch: int) -> Any:
    import numpy as np
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset

    paths = sorted(str(p) for p in root.rglob("*.png"))
    labels = [int("digit" in Path(p).parent.name) for p in paths]

    class Files(Dataset):
        def __len__(self) -> int:
            return len(paths)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            im = Image.open(paths[i]).convert("RGB").resize((size, size))
            x = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1)
            return (x - 0.5) / 0.5, torch.tensor(float(labels[i]))

    return DataLoader(
        Files(), batch_size=batch, shuffle=True, num_workers=workers, persistent_workers=workers > 0
    )


def _epoch(loader: Any) -> tuple[float, int]:
    start, n = time.perf_counter(), 0
    for x, _ in loader:
        n += len(x)
    return time.perf_counter() - start, n


def bench_images(images: int = 3000, size: int = 64, workers: int = 1, repeat: int = 5) -> dict:
    """Run the comparison on a fresh folder; returns the measurements (seconds, images/s,
    ratios against the hand loop)."""
    import torch
    from make_image_folder import write_digit_folder

    from imbalance_lab.data.image_module import ImageDataModule
    from imbalance_lab.data.images import scan_images

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "digits"
        write_digit_folder(root, 0, 0.02, size=size, rgb=True, n_images=images)
        start = time.perf_counter()
        dm = ImageDataModule(
            lambda: scan_images(str(root)), None, workers=workers, batch_size=64,
            val_size=0.1, test_size=0.1, seed=0,
        )  # fmt: skip
        dm.setup()
        scan_s = time.perf_counter() - start
        paths = {
            "hand": _hand_loader(root, size, workers, 64),
            "lab": dm.train_dataloader(),
        }
        n_train = len(dm.splits["train"][1])
        for loader in paths.values():  # warm-up: worker start, page cache
            _epoch(loader)
        seconds: dict[str, list[float]] = {k: [] for k in paths}
        counts: dict[str, int] = {}
        for _ in range(repeat):
            for name, loader in paths.items():
                s, n = _epoch(loader)
                seconds[name].append(s)
                counts[name] = n
    rate = {k: counts[k] / min(v) for k, v in seconds.items()}
    per_round = [
        (counts["lab"] / lab) / (counts["hand"] / hand)
        for lab, hand in zip(seconds["lab"], seconds["hand"], strict=True)
    ]
    return {
        "images": images,
        "train_images": n_train,
        "size": size,
        "workers": workers,
        "repeat": repeat,
        "scan_s": scan_s,
        "best_seconds": {k: min(v) for k, v in seconds.items()},
        "images_per_s": rate,
        "ratio": rate["lab"] / rate["hand"],
        "median_ratio_per_round": statistics.median(per_round),
    }


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        f"## Images: training loader on {result['images']:,} RGB PNGs of {result['size']}x"
        f"{result['size']} ({result['workers']} worker(s), batches of 64)",
        "",
        f"Ratio: images/s over the hand loop's (best of {result['repeat']} epochs each, in "
        "turns; median of each round's ratio beside it). Goal >= 0.85. Folder scan and header "
        f"check before training (not in the ratio): {result['scan_s']:.2f} s.",
        "",
        "| path | best seconds | images/s | ratio | median per round |",
        "|---|---|---|---|---|",
    ]
    for name in ("hand", "lab"):
        ratio = result["images_per_s"][name] / result["images_per_s"]["hand"]
        median = result["median_ratio_per_round"] if name == "lab" else 1.0
        lines.append(
            f"| {name} | {result['best_seconds'][name]:.3f} | "
            f"{result['images_per_s'][name]:,.0f} | {ratio:.2f} | {median:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=3000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", type=Path)
    p.add_argument("--md", type=Path)
    args = p.parse_args()
    result = bench_images(args.images, args.size, args.workers, args.repeat)
    markdown = to_markdown(result)
    if args.md:
        args.md.write_text(markdown + "\n")
    else:
        print(markdown)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
