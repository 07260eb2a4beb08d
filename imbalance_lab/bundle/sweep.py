"""A sweep folder as one model: the configuration selection.md chooses on validation, with the
probabilities of its runs (seeds, folds) averaged.

The choice is :func:`imbalance_lab.evaluation.selection.choose_on_validation`, the code that
writes selection.md: complete configurations only, best mean cross-fitted validation F1 per
dataset, test metrics never looked at. Its threshold is the mean of the runs' own validation-chosen
thresholds: their validation predictions are not kept, and with several seeds or folds each
run's validation split differs, so there is no one pooled split to tune on again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from imbalance_lab.bundle.model import Model
from imbalance_lab.bundle.store import BUNDLE_DIR, BUNDLE_FILE, find_bundle
from imbalance_lab.errors import ConfigError


def is_sweep(path: str | os.PathLike) -> bool:
    """A folder of runs (not a run folder or a bundle folder): it holds a run's
    ``metrics.json`` below it, or Hydra's ``multirun.yaml``."""
    path = Path(path).expanduser()
    if not path.is_dir() or (path / "metrics.json").is_file():
        return False
    if (path / BUNDLE_FILE).is_file() or (path / BUNDLE_DIR / BUNDLE_FILE).is_file():
        return False
    return (path / "multirun.yaml").is_file() or next(path.rglob("metrics.json"), None) is not None


class SweepModel:
    """The runs of one configuration as one model: :meth:`predict_proba` is the mean of their
    probabilities, ``threshold`` the mean of their thresholds. The same interface as
    :class:`~imbalance_lab.bundle.model.Model`; ``members``: the runs' models; ``notes``: what
    was chosen, in words."""

    def __init__(self, folder: Path, members: list[Model], info: dict[str, Any]) -> None:
        first = members[0]
        for m in members[1:]:
            if m.schema.to_json() != first.schema.to_json():
                raise ConfigError(
                    f"runs {first.folder} and {m.folder} of sweep {folder} read different "
                    "columns; give one run folder."
                )
        self.folder, self.members, self.info = folder, members, info
        self.schema = first.schema
        self.threshold = float(info["threshold"]["value"])
        self.feature_names_in_, self.classes_ = first.feature_names_in_, first.classes_
        self.last_report: dict[str, Any] = {}
        from imbalance_lab.evaluation.selection import READABLE

        n = len(members)
        self.notes = [
            f"sweep {folder}: dataset {info['dataset']}, configuration {info['selected']!r} "
            f"chosen on validation {READABLE[info['select_on']]} ({info['val_score']:.4f}, the "
            "rule of selection.md)",
            f"averaging the probabilities of its {n} runs; threshold {self.threshold:.4g} = "
            f"{info['threshold']['rule']}"
            if n > 1
            else f"its one run, {members[0].folder.parent}",
        ]

    def __repr__(self) -> str:
        return (
            f"SweepModel({self.folder}, {self.info['selected']!r}, {len(self.members)} runs, "
            f"threshold={self.threshold:.4g})"
        )

    def raw(self, X: Any, source: str = "the input") -> np.ndarray:
        """See :meth:`Model.raw`: the runs read the same columns, so once for all of them."""
        raw = self.members[0].raw(X, source)
        self.last_report = self.members[0].last_report
        return raw

    def score_raw(self, raw: np.ndarray) -> np.ndarray:
        """The mean of the runs' probabilities ``(n,)`` float32 (summed in float64)."""
        probs = np.stack([m.score_raw(raw) for m in self.members])
        return probs.mean(axis=0, dtype=np.float64).astype(np.float32)

    def predict_proba(self, X: Any, source: str = "the input") -> np.ndarray:
        """Probability of the positive class, shape ``(n,)``: the mean over the runs."""
        return self.score_raw(self.raw(X, source))

    def predict(self, X: Any, threshold: float | None = None) -> np.ndarray:
        """Labels in the training file's own values at ``threshold`` (default: ``threshold``)."""
        cut = self.threshold if threshold is None else float(threshold)
        return self.schema.label_values(self.predict_proba(X) > cut)


def load_sweep(folder: Path, dataset: str | None = None) -> SweepModel:
    """The model of sweep ``folder``: the configuration chosen on validation (for ``dataset``
    when the sweep covers several), its runs' bundles loaded. ``ConfigError`` when every run
    failed, no configuration finished all its runs, the sweep covers several datasets and
    ``dataset`` is not one of them, or a chosen run holds no bundle."""
    from imbalance_lab.evaluation.leaderboard import load_runs
    from imbalance_lab.evaluation.selection import choose_on_validation, incomplete_lines

    runs = load_runs([folder])
    if not any(r.get("status") == "ok" for r in runs):
        errors = list(dict.fromkeys(str(r.get("error", "failed")) for r in runs))
        raise ConfigError(
            f"every run of sweep {folder} failed ({len(runs)} runs; {errors[0]}"
            + (f", and {len(errors) - 1} other errors" if len(errors) > 1 else "")
            + "), so it holds no model; fix that and run the sweep again."
        )
    choice = choose_on_validation(runs)
    if choice.table is None:
        raise ConfigError(
            f"no configuration of sweep {folder} finished all its runs, so selection.md chose "
            f"none ({'; '.join(incomplete_lines(choice.incomplete))}); give one of its run "
            "folders instead."
        )
    table = choice.table.set_index("dataset")
    if dataset is None and len(table) > 1:
        raise ConfigError(
            f"sweep {folder} covers {len(table)} datasets ({', '.join(map(str, table.index))}), "
            "each with its own choice: name one with --dataset NAME (load_model(path, "
            "dataset=NAME)), or give a run folder."
        )
    if dataset is not None and dataset not in table.index:
        raise ConfigError(
            f"--dataset {dataset} is not a dataset with a complete configuration in sweep "
            f"{folder}; choose one of: {', '.join(map(str, table.index))}."
        )
    dataset = str(table.index[0] if dataset is None else dataset)
    selected = str(table.loc[dataset, "selected"])
    chosen = [
        r for r, lab in choice.kept if lab == selected and str(r.get("dataset") or "?") == dataset
    ]
    members = []
    for run in chosen:
        try:
            members.append(Model(find_bundle(run["path"])))
        except ConfigError as err:
            raise ConfigError(
                f"configuration {selected!r}, chosen on validation in sweep {folder}, has a run "
                f"that cannot be used: {err}"
            ) from None
    thresholds = [m.threshold for m in members]
    rules = {m.info["threshold"].get("rule", "") for m in members}
    if rules == {"fixed"}:
        rule = f"the fixed threshold of its {len(members)} runs"
    else:  # tuned, or tuned in some runs and kept fixed by the guard in others
        rule = f"the mean of the thresholds its {len(members)} runs chose on validation"
    keys = members[0].info["metrics"]["val"].keys()
    info = {
        "sweep": str(folder),
        "dataset": dataset,
        "selected": selected,
        "select_on": choice.select_on,
        "val_score": float(table.loc[dataset, f"val_{choice.select_on}"]),
        "runs": [str(m.folder.parent) for m in members],
        "threshold": {
            "value": float(np.mean(thresholds)),
            "rule": rule,
            "runs": thresholds,
        },
        # The runs' own validation metrics, averaged, as the leaderboard averages them.
        "metrics": {
            "val": {k: float(np.mean([m.info["metrics"]["val"][k] for m in members])) for k in keys}
        },
        "run": {
            **members[0].info["run"],
            "seed": [m.info["run"].get("seed") for m in members],
            "fold": [m.info["run"].get("fold") for m in members],
        },
    }
    return SweepModel(folder, members, info)
