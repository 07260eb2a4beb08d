"""Rich tables for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from imbalance_lab.evaluation.metrics import ALL_METRICS


def print_run_table(results: dict[str, Any], console: Console | None = None) -> None:
    """Test metrics of one run, its confusion counts, class counts and notes."""
    console = console or Console()
    choices = results.get("choices", {})
    title = (
        f"{results['dataset']}: sampler={choices.get('sampler', '?')} "
        f"loss={choices.get('loss', '?')} seed={results['seed']}"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("metric (minority = 1)")
    table.add_column("val", justify="right")
    table.add_column("test", justify="right")
    for m in ALL_METRICS:
        table.add_row(m, f"{results['val'][m]:.3f}", f"{results['test'][m]:.3f}")
    console.print(table)
    c = results["confusion"]
    cm = Table(title="test confusion matrix", title_justify="left")
    cm.add_column("")
    cm.add_column("pred 0", justify="right")
    cm.add_column("pred 1", justify="right")
    cm.add_row("true 0", str(c["tn"]), str(c["fp"]))
    cm.add_row("true 1", str(c["fn"]), str(c["tp"]))
    console.print(cm)
    counts = results["class_counts"]
    thr, t = results["threshold"], results["timings"]
    console.print(
        f"train class counts {counts['train_before']} -> {counts['train']} after resampling; "
        f"val {counts['val']}, test {counts['test']}\n"
        f"threshold {thr['value']:.3f} ({thr['rule']}); "
        f"resample {t['resample_s']:.2f}s, train {t['train_s']:.1f}s"
    )
    print_notes([n["text"] for n in results.get("notes", [])], console)


def print_notes(notes: list[str], console: Console, title: str = "notes") -> None:
    """Notes (``evaluation.notes``) as a list under a table, in yellow: read before the rows."""
    if notes:
        console.print(f"[bold yellow]{title}:[/]")
        for text in notes:
            console.print(f"[yellow]- {text}[/]", highlight=False)
