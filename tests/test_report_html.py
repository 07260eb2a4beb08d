"""report.html: one self-contained page per sweep, parsed as HTML and opened in headless
Chromium (skipped, with the reason, where no Chromium is installed)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imbalance_lab.report import main as report_main

PNG = b"\x89PNG\r\n\x1a\n"
QUALITY = {"none": 0.3, "weighted": 0.5, "smote": 0.7}  # smote best on every dataset


def _record(dataset: str, sampler: str, seed: int, f1: float) -> dict:
    return {
        "status": "ok",
        "dataset": dataset,
        "seed": seed,
        "choices": {"sampler": sampler, "data": "keel"},
        "overrides": [f"sampler={sampler}", f"data.name={dataset}", f"seed={seed}"],
        "val": {"f1": f1, "pr_auc": f1 + 0.1},
        "test": {"f1": f1, "recall": f1 + 0.05, "pr_auc": f1 + 0.1},
        "confusion": {"tn": 90, "fp": 2, "fn": 3, "tp": 5},
        "pr_curve": {"recall": [0.0, 0.5, 1.0], "precision": [1.0, f1, 0.1]},
        "settings": {"sampler": {"_target_": f"imblearn.{sampler}"}},
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep folder of 6 datasets x 3 strategies x 2 seeds and one failed run, reported."""
    sweep = tmp_path_factory.mktemp("sweep")
    rng = np.random.default_rng(0)
    records = [
        _record(f"set{d}", s, seed, q + 0.05 * d + rng.normal(0, 0.01))
        for d in range(6)
        for s, q in QUALITY.items()
        for seed in range(2)
    ]
    records.append(
        {
            "status": "failed",
            "error": "ConfigError: SMOTE needs at least 6 minority rows <in the split>",
            "dataset": "set9",
            "seed": 0,
            "choices": {"sampler": "smote", "data": "keel"},
            "overrides": ["sampler=smote", "data.name=set9", "seed=0"],
        }
    )
    for i, r in enumerate(records):
        (sweep / str(i)).mkdir()
        (sweep / str(i) / "metrics.json").write_text(json.dumps(r))
    assert report_main([str(sweep)]) == 0
    return sweep


class _Page(HTMLParser):
    """The parts of report.html the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.rows: list[list[str]] = []  # the leaderboard's body, cell texts
        self.best_cells = 0
        self.details = 0
        self._in = {"leaderboard": False, "tbody": False, "td": False}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src") or "")
        for key in ("href", "src"):
            if tag != "img" and a.get(key):
                self.links.append(a[key] or "")
        if tag == "details":
            self.details += 1
        if tag == "table":
            self._in["leaderboard"] = a.get("id") == "leaderboard"
        if self._in["leaderboard"]:
            if tag == "tbody":
                self._in["tbody"] = True
            elif tag == "tr" and self._in["tbody"]:
                self.rows.append([])
            elif tag == "td" and self._in["tbody"]:
                self._in["td"] = True
                self.rows[-1].append("")
                self.best_cells += "best" in (a.get("class") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in["td"] = False
        if tag == "table":
            self._in = {"leaderboard": False, "tbody": False, "td": False}

    def handle_data(self, data: str) -> None:
        if self._in["td"]:
            self.rows[-1][-1] += data.strip()


def test_report_html_holds_the_leaderboard_and_embedded_plots(report: Path) -> None:
    html = (report / "report.html").read_text()
    page = _Page()
    page.feed(html)
    board = pd.read_csv(report / "leaderboard.csv")
    # One row per leaderboard row, in its order, with its run counts.
    assert [r[0] for r in page.rows] == board["strategy"].tolist()
    assert page.rows[0][1] == "2" and page.rows[-1][1] == "0 of 1"  # the failed one comes last
    assert page.rows[-1][-1] == "1 failed"
    assert page.best_cells >= 3  # f1, recall, pr_auc of the best strategy
    # Every plot embedded; nothing fetched from anywhere.
    names = ("metrics_bars.png", "pr_curves.png", "confusion_matrices.png", "cd_diagram.png")
    assert len(page.images) == len(names)
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG
    assert all(link.startswith("#") for link in page.links)  # only links within the page
    assert "http://" not in html and "https://" not in html
    # Selection on validation, ranks, the failed run's error (escaped), each run's settings.
    assert 'id="selection"' in html and 'id="ranks-table"' in html and 'id="wilcoxon"' in html
    # selection.md's own sections sit one level below the page's selection heading.
    assert "<h3>Against fixed choices</h3>" in html and "<h2>Against" not in html
    assert "&lt;in the split&gt;" in html and "<in the split>" not in html
    assert page.details == 37
    assert "imblearn.smote" in html


def _chromium() -> str | None:
    return next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )


@pytest.mark.skipif(
    _chromium() is None,
    reason="no Chromium installed (apt-get install chromium; .ci/run installs it where apt works)",
)
def test_report_html_loads_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
        "--hide-scrollbars", "--window-size=1200,6000",
    ]  # fmt: skip
    url = (report / "report.html").as_uri()
    dom = subprocess.run(
        [_chromium(), *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The browser's DOM after loading: the table and every embedded image.
    assert '<table id="leaderboard">' in dom.stdout
    assert dom.stdout.count('<img src="data:image/png;base64,') == 4
    # No console messages (a failed resource load or a script error would print one).
    assert "CONSOLE" not in dom.stderr and "Failed to load resource" not in dom.stderr

    shot = tmp_path / "report.png"
    subprocess.run(
        [_chromium(), *flags, f"--screenshot={shot}", url],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (6000, 1200)
    # The plots were drawn: matplotlib's blue and orange bars are on the page, not just text.
    blue = (pixels[..., 2] > 0.6) & (pixels[..., 0] < 0.3) & (pixels[..., 1] > 0.3)
    orange = (pixels[..., 0] > 0.9) & (pixels[..., 1] > 0.4) & (pixels[..., 2] < 0.2)
    assert blue.sum() > 500 and orange.sum() > 500
