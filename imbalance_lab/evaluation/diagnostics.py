"""Diagnose the symptoms of class imbalance: minority typology, overlap, calibration, gaps.

Pure functions on numpy arrays (label 1 = minority); figures return matplotlib Figures that
:func:`imbalance_lab.evaluation.plots.save` writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import matplotlib.ticker
import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from torchmetrics.classification import BinaryCalibrationError

if TYPE_CHECKING:  # matplotlib loads only when a figure is drawn, not for the numbers
    from matplotlib.figure import Figure

TYPES = ("safe", "borderline", "rare", "outlier")
TYPE_COLORS = dict(zip(TYPES, ("tab:green", "tab:orange", "tab:red", "tab:purple"), strict=True))


def _pyplot() -> Any:
    from imbalance_lab.evaluation.plots import plt  # pyplot with the Agg backend selected

    return plt


def _class_counts(y: np.ndarray) -> dict[str, Any]:
    n_min, n_maj = int((y == 1).sum()), int((y == 0).sum())
    ir = n_maj / n_min if n_min else None
    return {"0": n_maj, "1": n_min, "n": len(y), "imbalance_ratio": ir}


def minority_typology(X: np.ndarray, y: np.ndarray, k: int = 5) -> np.ndarray:
    """Type of each minority row (``y == 1``, in row order) from its k nearest neighbours.

    Returns
    -------
    np.ndarray of str, one of "safe", "borderline", "rare", "outlier" per minority row.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y).ravel()
    if len(y) <= k:
        raise ValueError(f"minority_typology needs more than k={k} rows, got {len(y)}")
    # kneighbors() without a query excludes each row itself (by index, so duplicates stay).
    _, idx = NearestNeighbors(n_neighbors=k).fit(X).kneighbors()
    n_major = (y[idx[y == 1]] == 0).sum(axis=1)
    # Napierala & Stefanowski (2016), "Types of minority class examples and their influence on
    # learning classifiers from imbalanced data", J. Intell. Inf. Syst. 46: with k = 5 nearest
    # neighbours, 0-1 of the majority class -> safe, 2-3 -> borderline, 4 -> rare, 5 -> outlier.
    # Other k keep the same shares: < 0.4 safe, < 0.8 borderline, < 1 rare, all majority outlier.
    share = n_major / k
    types = np.full(len(n_major), "borderline", dtype=object)
    types[share < 0.4 - 1e-9] = "safe"
    types[share >= 0.8 - 1e-9] = "rare"
    types[n_major == k] = "outlier"
    return types.astype(str)


def typology_counts(types: np.ndarray) -> dict[str, Any]:
    """Counts and shares of each minority type: ``{"counts": {...}, "shares": {...}, "n": n}``."""
    types = np.asarray(types)
    n = len(types)
    counts = {t: int((types == t).sum()) for t in TYPES}
    shares = {t: (c / n if n else 0.0) for t, c in counts.items()}
    return {"counts": counts, "shares": shares, "n": n}


def class_overlap(X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Minority rows whose nearest neighbour is majority; feature rows seen with both labels.

    Returns
    -------
    dict with ``minority_nn_majority_share``, ``n_conflicting_feature_rows`` (distinct feature
    vectors that occur with label 0 and with label 1) and ``n_rows_in_conflict``.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y).ravel()
    _, idx = NearestNeighbors(n_neighbors=1).fit(X).kneighbors()
    nn_major = y[idx[y == 1, 0]] == 0
    _, inverse = np.unique(X, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    has0 = np.bincount(inverse, weights=(y == 0), minlength=inverse.max() + 1) > 0
    has1 = np.bincount(inverse, weights=(y == 1), minlength=inverse.max() + 1) > 0
    conflict = has0 & has1
    return {
        "minority_nn_majority_share": float(nn_major.mean()) if len(nn_major) else 0.0,
        "n_conflicting_feature_rows": int(conflict.sum()),
        "n_rows_in_conflict": int(conflict[inverse].sum()),
    }


def data_report(
    splits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    X_all: np.ndarray,
    y_all: np.ndarray,
    types: np.ndarray | None = None,
) -> dict[str, Any]:
    """Class counts and imbalance ratio (n_majority / n_minority) overall and per split,
    minority typology (``types``, computed when not given) and class overlap of all rows;
    JSON-friendly."""
    types = minority_typology(X_all, y_all) if types is None else types
    return {
        "n_features": int(np.asarray(X_all).shape[1]),
        "counts": {
            "all": _class_counts(np.asarray(y_all)),
            **{name: _class_counts(np.asarray(y)) for name, (_, y) in splits.items()},
        },
        "typology": typology_counts(types),
        "overlap": class_overlap(X_all, y_all),
    }


def calibration(probs: np.ndarray, target: np.ndarray, n_bins: int = 15) -> dict[str, Any]:
    """Expected calibration error (L1, torchmetrics) overall and on minority rows, plus bins.

    Returns
    -------
    dict with ``ece``, ``ece_minority`` (None without minority rows), ``n_bins`` and ``bins``:
    per bin ``lower``, ``upper``, ``confidence`` (mean probability), ``fraction_positive``,
    ``count`` (mean values are None for empty bins).
    """
    p = torch.as_tensor(np.asarray(probs, dtype=np.float32)).ravel()
    t = torch.as_tensor(np.asarray(target)).ravel().long()

    def ece(mask: torch.Tensor) -> float | None:
        if not bool(mask.any()):
            return None
        metric = BinaryCalibrationError(n_bins=n_bins, norm="l1")
        return float(metric(p[mask], t[mask]))

    edges = np.linspace(0.0, 1.0, n_bins + 1)
    pn, tn = p.numpy().astype(np.float64), t.numpy()
    # The bins of torchmetrics (bucketize, right=True); p == 1 joins the last bin.
    idx = np.clip(np.searchsorted(edges, pn, side="right") - 1, 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        sel = idx == b
        n = int(sel.sum())
        bins.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "confidence": float(pn[sel].mean()) if n else None,
                "fraction_positive": float(tn[sel].mean()) if n else None,
                "count": n,
            }
        )
    return {
        "ece": ece(torch.ones_like(t, dtype=torch.bool)),
        "ece_minority": ece(t == 1),
        "n_bins": n_bins,
        "bins": bins,
    }


def _recalls(probs: np.ndarray, target: np.ndarray, threshold: float) -> dict[str, Any]:
    pred = np.asarray(probs).ravel() > threshold  # as torchmetrics: positive above threshold
    t = np.asarray(target).ravel()
    r_min = float(pred[t == 1].mean()) if (t == 1).any() else None
    r_maj = float((~pred[t == 0]).mean()) if (t == 0).any() else None
    gap = r_maj - r_min if r_min is not None and r_maj is not None else None
    return {"minority_recall": r_min, "majority_recall": r_maj, "recall_gap": gap}


def model_report(
    probs: Mapping[str, np.ndarray],
    targets: Mapping[str, np.ndarray],
    threshold: float,
    max_gap: float = 0.2,
    n_bins: int = 15,
) -> dict[str, Any]:
    """Per-class recall per split, calibration on test, and the train/test minority-recall gap.

    ``generalisation_gap_flag`` is True when train minority recall exceeds test minority recall
    by more than ``max_gap`` (the minority class is memorised, not learnt).
    """
    per_split = {s: _recalls(probs[s], targets[s], threshold) for s in probs if s in targets}
    minority = {s: r["minority_recall"] for s, r in per_split.items()}
    tr, te = minority.get("train"), minority.get("test")
    diff = tr - te if tr is not None and te is not None else None
    return {
        "threshold": float(threshold),
        "recall": per_split,
        "calibration_test": (
            calibration(probs["test"], targets["test"], n_bins) if "test" in per_split else None
        ),
        "generalisation": {
            "minority_recall": minority,
            "train_minus_test": diff,
            "max_gap": float(max_gap),
            "generalisation_gap_flag": bool(diff is not None and diff > max_gap),
        },
    }


def reliability_figure(calib: Mapping[str, Any], title: str = "reliability (test)") -> Figure:
    """Reliability diagram of a :func:`calibration` dict, with the rows per bin below it."""
    fig, (ax, ax_n) = _pyplot().subplots(
        2, 1, figsize=(4.8, 5.2), height_ratios=[3, 1], sharex=True, layout="constrained"
    )
    bins = [b for b in calib["bins"] if b["count"]]
    conf = [b["confidence"] for b in bins]
    frac = [b["fraction_positive"] for b in bins]
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    ax.plot(conf, frac, marker="o", color="tab:blue", label="model")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("fraction positive (minority)")
    ece_min = calib.get("ece_minority")
    ece_txt = f"ECE {calib['ece']:.3f}" if calib.get("ece") is not None else "ECE -"
    ece_txt += f", minority ECE {ece_min:.3f}" if ece_min is not None else ""
    ax.set_title(f"{title}\n{ece_txt}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    lows = [b["lower"] for b in calib["bins"]]
    widths = [b["upper"] - b["lower"] for b in calib["bins"]]
    counts = [max(b["count"], 0) for b in calib["bins"]]
    ax_n.bar(lows, counts, width=widths, align="edge", color="tab:blue", alpha=0.5)
    ax_n.set_yscale("log")
    # Plain numbers at powers of ten only: minor labels (2x10^0, 3x10^0, ...) pile up here.
    ax_n.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax_n.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax_n.set_xlabel("mean predicted probability")
    ax_n.set_ylabel("rows")
    return fig


def probability_histograms_figure(
    probs: np.ndarray, target: np.ndarray, threshold: float | None = None, n_bins: int = 30
) -> Figure:
    """Histogram of the predicted probability for each true class, log-scale counts."""
    p, t = np.asarray(probs).ravel(), np.asarray(target).ravel()
    fig, ax = _pyplot().subplots(figsize=(5.5, 3.8), layout="constrained")
    edges = np.linspace(0, 1, n_bins + 1)
    for label, color, name in ((0, "tab:blue", "0 (majority)"), (1, "tab:red", "1 (minority)")):
        ax.hist(p[t == label], bins=edges, color=color, alpha=0.55, label=f"true {name}")
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:.2f}")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("predicted probability of class 1")
    ax.set_ylabel("rows (log)")
    ax.legend(fontsize=8)
    ax.set_title("predicted probability by true class (test)", fontsize=9)
    return fig


def typology_pca_figure(X: np.ndarray, y: np.ndarray, types: np.ndarray) -> Figure:
    """2D PCA of ``X``: majority rows in grey, minority rows coloured by their type.

    ``types`` holds one type per minority row, in row order (as :func:`minority_typology`).
    """
    X, y, types = np.asarray(X, dtype=np.float64), np.asarray(y).ravel(), np.asarray(types)
    if X.shape[1] > 2:
        pca = PCA(n_components=2).fit(X)
        xy, var = pca.transform(X), pca.explained_variance_ratio_
        labels = [f"PC {i + 1} ({v:.0%} of variance)" for i, v in enumerate(var)]
    else:
        xy, labels = X, ["x0", "x1"]
    fig, ax = _pyplot().subplots(figsize=(6, 5), layout="constrained")
    ax.scatter(*xy[y == 0].T, s=6, c="lightgrey", alpha=0.6, label=f"0 majority ({(y == 0).sum()})")
    xy_min = xy[y == 1]
    for i, t in enumerate(TYPES):
        sel = types == t
        if sel.any():  # safe drawn on top: the rarest sight on imbalanced data
            ax.scatter(*xy_min[sel].T, s=22, c=TYPE_COLORS[t], ec="black", lw=0.3,
                       zorder=3 + len(TYPES) - i, label=f"1 {t} ({sel.sum()})")  # fmt: skip
    ax.set(xlabel=labels[0], ylabel=labels[1])
    ax.legend(fontsize=8, markerscale=1.3)
    view = "PCA projection" if X.shape[1] > 2 else "2D data"
    # A few far majority rows (a rare value of a binary column) would squeeze the rest into a
    # line: the view holds every minority row and the central 96 % of the majority rows.
    xy_maj = xy[y == 0] if (y == 0).any() else xy
    lo = np.minimum(np.percentile(xy_maj, 2, axis=0), xy_min.min(axis=0, initial=np.inf))
    hi = np.maximum(np.percentile(xy_maj, 98, axis=0), xy_min.max(axis=0, initial=-np.inf))
    pad = 0.05 * (hi - lo + 1e-9)
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    outside = int((((xy < lo - pad) | (xy > hi + pad)).any(axis=1)).sum())
    note = f"; {outside} far majority rows outside the view" if outside else ""
    ax.set_title(f"minority typology (5 nearest neighbours), {view}{note}", fontsize=9)
    return fig


def decision_boundary_figure(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    title: str = "",
    resolution: int = 200,
) -> Figure:
    """Predicted probability over a grid of 2D data, its 0.5 contour and the rows."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y).ravel()
    if X.shape[1] != 2:
        raise ValueError(f"decision_boundary_figure needs 2D data, got {X.shape[1]} features")
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0) + 1e-9)
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    Z = np.asarray(predict_proba(grid), dtype=np.float64).reshape(gx.shape)
    fig, ax = _pyplot().subplots(figsize=(5.5, 4.8), layout="constrained")
    cs = ax.contourf(gx, gy, Z, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35)
    fig.colorbar(cs, ax=ax, label="predicted probability of class 1")
    if Z.min() < 0.5 < Z.max():
        ax.contour(gx, gy, Z, levels=[0.5], colors="black", linewidths=1.5)
        ax.plot([], [], color="black", lw=1.5, label="p = 0.5")
    ax.scatter(*X[y == 0].T, s=7, c="tab:blue", ec="white", lw=0.2, label="0 majority")
    ax.scatter(*X[y == 1].T, s=16, c="tab:red", ec="black", lw=0.3, label="1 minority")
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title or "decision boundary (p = 0.5)", fontsize=9)
    return fig
