"""Rich tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from imbalance_lab.evaluation.names import ALL_METRICS


def print_run_table(
    results: dict[str, Any],
    console: Console | None = None,
    splits: Sequence[tuple[str, str]] = (("val", "val"), ("test", "test")),
) -> None:
    """Metrics of one run (``splits``: (header, key of ``results``) per column), the confusion
    counts of the last one, and the class counts, timings and notes when ``results`` holds them."""
    console = console or Console()
    choices = results.get("choices", {})
    title = (
        f"{results['dataset']}: sampler={choices.get('sampler', '?')} "
        f"loss={choices.get('loss', '?')} seed={results['seed']}"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("metric (minority = 1)")
    for header, _ in splits:
        table.add_column(header, justify="right")
    for m in ALL_METRICS:
        table.add_row(m, *(f"{results[key][m]:.3f}" for _, key in splits))
    console.print(table)
    c = results["confusion"]
    cm = Table(title=f"{splits[-1][0]} confusion matrix", title_justify="left")
    cm.add_column("")
    cm.add_column("pred 0", justify="right")
    cm.add_column("pred 1", justify="right")
    cm.add_row("true 0", str(c["tn"]), str(c["fp"]))
    cm.add_row("true 1", str(c["fn"]), str(c["tp"]))
    console.print(cm)
    thr = results["threshold"]
    if "timings" not in results:  # a model evaluated on a file, not a training run
        console.print(f"threshold {thr['value']:.3f} ({thr['rule']})")
        return
    counts, t = results["class_counts"], results["timings"]
    # threshold=oof: the models trained on inner parts of the split, each resampled.
    inner = ", the inner training parts' mean" if "train_folds" in counts else ""
    console.print(
        f"train class counts {counts['train_before']} -> {counts['train']} after "
        f"resampling{inner}; "
        f"val {counts['val']}, test {counts['test']}\n"
        f"threshold {thr['value']:.3f} ({thr['rule']}); "
        f"resample {t['resample_s']:.2f}s, train {t['train_s']:.1f}s"
    )
    gap = generalisation_line(results)
    if gap:
        console.print(gap, highlight=False)
    print_notes([n["text"] for n in results.get("notes", [])], console)


def generalisation_line(results: dict[str, Any]) -> str:
    """Minority recall on train (its rows before resampling), val and test, and whether the
    train - test gap is flagged (``diagnostics.model_report``); "" without those numbers."""
    gen = results.get("diagnostics", {}).get("generalisation") or {}
    recall, diff = gen.get("minority_recall") or {}, gen.get("train_minus_test")
    if diff is None:
        return ""
    splits = ", ".join(
        f"{s} {recall[s]:.2f}" for s in ("train", "val", "test") if recall.get(s) is not None
    )
    verdict = (
        f"[bold yellow]flagged: over {gen['max_gap']:.2f}[/]"
        if gen.get("generalisation_gap_flag")
        else f"within {gen['max_gap']:.2f}"
    )
    return f"minority recall {splits}; train - test gap {diff:.2f} ({verdict})"


def print_notes(notes: list[str], console: Console, title: str = "notes") -> None:
    """Notes (``evaluation.notes``) as a list under a table, in yellow: read before the rows."""
    if notes:
        console.print(f"[bold yellow]{title}:[/]")
        for text in notes:
            console.print(f"[yellow]- {text}[/]", highlight=False)
