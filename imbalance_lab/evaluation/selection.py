"""Choosing a configuration on validation, never on test (``selection.md``, and the model of a
sweep folder).

What it chooses on. Each run records its threshold rule scored on validation rows it did not
choose the threshold on (``val_cross_fitted``, see
:func:`imbalance_lab.evaluation.threshold.cross_fitted_metrics`); the configuration with the
best mean cross-fitted validation F1 over its runs (folds, seeds) is chosen per dataset. Two
readings of the same validation split flatter noisy configurations and so pick them: the F1 of
a threshold tuned on the very rows it is scored on, and the PR-AUC of the checkpoint chosen for
its validation PR-AUC (the earlier rule). Measured on the 10 datasets of
``experiment=benchmark`` and 10 other KEEL sets, 7 strategies x 5 folds each (README, "Choosing
on validation"): the earlier rule's choice lost 0.023 and 0.025 mean test F1 to the best
strategy fixed in hindsight; this one loses 0.014 and 0.008, and beats a strategy fixed in
advance of each dataset. Sweeps written before runs recorded it are chosen on validation
PR-AUC, as they were. Ties on the cross-fitted F1 go to validation PR-AUC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from imbalance_lab.errors import ConfigError

# criterion name -> (the metrics.json section, the metric in it)
CRITERIA = {"f1_cross_fitted": ("val_cross_fitted", "f1"), "pr_auc": ("val", "pr_auc")}
SELECT_ON = "f1_cross_fitted"
# How a reader is told what the choice was made on.
READABLE = {"f1_cross_fitted": "F1 (cross-fitted)", "pr_auc": "PR-AUC"}


def completeness(runs: Sequence[dict[str, Any]], labels: Sequence[str]) -> pd.DataFrame:
    """Finished and failed runs per dataset and strategy (columns dataset, strategy, runs,
    failed, complete); complete = at least one run and none failed."""
    counts: dict[tuple[str, str], list[int]] = {}
    for r, lab in zip(runs, labels, strict=True):
        cell = counts.setdefault((str(r.get("dataset") or "?"), lab), [0, 0])
        cell[r.get("status") != "ok"] += 1
    df = pd.DataFrame(
        [(d, s, ok, failed) for (d, s), (ok, failed) in counts.items()],
        columns=["dataset", "strategy", "runs", "failed"],
    )
    df["complete"] = (df["runs"] > 0) & (df["failed"] == 0)
    return df


def incomplete_lines(cells: pd.DataFrame) -> list[str]:
    """One Markdown list line per incomplete configuration of ``cells`` (the ``incomplete``
    frame of :func:`choose_on_validation`: strategy, dataset, runs, failed)."""
    return [
        f"- {c.strategy} on {c.dataset}: incomplete, {c.runs} of {c.runs + c.failed} runs "
        f"finished ({c.failed} failed)"
        for c in cells.itertuples()
    ]


def dataset_table(
    runs: Sequence[dict[str, Any]], labels: Sequence[str], metric: str = "f1", split: str = "test"
) -> pd.DataFrame:
    """Mean ``split`` ``metric`` per dataset (rows) and strategy (columns) over seeds/folds.
    ``split``: a section of metrics.json (``test``, ``val``, ``val_cross_fitted``). Raises
    ``ConfigError`` when no finished run has it."""
    rows = [
        {"dataset": str(r.get("dataset") or "?"), "strategy": lab, "value": r[split][metric]}
        for r, lab in zip(runs, labels, strict=True)
        if r.get("status") == "ok" and metric in r.get(split, {})
    ]
    if not rows:
        raise ConfigError(f"no finished run reports {split} {metric}.")
    df = pd.DataFrame(rows)
    return df.pivot_table(index="dataset", columns="strategy", values="value", aggfunc="mean")


def criterion_for(runs: Sequence[dict[str, Any]]) -> str:
    """What these runs can be chosen on: ``f1_cross_fitted`` when every finished run recorded
    it, else ``pr_auc`` (sweeps written before runs recorded it)."""
    ok = [r for r in runs if r.get("status") == "ok"]
    return SELECT_ON if all("f1" in r.get("val_cross_fitted", {}) for r in ok) else "pr_auc"


def select_by_validation(
    runs: Sequence[dict[str, Any]],
    labels: Sequence[str],
    metric: str = "f1",
    select_on: str = SELECT_ON,
) -> pd.DataFrame:
    """Per dataset, the strategy with the best mean validation ``select_on`` (a key of
    :data:`CRITERIA`), and its test ``metric`` beside the best test one.

    Test data plays no part in the choice, so the reported test score is an honest estimate of
    what choosing a strategy this way delivers. Columns: dataset, selected, ``val_<select_on>``,
    ``test_<metric>``, ``best_test_<metric>``, best_on_test.
    """
    split, on = CRITERIA[select_on]
    val = dataset_table(runs, labels, on, split=split)
    test = dataset_table(runs, labels, metric, split="test")
    # A cross-fitted F1 is a ratio of small counts: ties (every configuration at 0 on a split
    # without validation positives, fixed thresholds on one seed) go to the validation PR-AUC.
    ties = dataset_table(runs, labels, "pr_auc", split="val") if select_on != "pr_auc" else val
    out = []
    for dataset, row in val.iterrows():
        best = row[row >= row.max() - 1e-12].index
        chosen = ties.loc[dataset, best].idxmax() if len(best) > 1 else best[0]
        out.append(
            {
                "dataset": dataset,
                "selected": chosen,
                f"val_{select_on}": row[chosen],
                f"test_{metric}": test.loc[dataset, chosen],
                f"best_test_{metric}": test.loc[dataset].max(),
                "best_on_test": test.loc[dataset].idxmax(),
            }
        )
    return pd.DataFrame(out)


def against_fixed_choices(
    runs: Sequence[dict[str, Any]],
    labels: Sequence[str],
    metric: str = "f1",
    select_on: str = SELECT_ON,
    selection: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """What the choice per dataset delivered against choices that ignore the dataset: mean
    test ``metric`` over the datasets on which every configuration is complete, for the
    choice per dataset, one configuration for all of them chosen on validation (best mean
    ``select_on`` over the datasets), each configuration always (the best of them is picked
    on these very test scores), one fixed in advance of each dataset (with 3 or more datasets:
    the configuration with the best mean test score on the other datasets, leave one dataset
    out), and the best on test per dataset (which no honest choice can make: its lead is
    partly the test split's noise). Columns: choice, ``test_<metric>``; ``attrs["datasets"]``:
    how many datasets the means cover. ``None`` with fewer than 2 configurations.
    ``selection``: :func:`select_by_validation`'s table of these runs, when already computed.
    """
    split, on = CRITERIA[select_on]
    test = dataset_table(runs, labels, metric).dropna(axis=0, how="any")
    val = dataset_table(runs, labels, on, split=split).loc[test.index]
    if test.shape[1] < 2 or test.empty:
        return None
    if selection is None:
        selection = select_by_validation(runs, labels, metric, select_on)
    per_dataset = selection.set_index("dataset").loc[test.index, "selected"]
    pooled = val.mean().idxmax()
    chosen = float(sum(test.loc[d, s] for d, s in per_dataset.items()) / len(test))
    rows = [
        ("chosen per dataset on validation", chosen),
        *(
            [(f"one for all datasets, chosen on validation: {pooled}", float(test[pooled].mean()))]
            if len(test) > 1
            else []
        ),
        *((f"always {s}", float(v)) for s, v in test.mean().sort_values(ascending=False).items()),
        *(
            [("fixed in advance: the best on the other datasets' test", in_advance(test))]
            if len(test) > 2
            else []
        ),
        ("the best on test per dataset (not a choice: test picks it)", float(test.max(1).mean())),
    ]
    out = pd.DataFrame(rows, columns=["choice", f"test_{metric}"])
    out.attrs["datasets"] = len(test)
    return out


def in_advance(test: pd.DataFrame) -> float:
    """Mean over datasets (rows of ``test``, configurations in columns) of the test score of
    the configuration with the best mean on the other datasets: a fixed choice made before
    seeing the dataset, from what the others showed (leave one dataset out)."""
    picks = {d: test.drop(index=d).mean().idxmax() for d in test.index}
    return float(sum(test.loc[d, s] for d, s in picks.items()) / len(test))


@dataclass
class ValidationChoice:
    """What selection.md reports, computed once for every reader of it (the report, and
    ``imbalance-lab predict`` given a sweep folder).

    ``labels``: each run's configuration label (failed runs included, so that they count
    against their configuration); ``incomplete``: (dataset, strategy) cells with a failed run;
    ``kept``: the finished runs of complete cells with their labels; ``table``: per dataset the
    configuration with the best mean validation ``select_on`` (:func:`select_by_validation`),
    ``None`` when no configuration is complete; ``select_on``: a key of :data:`CRITERIA`.
    """

    labels: list[str]
    incomplete: pd.DataFrame
    kept: list[tuple[dict[str, Any], str]]
    table: pd.DataFrame | None
    select_on: str = SELECT_ON


def choose_on_validation(
    runs: Sequence[dict[str, Any]], metric: str = "f1", select_on: str | None = None
) -> ValidationChoice:
    """The choice selection.md writes: complete configurations only, best mean validation
    ``select_on`` per dataset (a key of :data:`CRITERIA`; None = :func:`criterion_for`), test
    ``metric`` reported beside it, never used to choose. Raises ``ConfigError`` when
    ``select_on`` is unknown or a finished run did not record it."""
    if select_on is not None and select_on not in CRITERIA:
        raise ConfigError(f"--select-on {select_on} is unknown; use one of {', '.join(CRITERIA)}.")
    from imbalance_lab.evaluation.leaderboard import label_runs

    labels = label_runs(runs, exclude=("data", "data.name"))
    cells = completeness(runs, labels)
    incomplete = cells[~cells["complete"]]
    done = cells[cells["complete"]]
    complete = set(zip(done["dataset"], done["strategy"], strict=True))
    kept = [
        (r, lab)
        for r, lab in zip(runs, labels, strict=True)
        if r.get("status") == "ok" and (str(r.get("dataset") or "?"), lab) in complete
    ]
    found = criterion_for([r for r, _ in kept])
    if select_on == SELECT_ON and found != SELECT_ON:
        raise ConfigError(
            "these runs recorded no cross-fitted validation F1 (an earlier version wrote them); "
            "choose on --select-on pr_auc."
        )
    select_on = select_on or found
    table = None
    if kept:
        table = select_by_validation(
            [r for r, _ in kept], [lab for _, lab in kept], metric, select_on=select_on
        )
    return ValidationChoice(labels, incomplete, kept, table, select_on)


# How selection.md says what the choice was made on.
CHOSEN_ON = {
    "f1_cross_fitted": (
        "each configuration's mean validation F1 cross-fitted: every validation row classified "
        "at a threshold its run's own rule chose on the other validation rows "
        "(`val_cross_fitted` in metrics.json). Scored on the rows it was tuned on, a threshold "
        "flatters the noisiest configurations, and so does the PR-AUC of a checkpoint chosen "
        "on that PR-AUC."
    ),
    "pr_auc": (
        "each configuration's mean validation PR-AUC (the earlier rule: chosen with "
        "`--select-on pr_auc`, or some of these runs were written by a version that did not "
        "record the cross-fitted F1)."
    ),
}


def selection_markdown(choice: ValidationChoice, metric: str = "f1") -> str:
    """selection.md up to its list of incomplete configurations: what the choice was made on,
    the choice per dataset and, with 2 or more configurations and datasets,
    :func:`against_fixed_choices`.
    ``choice.table`` must not be ``None``."""
    assert choice.table is not None
    text = choice.table.to_markdown(index=False, floatfmt=".3f") + "\n"
    runs, labels = [r for r, _ in choice.kept], [lab for _, lab in choice.kept]
    fixed = against_fixed_choices(runs, labels, metric, choice.select_on, choice.table)
    if fixed is not None and (n := fixed.attrs["datasets"]) > 1:  # else the leaderboard says it
        text += (
            f"\n## Against fixed choices\n\nMean test {metric} over the {n} datasets on which "
            "every configuration is complete, read after the choice. With few validation "
            "positives, a choice per dataset can lose to one configuration used everywhere; "
            "the best on test per dataset is out of reach of any choice made without test "
            "data.\n\n" + fixed.to_markdown(index=False, floatfmt=".3f") + "\n"
        )
    return text
