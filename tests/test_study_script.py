"""scripts/study.py: per-method means and average ranks over (dataset, fold) blocks."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("study", ROOT / "scripts" / "study.py")
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def _run(folder: Path, model: str, dataset: str, fold: int, f1: float) -> None:
    folder.mkdir(parents=True)
    record = {
        "status": "ok",
        "dataset": dataset,
        "fold": {"folds": 5, "fold": fold, "repeat": 0},
        "overrides": [f"data.name={dataset}", f"data.fold={fold}", "threads=1", f"model={model}"],
        "test": {"f1": f1, "pr_auc": f1 + 0.1, "balanced_acc": 0.7, "mcc": f1 / 2},
        "val": {"pr_auc": 0.5},
        "timings": {"train_s": 2.0, "resample_s": 0.5},
    }
    (folder / "metrics.json").write_text(json.dumps(record))


def test_means_and_ranks_name_the_method_without_dataset_or_fold(tmp_path: Path) -> None:
    k = 0
    for dataset in ("a", "b", "c"):
        for fold in (0, 1):
            for model, f1 in (("mlp", 0.6), ("hgb", 0.4), ("brf", 0.5)):
                _run(tmp_path / "sweep" / str(k), model, dataset, fold, f1 + 0.01 * fold)
                k += 1
    assert study.main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "study.md").read_text()
    assert "| `model=mlp` | 6 | 0.605 | 0.705 | 0.700 | 0.302 | 2.5 |" in text
    assert "| `model=hgb` | 6 | 0.405 |" in text
    ranks = "`model=mlp` 1.00, `model=brf` 2.00, `model=hgb` 3.00"
    assert f"over 6 (dataset, fold) blocks (1 = best): {ranks}" in text
    assert (tmp_path / "out" / "cd_f1.png").stat().st_size > 0
