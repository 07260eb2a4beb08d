"""The lab-text figures script writes its four PNGs and shows the effect it claims."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "figures.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_script():
    spec = importlib.util.spec_from_file_location("lab_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_figures_written_and_weighting_raises_minority_recall(tmp_path, monkeypatch):
    figures = load_script()
    # Without --out the script writes under the current folder, never into docs/figures.
    monkeypatch.chdir(tmp_path)
    paths = figures.main([])
    assert {p.parent for p in paths} == {Path("figures")}
    tmp_path = tmp_path / "figures"

    names = [
        "fig1_biased_boundary.png",
        "fig2_confusion_matrix.png",
        "fig3_decision_regions.png",
        "fig4_oversampling.png",
    ]
    assert sorted(p.name for p in paths) == names
    for name in names:
        path = tmp_path / name
        assert path.is_file()
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC
        assert len(data) > 10_000, f"{name} is suspiciously small ({len(data)} bytes)"

    plain, balanced = figures.minority_recalls()
    assert plain < balanced
