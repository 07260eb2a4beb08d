"""``imbalance-lab export --onnx``: one graph, raw rows in, the bundle's probabilities out
(within 1e-5), run with onnxruntime alone; models it cannot export are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import test_bundle
from conftest import RUN, bundle_cli, run_cli

from imbalance_lab import load_model
from imbalance_lab.bundle.onnx_export import export, to_onnx
from imbalance_lab.errors import ConfigError

# One worker of pytest -n runs every module that scores the `trained` runs (conftest.py):
# each kind is trained once.
pytestmark = pytest.mark.xdist_group("trained")

ort = pytest.importorskip("onnxruntime", reason="ONNX export needs pip install '.[onnx]'")
pytest.importorskip("onnx", reason="ONNX export needs pip install '.[onnx]'")


# table and hgb: a CSV with categories, missing values and an imputer
@pytest.mark.parametrize("kind", ["mlp", "table", "logreg", "hgb", "cnn"])
def test_onnx_equals_the_bundle(kind: str, trained, tmp_path: Path) -> None:
    run_dir, X, _ = trained(kind)
    model = load_model(run_dir)
    out = tmp_path / "model.onnx"
    message = export(run_dir, out)
    assert f"wrote {out}: input 'raw' float32 (n, {len(model.feature_names_in_)})" in message
    table = kind in ("table", "hgb")
    rows = X.assign(country=["zz"] * 3 + list(X["country"][3:])) if table else X
    raw = model.raw(rows)  # NaN where missing, -1 for the unseen country "zz"
    assert not table or (np.isnan(raw).any() and (raw == -1).any())
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"raw": raw})
    assert got.shape == (len(raw),) and got.dtype == np.float32
    np.testing.assert_allclose(got, model.predict_proba(rows), rtol=0, atol=1e-5)
    meta = session.get_modelmeta().custom_metadata_map
    assert [c["name"] for c in json.loads(meta["columns"])] == list(model.feature_names_in_)


def test_models_without_an_onnx_export_are_refused(trained, tmp_path: Path) -> None:
    run_dir, _, _ = trained("logreg")
    model = load_model(run_dir)
    model.info["estimator"] = "sklearn.svm.SVC"  # a model kind the export does not cover
    with pytest.raises(ConfigError, match=r"covers model=mlp, cnn, logreg and hgb; .*SVC"):
        to_onnx(model)
    proc = bundle_cli("export", str(tmp_path), "--onnx", str(tmp_path / "m.onnx"))
    assert proc.returncode == 2 and "holds no model bundle" in proc.stderr
    assert not (tmp_path / "m.onnx").exists() and "Traceback" not in proc.stderr


def test_hgb_graph_takes_the_branch_scikit_learn_takes_at_every_threshold(trained) -> None:
    """Rows placed exactly on, and one float32 step either side of, every split threshold:
    a float32 threshold would send some of them the other way."""
    run_dir, _, _ = trained("hgb")
    model = load_model(run_dir)
    est = model._estimator
    width = model.features.n_out
    rows = []
    for (tree,) in est._predictors[:20]:
        for node in tree.nodes[~tree.nodes["is_leaf"].astype(bool)]:
            t = np.float32(node["num_threshold"])
            for value in (np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf)):
                row = np.zeros(width, np.float32)
                row[node["feature_idx"]] = value
                rows.append(row)
    features = np.stack(rows)
    expected = est.predict_proba(features)[:, 1]
    from onnx import TensorProto, helper

    from imbalance_lab.bundle.onnx_export import _Graph
    from imbalance_lab.bundle.onnx_heads import ML_OPSET, hgb_logit

    g = _Graph()
    g.op("Sigmoid", hgb_logit(g, "x", est), out="p")
    graph = helper.make_graph(
        g.nodes, "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", width])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["n", 1])], g.inits,
    )  # fmt: skip
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
    )
    proto.ir_version = 8
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": features})
    np.testing.assert_allclose(got[:, 0], expected, rtol=0, atol=1e-6)


def test_onnx_encodes_capped_categories_with_their_other_column(tmp_path: Path) -> None:
    overrides, X, _ = test_bundle._raw("table", tmp_path)
    run_dir = tmp_path / "run"
    run_cli(*overrides, "data.max_categories=2", "model=logreg", *RUN, f"hydra.run.dir={run_dir}",
            cwd=tmp_path)  # fmt: skip
    model = load_model(run_dir)
    assert any(model.features.other)  # country kept 1 category and an "other" column
    export(run_dir, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    rows = X.assign(country=["zz"] * 3 + list(X["country"][3:]))
    (got,) = session.run(None, {"raw": model.raw(rows)})
    np.testing.assert_allclose(got, model.predict_proba(rows), rtol=0, atol=1e-5)
