"""Draw real minority digits next to the digits SMOTE synthesises from them.

Usage: python scripts/smote_digits.py [--out figures] [--digit 0] [--seed 0]

The data is ``data=digits`` (scikit-learn's 8x8 digits, one digit subsampled to a 2 % minority).
SMOTE sees each image as a flat row of 64 pixels and places a synthetic row on the segment
between a minority row and one of its k nearest minority neighbours: the right panel shows both
parents with the synthetic image between them, ``lambda`` being its position on the segment.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from imblearn.over_sampling import SMOTE
from matplotlib.figure import Figure

from imbalance_lab.data.sources import make_digits
from imbalance_lab.evaluation.plots import plt, save  # sets the Agg backend

FILE = "smote_digits.png"


def parents(synthetic: np.ndarray, minority: np.ndarray) -> tuple[int, int, float]:
    """The pair of minority rows whose segment holds ``synthetic``, and its position on it."""
    best = (np.inf, 0, 0, 0.0)
    for i in range(len(minority)):
        d = minority - minority[i]  # segments from row i to every other row
        denom = np.einsum("ij,ij->i", d, d)
        lam = np.zeros(len(minority))
        np.divide(d @ (synthetic - minority[i]), denom, out=lam, where=denom > 0)
        lam = np.clip(lam, 0, 1)
        residual = np.linalg.norm(minority[i] + lam[:, None] * d - synthetic, axis=1)
        residual[i] = np.inf
        j = int(np.argmin(residual))
        if residual[j] < best[0]:
            best = (residual[j], i, j, float(lam[j]))
    return best[1], best[2], best[3]


def smote_digits_figure(
    digit: int = 0, seed: int = 0, n_real: int = 24, n_synthetic: int = 8
) -> Figure:
    """Top: real minority digits. Bottom: synthetic digits (red) between their two parents."""
    data = make_digits(positive_digit=digit, minority_fraction=0.02, random_state=seed)
    X, y = data.X, data.y
    X_res, _ = SMOTE(k_neighbors=5, random_state=seed).fit_resample(X, y)
    minority, synthetic = X[y == 1], X_res[len(X) :]
    shape = data.image_shape[1:]
    rng = np.random.default_rng(seed)

    fig = plt.figure(figsize=(12, 6.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.2])
    top.suptitle(f"real minority digits: {len(minority)} images of digit {digit}, class 1")
    axes = list(top.subplots(2, n_real // 2).flat)
    for ax, row in zip(axes, minority[:n_real], strict=False):
        ax.imshow(row.reshape(shape), cmap="gray_r", vmin=0, vmax=1)
    bottom.suptitle(
        f"SMOTE-synthesised digits (red, {len(synthetic)} in all), each between its two parents"
    )
    chosen = rng.choice(len(synthetic), n_synthetic, replace=False)
    for sub, s in zip(bottom.subfigures(2, n_synthetic // 2).flat, chosen, strict=True):
        i, j, lam = parents(synthetic[s], minority)
        trio = [(minority[i], "parent", "gray_r"), (synthetic[s], f"λ={lam:.2f}", "Reds")]
        trio.append((minority[j], "neighbour", "gray_r"))
        for ax, (img, title, cmap) in zip(sub.subplots(1, 3), trio, strict=True):
            ax.imshow(img.reshape(shape), cmap=cmap, vmin=0, vmax=1)
            ax.set_title(title, fontsize=8)
            axes.append(ax)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("figures"),
        help="output folder (default: figures/ under the current folder; the README's "
        "pictures: --out docs/figures)",
    )
    parser.add_argument("--digit", type=int, default=0, help="the minority digit (class 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subsample and SMOTE")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = save(smote_digits_figure(args.digit, args.seed), args.out / FILE)
    print(path)
    return path


if __name__ == "__main__":
    main()
