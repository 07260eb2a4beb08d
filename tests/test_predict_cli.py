"""``imbalance-lab predict``: scores from the shell equal those from Python; bad input exits 2
with one message and writes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import bundle_cli

from imbalance_lab import load_model
from imbalance_lab.bundle.store import BUNDLE_FILE

# One worker of pytest -n runs every module that scores the `trained` runs (conftest.py):
# each kind is trained once.
pytestmark = pytest.mark.xdist_group("trained")


def predict_cli(*args: str) -> subprocess.CompletedProcess:
    """``imbalance-lab predict ARGS``, in this process (conftest.bundle_cli)."""
    return bundle_cli("predict", *args)


@pytest.mark.parametrize(("inp", "out"), [(".csv", ".csv"), (".parquet", ".parquet")])
def test_cli_scores_equal_python_scores(inp: str, out: str, trained, tmp_path: Path) -> None:
    run_dir, X, _ = trained("table")
    rows = X.assign(id=np.arange(len(X)) + 1000, Class="ok")  # the label column: ignored
    path = tmp_path / f"new{inp}"
    rows.to_csv(path, index=False) if inp == ".csv" else rows.to_parquet(path)
    proc = predict_cli(str(run_dir), str(path), "--out", str(tmp_path / f"s{out}"), "--keep", "id",
                       "--chunk-rows", "64")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "column Class (the training label) is ignored" in proc.stdout
    assert f"scored {len(X)} rows" in proc.stdout
    scores = (
        pd.read_csv(tmp_path / f"s{out}")
        if out == ".csv"
        else pd.read_parquet(tmp_path / f"s{out}")
    )
    assert list(scores.columns) == ["id", "probability", "label"]
    model = load_model(run_dir)
    python = model.predict_proba(pd.read_csv(path) if inp == ".csv" else pd.read_parquet(path))
    np.testing.assert_array_equal(scores["id"], rows["id"])
    np.testing.assert_array_equal(scores["probability"].to_numpy(np.float32), python)
    np.testing.assert_array_equal(
        scores["label"], np.where(python > model.threshold, "fraud", "ok")
    )


def test_cli_bad_input_exits_2_and_writes_nothing(trained, tmp_path: Path) -> None:
    run_dir, X, _ = trained("table")
    out = tmp_path / "scores.csv"

    def refused(run: Path, rows: pd.DataFrame) -> str:
        rows.to_csv(tmp_path / "new.csv", index=False)
        proc = predict_cli(str(run), str(tmp_path / "new.csv"), "--out", str(out),
                           "--chunk-rows", "50")  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert not out.exists() and not list(tmp_path.glob("*.partial"))
        assert "Traceback" not in proc.stderr
        return proc.stderr

    err = refused(run_dir, X.drop(columns="amount"))
    assert "lacks 1 column(s) the model needs: amount. It has: age, country, card, online" in err
    late = X.astype({"age": "object"})
    late.loc[late.index[-1], "age"] = "unknown"  # in the last chunk: earlier chunks were written
    assert "column age of" in refused(run_dir, late)
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "metrics.json").write_text(json.dumps({"status": "failed", "error": "E: boom"}))
    assert "holds no model bundle" in refused(failed, X)
    newer = tmp_path / "newer"
    shutil.copytree(run_dir / "model", newer)
    meta = json.loads((newer / BUNDLE_FILE).read_text())
    (newer / BUNDLE_FILE).write_text(json.dumps({**meta, "format_version": 2}))
    assert "format version 2" in refused(newer, X)
