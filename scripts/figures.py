"""Reproduce the four figures of the class-imbalance lab text on a 2D toy dataset.

Usage: python scripts/figures.py [--out figures] [--seed 0]
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from imblearn.over_sampling import ADASYN, SMOTE, RandomOverSampler
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, recall_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from imbalance_lab.data.sources import make_toy2d
from imbalance_lab.evaluation.plots import confusion_figure, plt, save  # sets the Agg backend

# 5 % minority and std 1.5 around centres 3.5 apart: the classes overlap enough that an
# unweighted model can trade the minority away for accuracy, yet the minority is visible.
N_SAMPLES, MINORITY_FRACTION, NOISE = 1000, 0.05, 1.5
COLORS = {0: "tab:blue", 1: "tab:red"}


def split_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Toy blobs split 70/30, stratified so the few minority points reach both sides."""
    data = make_toy2d("blobs", N_SAMPLES, MINORITY_FRACTION, NOISE, random_state=seed)
    return train_test_split(data.X, data.y, test_size=0.3, stratify=data.y, random_state=seed)


def fit_logregs(X: np.ndarray, y: np.ndarray) -> tuple[LogisticRegression, LogisticRegression]:
    """The same linear model without and with class_weight='balanced'."""
    return LogisticRegression().fit(X, y), LogisticRegression(class_weight="balanced").fit(X, y)


def minority_recalls(seed: int = 0) -> tuple[float, float]:
    """Test recall of class 1 for the unweighted and the balanced logistic regression."""
    X_tr, X_te, y_tr, y_te = split_data(seed)
    plain, balanced = (recall_score(y_te, m.predict(X_te)) for m in fit_logregs(X_tr, y_tr))
    return float(plain), float(balanced)


def scatter(ax: plt.Axes, X: np.ndarray, y: np.ndarray, **kw) -> None:
    # Majority first and faint, so the few minority points stay visible on top.
    ax.scatter(*X[y == 0].T, s=8, c=COLORS[0], alpha=0.35, label="class 0 (majority)", **kw)
    ax.scatter(
        *X[y == 1].T,
        s=18,
        c=COLORS[1],
        edgecolors="k",
        linewidths=0.4,
        label="class 1 (minority)",
        **kw,
    )


def grid(X: np.ndarray, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    return np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))


def fig_boundary(
    X: np.ndarray,
    y: np.ndarray,
    plain: LogisticRegression,
    balanced: LogisticRegression,
    path: Path,
) -> Path:
    fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    scatter(ax, X, y)
    xs = np.linspace(X[:, 0].min() - 0.5, X[:, 0].max() + 0.5, 2)
    for model, style, name in [
        (plain, "-", "unweighted"),
        (balanced, "--", "class_weight='balanced'"),
    ]:
        (w0, w1), b = model.coef_[0], model.intercept_[0]
        ax.plot(xs, -(w0 * xs + b) / w1, "k" + style, lw=2, label=f"boundary, {name}")
    ax.set_xlim(xs)
    ax.set_ylim(X[:, 1].min() - 0.5, X[:, 1].max() + 0.5)
    ax.set(
        xlabel="$x_1$",
        ylabel="$x_2$",
        title=f"Logistic regression on {MINORITY_FRACTION:.0%} minority: the unweighted boundary\n"
        "is pushed into the minority class",
    )
    ax.legend(loc="lower left", fontsize=8)
    return save(fig, path)


def fig_confusion(model: LogisticRegression, X: np.ndarray, y: np.ndarray, path: Path) -> Path:
    tn, fp, fn, tp = confusion_matrix(y, model.predict(X), labels=[0, 1]).ravel()
    counts = {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}
    title = f"unweighted logistic regression, test\nminority recall {tp / max(tp + fn, 1):.2f}"
    return save(confusion_figure(counts, title=title), path)


def fig_regions(
    X: np.ndarray, y: np.ndarray, X_te: np.ndarray, y_te: np.ndarray, seed: int, path: Path
) -> Path:
    X_ros, y_ros = RandomOverSampler(random_state=seed).fit_resample(X, y)
    xx, yy = grid(X)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained", sharey=True)
    fits = [(X, y, "no resampling"), (X_ros, y_ros, "RandomOverSampler")]
    for ax, (Xf, yf, name) in zip(axes, fits, strict=True):
        mlp = MLPClassifier(hidden_layer_sizes=(32, 32), max_iter=500, random_state=seed)
        with warnings.catch_warnings():  # a short fit is enough to show the regions
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(Xf, yf)
        zz = mlp.predict(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
        ax.contourf(xx, yy, zz, levels=[-0.5, 0.5, 1.5], colors=[COLORS[0], COLORS[1]], alpha=0.18)
        ax.contour(xx, yy, zz, levels=[0.5], colors="k", linewidths=1)
        scatter(ax, X, y)  # always the original points, so both panels are comparable
        recall = recall_score(y_te, mlp.predict(X_te))
        ax.set(xlabel="$x_1$", title=f"{name}\ntest minority recall {recall:.2f}")
    axes[0].set_ylabel("$x_2$")
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle("Decision regions of a small MLP (shaded red = predicted minority)")
    return save(fig, path)


def fig_oversampling(X: np.ndarray, y: np.ndarray, seed: int, path: Path) -> Path:
    n_min = int((y == 1).sum())
    fig, axes = plt.subplots(
        1, 4, figsize=(17, 4.6), layout="constrained", sharex=True, sharey=True
    )
    scatter(axes[0], X, y)
    axes[0].set_title(f"original: {n_min} minority of {len(y)}")
    axes[0].legend(loc="lower right", fontsize=8)

    # Random oversampling only duplicates: marker area grows with each point's multiplicity.
    ros = RandomOverSampler(random_state=seed)
    _, y_ros = ros.fit_resample(X, y)
    idx = ros.sample_indices_[y_ros == 1]
    uniq, mult = np.unique(idx, return_counts=True)
    ax = axes[1]
    ax.scatter(*X[y == 0].T, s=8, c=COLORS[0], alpha=0.35)
    ax.scatter(*X[uniq].T, s=12 * mult, c=COLORS[1], edgecolors="k", linewidths=0.4, alpha=0.7)
    ax.scatter([], [], s=12 * 10, c=COLORS[1], edgecolors="k", label="size = copies (e.g. 10)")
    ax.set_title(f"RandomOverSampler: {len(idx)} minority\n(duplicates, up to {mult.max()} copies)")
    ax.legend(loc="lower right", fontsize=8)

    # SMOTE / ADASYN append their synthetic rows after the original ones.
    samplers = [SMOTE(random_state=seed), ADASYN(random_state=seed)]
    for ax, sampler in zip(axes[2:], samplers, strict=True):
        X_res, y_res = sampler.fit_resample(X, y)
        new = X_res[len(X) :]
        ax.scatter(*X[y == 0].T, s=8, c=COLORS[0], alpha=0.35)
        ax.scatter(
            *new.T,
            s=14,
            marker="x",
            c="darkorange",
            linewidths=0.8,
            label=f"synthetic ({len(new)})",
        )
        ax.scatter(
            *X[y == 1].T,
            s=22,
            c=COLORS[1],
            edgecolors="k",
            linewidths=0.4,
            label=f"original minority ({n_min})",
        )
        ax.set_title(f"{type(sampler).__name__}: {int((y_res == 1).sum())} minority")
        ax.legend(loc="lower right", fontsize=8)
    for ax in axes:
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    fig.suptitle("Training data after oversampling the minority class")
    return save(fig, path)


def main(argv: Sequence[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("figures"),
        help="output folder (default: figures/ under the current folder; the README's "
        "pictures: --out docs/figures)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of data, split and models")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    X_tr, X_te, y_tr, y_te = split_data(args.seed)
    plain, balanced = fit_logregs(X_tr, y_tr)
    paths = [
        fig_boundary(X_tr, y_tr, plain, balanced, args.out / "fig1_biased_boundary.png"),
        fig_confusion(plain, X_te, y_te, args.out / "fig2_confusion_matrix.png"),
        fig_regions(X_tr, y_tr, X_te, y_te, args.seed, args.out / "fig3_decision_regions.png"),
        fig_oversampling(X_tr, y_tr, args.seed, args.out / "fig4_oversampling.png"),
    ]
    for p in paths:
        print(p)
    return paths


if __name__ == "__main__":
    main()
