"""Run notes: each situation a reader must be told about triggers its note, in metrics.json,
under the run's table and under the leaderboard; ordinary runs carry none."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from conftest import SERIAL, TINY, run_cli

from imbalance_lab.evaluation.notes import configuration_notes, run_notes


def record(**changes) -> dict:
    """A finished run's record, as metrics.json holds it: sampler=smote, loss=bce, fine."""
    base = {
        "status": "ok",
        "choices": {"sampler": "smote", "loss": "bce"},
        "sampler": {"class": "SMOTE", "params": {}},
        "class_counts": {"train_before": {"0": 900, "1": 20}, "train": {"0": 900, "1": 300}},
        "threshold": {"value": 0.5, "rule": "fixed"},
        "settings": {"loss": {"_target_": "torch.nn.BCEWithLogitsLoss"}},
        "pos_weight": None,
        "diagnostics": {
            "recall": {
                s: {"minority_recall": 0.6, "majority_recall": 0.95} for s in ("val", "test")
            },
            "generalisation": {
                "minority_recall": {"train": 0.7, "test": 0.6},
                "train_minus_test": 0.1,
                "max_gap": 0.2,
                "generalisation_gap_flag": False,
            },
        },
    }
    for path, value in changes.items():
        node = base
        *parents, leaf = path.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return base


def kinds(notes: list[dict]) -> list[str]:
    return [n["kind"] for n in notes]


def test_an_ordinary_run_has_no_notes() -> None:
    assert run_notes(record()) == []
    none = record(choices={"sampler": "none", "loss": "bce"})
    none["class_counts"]["train"] = dict(none["class_counts"]["train_before"])
    assert run_notes(none) == []  # no sampler: an unchanged ratio is expected


def test_a_sampler_that_left_the_ratio_is_noted() -> None:
    tomek = record(choices={"sampler": "tomek", "loss": "bce"})
    tomek["class_counts"]["train"] = {"0": 880, "1": 20}  # 1:45 -> 1:44
    [note] = run_notes(tomek)
    assert note["kind"] == "sampler_unchanged"
    assert "sampler=tomek left the training classes at 1:44 (before it 1:45" in note["text"]
    assert "removed 20 rows" in note["text"]


def test_a_model_predicting_one_class_is_noted_per_split() -> None:
    run = record()
    run["diagnostics"]["recall"]["test"] = {"minority_recall": 0.0, "majority_recall": 1.0}
    run["diagnostics"]["recall"]["val"] = {"minority_recall": 1.0, "majority_recall": 0.0}
    notes = run_notes(run)
    assert kinds(notes) == ["single_class_val", "single_class_test"]
    assert "predicts class 1 for every val row" in notes[0]["text"]
    assert "predicts class 0 for every test row" in notes[1]["text"]


def test_pos_weight_auto_of_one_is_explained() -> None:
    weighted = record(
        choices={"sampler": "random_over", "loss": "weighted_bce"},
        settings={"loss": {"pos_weight": "auto", "scale": 1.0}},
        pos_weight=1.0,
    )
    weighted["class_counts"]["train"] = {"0": 900, "1": 900}
    [note] = run_notes(weighted)
    assert note["kind"] == "pos_weight_one"
    assert "sampler=random_over balanced the training classes" in note["text"]
    assert "loss=weighted_bce trains as bce here" in note["text"]
    balanced = copy.deepcopy(weighted)
    balanced["choices"]["sampler"] = "none"
    balanced["class_counts"]["train"] = {"0": 900, "1": 20}
    assert (
        "data.batch_sampling=balanced" in run_notes(balanced, batch_sampling="balanced")[0]["text"]
    )
    # Imbalanced training data: the weight does its work, nothing to say.
    assert run_notes(balanced) == []
    fixed = copy.deepcopy(weighted)
    fixed["settings"]["loss"]["pos_weight"] = 1.0  # chosen, not resolved
    assert run_notes(fixed) == []


def test_the_generalisation_gap_flag_is_a_note() -> None:
    run = record()
    run["diagnostics"]["generalisation"].update(
        minority_recall={"train": 0.95, "test": 0.4},
        train_minus_test=0.55,
        generalisation_gap_flag=True,
    )
    [note] = run_notes(run)
    assert note["kind"] == "generalisation_gap"
    assert "0.95 on the train rows but 0.40 on test (gap 0.55 > 0.20)" in note["text"]


def test_the_run_table_prints_minority_recall_per_split_and_the_gap() -> None:
    from imbalance_lab.evaluation.tables import generalisation_line

    run = record()
    run["diagnostics"]["generalisation"]["minority_recall"]["val"] = 0.65
    assert generalisation_line(run) == (
        "minority recall train 0.70, val 0.65, test 0.60; train - test gap 0.10 (within 0.20)"
    )
    run["diagnostics"]["generalisation"].update(
        minority_recall={"train": 0.95, "test": 0.4},
        train_minus_test=0.55,
        generalisation_gap_flag=True,
    )
    assert "gap 0.55 ([bold yellow]flagged: over 0.20[/])" in generalisation_line(run)
    run["diagnostics"]["generalisation"]["train_minus_test"] = None  # e.g. no train recall
    assert generalisation_line(run) == ""


def test_grouped_categories_are_noted() -> None:
    [note] = run_notes(record(), {"merchant": (2000, 49)}, max_categories=50)
    assert note == {
        "kind": "categories_grouped",
        "text": "categorical column merchant: 2,000 levels in train; the 49 most frequent are "
        "one-hot encoded, the rest share one 'other' column (data.max_categories=50).",
    }


def test_configuration_notes_count_the_runs() -> None:
    a = {"status": "ok", "notes": [{"kind": "single_class_test", "text": "x"}]}
    b = {"status": "ok", "notes": []}
    assert configuration_notes([a, b, b], ["s", "s", "t"]) == {"s": ["x (1 of 2 runs)"]}


def test_notes_reach_metrics_json_the_run_table_and_the_leaderboard(tmp_path: Path) -> None:
    # random_over balances the classes, so weighted_bce's auto weight is 1; a threshold no
    # probability exceeds makes the model predict class 0 everywhere.
    proc = run_cli(
        "-m", *TINY, SERIAL, "print_table=true", "sampler=random_over", "loss=weighted_bce",
        "threshold.value=0.9999999", "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}",
    )  # fmt: skip
    run = json.loads((tmp_path / "0" / "metrics.json").read_text())
    assert {"pos_weight_one", "single_class_test"} <= set(kinds(run["notes"]))
    assert "notes:" in proc.stdout and "loss.pos_weight=auto resolved to 1.00" in proc.stdout
    board = (tmp_path / "leaderboard.md").read_text()
    notes = board.split("## Notes", 1)[1]
    assert "loss.pos_weight=auto resolved to 1.00" in notes and "(1 of 1 runs)" in notes
    assert "predicts class 0 for every test row" in notes
