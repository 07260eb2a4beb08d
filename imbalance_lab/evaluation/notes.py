"""Run notes: what a reader of the results should know and would not see in the numbers.

Each note is ``{"kind": ..., "text": ...}`` in metrics.json's ``notes`` list, printed under the
run's table and gathered per configuration under the leaderboard. They come from the run's own
record (class counts, per-split recalls, the loss's resolved weight), so a note is only as
sure as the numbers beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# A sampler whose class ratio moved less than this (relative) left the imbalance as it was.
RATIO_UNCHANGED = 0.1
# Training classes within this ratio of each other are balanced: pos_weight auto is ~1.
BALANCED = 0.1


def _ratio(counts: Mapping[str, int]) -> float:
    return int(counts["0"]) / max(int(counts["1"]), 1)


def _sampler_note(results: Mapping[str, Any]) -> str | None:
    sampler = results.get("choices", {}).get("sampler")
    if sampler in (None, "none") or results.get("sampler", {}).get("class") == "FunctionSampler":
        return None
    before, after = results["class_counts"]["train_before"], results["class_counts"]["train"]
    r0, r1 = _ratio(before), _ratio(after)
    if abs(r1 / r0 - 1) >= RATIO_UNCHANGED:
        return None
    moved = sum(int(before[c]) - int(after[c]) for c in "01")
    change = (
        f"removed {moved:,} rows"
        if moved > 0
        else f"added {-moved:,} rows"
        if moved
        else "kept every row"
    )
    return (
        f"sampler={sampler} left the training classes at 1:{r1:.0f} (before it 1:{r0:.0f}; it "
        f"{change}): the model trained on data as imbalanced as without a sampler."
    )


def _single_class_notes(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(split, text) for each of val and test on which the model predicts one class only."""
    notes = []
    recall = results.get("diagnostics", {}).get("recall", {})
    at = f"(threshold {results['threshold']['value']:.4g})"
    for split in ("val", "test"):
        r = recall.get(split) or {}
        minority, majority = r.get("minority_recall"), r.get("majority_recall")
        if minority == 0 and majority == 1:
            text = (
                f"the model predicts class 0 for every {split} row {at}: minority recall 0, "
                "F1 0; it learnt nothing of the minority class."
            )
            notes.append((split, text))
        elif minority == 1 and majority == 0:
            text = (
                f"the model predicts class 1 for every {split} row {at}: precision is the "
                "prevalence; it separates nothing."
            )
            notes.append((split, text))
    return notes


def _pos_weight_note(results: Mapping[str, Any], batch_sampling: str) -> str | None:
    loss = results.get("settings", {}).get("loss", {})
    weight = results.get("pos_weight")
    if loss.get("pos_weight") != "auto" or weight is None:
        return None
    scale = float(loss.get("scale", 1.0))
    loss_name = results.get("choices", {}).get("loss", "weighted_bce")
    plain = "bce" if scale == 1 else f"bce with every positive weighted {scale:g}"
    if batch_sampling == "balanced":
        why = "data.batch_sampling=balanced already draws the classes 1:1"
    else:
        ratio = _ratio(results["class_counts"]["train"])
        if abs(ratio - 1) >= BALANCED:
            return None
        sampler = results.get("choices", {}).get("sampler", "the sampler")
        why = f"sampler={sampler} balanced the training classes (1:{1 / ratio:.2f})"
    return (
        f"loss.pos_weight=auto resolved to {weight:.2f}: {why}, so loss={loss_name} trains as "
        f"{plain} here."
    )


def _gap_note(results: Mapping[str, Any]) -> str | None:
    gap = results.get("diagnostics", {}).get("generalisation", {})
    if not gap.get("generalisation_gap_flag"):
        return None
    recall = gap["minority_recall"]
    return (
        f"minority recall is {recall['train']:.2f} on the train rows but {recall['test']:.2f} on "
        f"test (gap {gap['train_minus_test']:.2f} > {gap['max_gap']:.2f}): the minority class is "
        "memorised rather than learnt (more model.net.dropout, fewer epochs or a milder "
        "sampler may help)."
    )


def run_notes(
    results: Mapping[str, Any],
    grouped_categories: Mapping[str, tuple[int, int]] | None = None,
    batch_sampling: str = "shuffle",
    max_categories: int | None = None,
) -> list[dict[str, str]]:
    """The notes of one finished run's record (``results``, as written to metrics.json).

    ``grouped_categories``: column -> (levels in train, levels kept), columns whose rare levels
    share an "other" column (``ImbalanceDataModule.grouped_categories``).
    """
    notes: list[dict[str, str]] = []

    def add(kind: str, text: str | None) -> None:
        if text:
            notes.append({"kind": kind, "text": text})

    add("sampler_unchanged", _sampler_note(results))
    for split, text in _single_class_notes(results):
        add(f"single_class_{split}", text)
    add("pos_weight_one", _pos_weight_note(results, batch_sampling))
    add("generalisation_gap", _gap_note(results))
    for name, (levels, kept) in (grouped_categories or {}).items():
        add(
            "categories_grouped",
            f"categorical column {name}: {levels:,} levels in train; the {kept} most frequent "
            f"are one-hot encoded, the rest share one 'other' column "
            f"(data.max_categories={max_categories}).",
        )
    return notes


def configuration_notes(
    runs: Sequence[Mapping[str, Any]], labels: Sequence[str]
) -> dict[str, list[str]]:
    """Per configuration label: ``kind: text (k of n runs)``, the text of its first run."""
    out: dict[str, list[str]] = {}
    for label in dict.fromkeys(labels):
        group = [r for r, lab in zip(runs, labels, strict=True) if lab == label]
        ok = [r for r in group if r.get("status") == "ok"]
        first: dict[str, str] = {}
        count: dict[str, int] = {}
        for run in ok:
            for kind in dict.fromkeys(n["kind"] for n in run.get("notes", [])):
                count[kind] = count.get(kind, 0) + 1
                first.setdefault(kind, next(n["text"] for n in run["notes"] if n["kind"] == kind))
        if count:
            out[label] = [f"{first[k]} ({count[k]} of {len(ok)} runs)" for k in count]
    return out
