"""``imbalance-lab export --onnx``: one graph, raw rows in, the bundle's probabilities out
(within 1e-5), run with onnxruntime alone; models it cannot export are refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import test_bundle
from conftest import ENV, ROOT

from imbalance_lab import load_model
from imbalance_lab.bundle.onnx_export import export
from imbalance_lab.errors import ConfigError

ort = pytest.importorskip("onnxruntime", reason="ONNX export needs pip install '.[onnx]'")
pytest.importorskip("onnx", reason="ONNX export needs pip install '.[onnx]'")

trained = test_bundle.trained  # the runs of test_bundle (session-scoped: trained once)


@pytest.mark.parametrize("kind", ["mlp", "table", "logreg"])  # table: mlp, categories, imputer
def test_onnx_equals_the_bundle(kind: str, trained, tmp_path: Path) -> None:
    run_dir, X, _ = trained(kind)
    model = load_model(run_dir)
    out = tmp_path / "model.onnx"
    message = export(run_dir, out)
    assert f"wrote {out}: input 'raw' float32 (n, {len(model.feature_names_in_)})" in message
    rows = X if kind != "table" else X.assign(country=["zz"] * 3 + list(X["country"][3:]))
    raw = model.raw(rows)  # NaN where missing, -1 for the unseen country "zz"
    assert kind != "table" or (np.isnan(raw).any() and (raw == -1).any())
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"raw": raw})
    assert got.shape == (len(raw),) and got.dtype == np.float32
    np.testing.assert_allclose(got, model.predict_proba(rows), rtol=0, atol=1e-5)
    meta = session.get_modelmeta().custom_metadata_map
    assert [c["name"] for c in json.loads(meta["columns"])] == list(model.feature_names_in_)


def test_models_without_an_onnx_export_are_refused(trained, tmp_path: Path) -> None:
    run_dir, _, _ = trained("hgb")
    with pytest.raises(ConfigError, match=r"covers model=mlp and model=logreg; .*HistGradient"):
        export(run_dir, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "imbalance_lab.bundle.cli", "export", str(run_dir), "--onnx",
         str(tmp_path / "m.onnx")],
        cwd=ROOT, env={**ENV, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2 and "ONNX export covers model=mlp" in proc.stderr
