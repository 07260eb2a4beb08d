"""A run's model as one ONNX graph: raw feature rows in, the probability of the positive class
out, runnable with onnxruntime alone (``imbalance-lab export RUN_DIR --onnx model.onnx``).

The graph holds the whole fitted feature pipeline (imputation, dropped constant columns,
scaling, one-hot encoding) before the network, so it takes what the bundle's
:meth:`~imbalance_lab.bundle.columns.RawSchema.matrix` makes of a row: input ``raw``, float32
``(n, n_columns)`` in training column order; a numeric column as its number; a categorical
column as the position of its value in that column's ``categories`` in bundle.json (also in the
graph's metadata, ``columns``), -1 for a category never seen in training; NaN where a value is
missing (filled as in training, when the run imputed). Output ``probability``: float32 ``(n,)``.

The feature pipeline, the MLP, the logistic regression and the gradient-boosted trees are
built node by node with ``onnx.helper`` from the bundle's arrays (see ``onnx_heads.py`` for the
trees and the CNN). Each step repeats the numpy code's dtypes, so the graph's features equal the
bundle's bit for bit and a tree compares the same numbers as scikit-learn.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from imbalance_lab.bundle.columns import listing
from imbalance_lab.bundle.onnx_heads import IR_VERSION, ML_OPSET, hgb_logit, network_graph
from imbalance_lab.errors import ConfigError

OPSET = 18
FLOAT, DOUBLE = 1, 11  # onnx.TensorProto data types, for Cast
INPUT, OUTPUT = "raw", "probability"
FEATURES = "features"  # the network's input inside the graph


class _Graph:
    """Nodes and constants of one graph under construction; names are made unique here."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, value: np.ndarray, stem: str = "c") -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(
        self, op_type: str, *inputs: str, out: str | None = None, domain: str = "", **attrs: Any
    ) -> str:
        from onnx import helper

        out = out or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], domain=domain, **attrs))
        return out

    def columns(self, x: str, idx: list[int] | np.ndarray) -> str:
        return self.op("Gather", x, self.const(np.asarray(idx, dtype=np.int64), "idx"), axis=1)


def _features(g: _Graph, f: Any) -> str:
    """The fitted feature pipeline of ``FittedFeatures`` ``f`` on ``raw``, as its numpy code:
    float32 where numpy computes in float32, float64 rounded to float32 after each step where
    numpy mixes in a float64 array (min-max scaling)."""
    f32 = np.float32
    parts = []
    if f.num:
        num = g.columns(INPUT, f.num)
        if f.fill_num is not None:
            num = g.op("Where", g.op("IsNaN", num), g.const(f.fill_num.astype(f32)), num)
        num = g.columns(num, np.flatnonzero(f.keep))
        if f.scaler == "quantile":  # a per-column piecewise-linear map then the normal's ppf
            raise ConfigError(
                "ONNX export covers data.scaler=standard, minmax and none; this run used "
                "data.scaler=quantile. Score it with imbalance-lab predict, or train with "
                "another data.scaler."
            )
        if f.scaler == "standard":  # offset and factor cast to float32 first, as numpy does
            num = g.op("Sub", num, g.const(f.offset.astype(f32)))
            num = g.op("Div", num, g.const(f.factor.astype(f32)))
        elif f.scaler == "minmax":  # float32 *= float64: computed in float64, stored as float32
            for op, value in (("Mul", f.factor), ("Add", f.offset)):
                wide = g.op(op, g.op("Cast", num, to=DOUBLE), g.const(value.astype(np.float64)))
                num = g.op("Cast", wide, to=FLOAT)
        parts.append(num)
    if f.cat:
        codes = g.columns(INPUT, f.cat)
        if f.fill_cat is not None:
            codes = g.op("Where", g.op("IsNaN", codes), g.const(f.fill_cat.astype(f32)), codes)
        for j, cats in enumerate(f.categories):
            code = g.columns(codes, [j])  # (n, 1) against (1, k): one column per category
            hit = g.op("Cast", g.op("Equal", code, g.const(cats.astype(f32)[None, :])), to=FLOAT)
            parts.append(hit)
            if f.other[j]:  # every other code (rare in train, unseen, missing): 1 - any hit
                any_hit = g.op("ReduceMax", hit, g.const(np.array([1], np.int64)), keepdims=1)
                parts.append(g.op("Sub", g.const(np.ones((1, 1), f32)), any_hit))
    out = parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=1)
    return g.op("Identity", out, out=FEATURES)


def _activation(g: _Graph, x: str, name: str) -> str:
    if name == "relu":
        return g.op("Relu", x)
    if name == "tanh":
        return g.op("Tanh", x)
    if name == "leaky_relu":
        return g.op("LeakyRelu", x, alpha=0.01)  # torch's default slope
    if name == "silu":
        return g.op("Mul", x, g.op("Sigmoid", x))
    if name == "gelu":  # torch's exact GELU: x * (1 + erf(x / sqrt 2)) / 2
        erf = g.op("Erf", g.op("Div", x, g.const(np.float32(math.sqrt(2)))))
        half = g.op("Mul", x, g.const(np.float32(0.5)))
        return g.op("Mul", half, g.op("Add", erf, g.const(np.float32(1.0))))
    raise ConfigError(f"activation {name!r} has no ONNX export here.")


def _mlp(g: _Graph, x: str, model: Any) -> str:
    params = model.info["network"]["params"]
    linears = [m for m in model._net.layers if m.__class__.__name__ == "Linear"]
    for i, layer in enumerate(linears):
        w = layer.weight.detach().cpu().numpy().astype(np.float32)
        b = layer.bias.detach().cpu().numpy().astype(np.float32)
        x = g.op("Gemm", x, g.const(w, "w"), g.const(b, "b"), transB=1)
        if i < len(linears) - 1:  # dropout is the identity at inference
            x = _activation(g, x, params.get("activation", "relu"))
    return x


def _logreg(g: _Graph, x: str, est: Any) -> str:
    w = np.asarray(est.coef_, dtype=np.float32)  # (1, n_features)
    b = np.asarray(est.intercept_, dtype=np.float32)
    return g.op("Gemm", x, g.const(w, "w"), g.const(b, "b"), transB=1)


def to_onnx(model: Any) -> Any:
    """The ``onnx.ModelProto`` of a run's :class:`~imbalance_lab.bundle.model.Model`."""
    try:
        from onnx import TensorProto, checker, helper
    except ImportError:
        raise ConfigError(
            'ONNX export needs the onnx package: pip install "imbalance-lab[onnx]".'
        ) from None
    if hasattr(model, "members"):
        raise ConfigError(
            f"{model.folder} is a sweep folder; export takes one run folder (the runs of the "
            f"chosen configuration: {', '.join(model.info['runs'])})."
        )
    kind = model.info["kind"]
    what = model.info.get("network", {}).get("class") or model.info.get("estimator", "")
    if model.info.get("network", {}).get("members"):
        what = "an averaged ensemble (model=underbagging, deep_ensemble or threshold=oof)"
    g = _Graph()
    x = _features(g, model.features)
    opsets = {"": OPSET}
    head = None
    if what.endswith(".MLP"):
        logit = _mlp(g, x, model)
    elif what.endswith("LogisticRegression"):
        logit = _logreg(g, x, model._estimator)
    elif what.endswith("HistGradientBoostingClassifier"):
        logit = hgb_logit(g, x, model._estimator)
        opsets["ai.onnx.ml"] = ML_OPSET
    elif what.endswith(".CNN"):
        head = network_graph(model._net, model.features.n_out, FEATURES, OUTPUT, OPSET)
    else:
        raise ConfigError(
            f"{model.folder}: ONNX export covers model=mlp, cnn, logreg and hgb; this run's "
            f"model is {what or kind}. Score it with imbalance-lab predict."
        )
    if head is None:
        prob = g.op("Sigmoid", logit)
        g.op("Reshape", prob, g.const(np.array([-1], dtype=np.int64)), out=OUTPUT)
        outputs = [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n"])]
    else:
        outputs = [helper.make_tensor_value_info(FEATURES, TensorProto.FLOAT, ["n", None])]
    n_raw = len(model.schema.names)
    graph = helper.make_graph(
        g.nodes,
        "imbalance_lab",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["n", n_raw])],
        outputs,
        g.inits,
    )
    onnx_model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
        producer_name="imbalance-lab",
    )
    onnx_model.ir_version = IR_VERSION  # readable by onnxruntime releases of the last years
    if head is not None:  # the features graph, then the exported network on its output
        from onnx import compose

        onnx_model = compose.merge_models(onnx_model, head, io_map=[(FEATURES, FEATURES)])
    meta = {
        "columns": json.dumps(model.info["raw"]["columns"]),
        "labels": json.dumps(model.info["raw"]["labels"]),
        "threshold": json.dumps(model.info["threshold"]),
    }
    helper.set_model_props(onnx_model, meta)
    checker.check_model(onnx_model, full_check=True)
    return onnx_model


def export(run: str | os.PathLike, out: str | os.PathLike) -> str:
    """Write the ONNX graph of run folder ``run`` to ``out`` (whole or not at all); returns
    the line to print."""
    from imbalance_lab.bundle.model import load_model

    model = load_model(run)
    proto = to_onnx(model)
    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_bytes(proto.SerializeToString())
    os.replace(tmp, out)
    cats = [n for j, n in enumerate(model.schema.names) if j in model.schema.categorical]
    coded = f"; categorical as category positions (-1 unseen): {listing(cats)}" if cats else ""
    return (
        f"wrote {out}: input {INPUT!r} float32 (n, {len(model.schema.names)}) in column order "
        f"{listing(model.schema.names)}{coded}; NaN where missing; output {OUTPUT!r} (n,), "
        f"the probability of {model.schema.labels[1]!r} (threshold {model.threshold:.4g})"
    )
