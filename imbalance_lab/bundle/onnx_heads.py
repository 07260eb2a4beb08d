"""The model part of an exported graph, for the models not built from a few matrix products
(``onnx_export.py`` holds those and the feature pipeline): the CNN, exported by PyTorch's own
ONNX exporter, and histogram gradient boosting, written as one ONNX-ML ``TreeEnsembleRegressor``.

Why the trees are written here and not by skl2onnx: skl2onnx 1.20 (the current release) fails
on scikit-learn 1.9's fitted ``HistGradientBoostingClassifier`` ("Expected an int, got a
boolean" while building ``TreeEnsembleClassifier``), and its tree converters store thresholds as
float32. scikit-learn compares float64 thresholds that fall between float32 feature values, and
a float32 threshold rounds onto one of those values, so rows at that value would take the other
branch. Here the features are cast to float64 and the thresholds kept as float64
(``nodes_values_as_tensor``): the graph takes the same branch as scikit-learn for every row.
"""

from __future__ import annotations

import copy
import logging
import warnings
from typing import Any

import numpy as np

from imbalance_lab.errors import ConfigError

IR_VERSION = 8  # ONNX IR readable by onnxruntime releases of the last years
ML_OPSET = 3  # ai.onnx.ml: TreeEnsembleRegressor with float64 thresholds
_DOUBLE = 11  # onnx.TensorProto.DOUBLE


def hgb_logit(g: Any, x: str, est: Any) -> str:
    """Nodes on graph builder ``g`` that turn features ``x`` (float32 ``(n, n_features)``) into
    the raw score (log-odds, float32 ``(n, 1)``) of a fitted binary
    ``sklearn.ensemble.HistGradientBoostingClassifier`` ``est``: its baseline plus the sum of its
    trees' leaf values, the trees' branches taken on float64 features as scikit-learn takes them
    (``x <= threshold`` goes left; a missing value where the tree learned to send it).

    Raises:
        ConfigError: a multiclass model, or one with native categorical splits (the product
            one-hot encodes categories, so its runs have none).
    """
    from onnx import numpy_helper

    if est.n_trees_per_iteration_ != 1:
        raise ConfigError("ONNX export of gradient boosting covers binary models only.")
    node_cols: dict[str, list[Any]] = {
        k: [] for k in ("treeids", "nodeids", "featureids", "modes", "true", "false", "missing")
    }
    thresholds: list[float] = []
    targets: dict[str, list[Any]] = {"treeids": [], "nodeids": [], "weights": []}
    for t, (tree,) in enumerate(est._predictors):
        nodes = tree.nodes
        if nodes["is_categorical"].any():
            raise ConfigError(
                "ONNX export does not cover gradient boosting with native categorical splits; "
                "train with the product's one-hot encoding (the default)."
            )
        for i, node in enumerate(nodes):
            leaf = bool(node["is_leaf"])
            node_cols["treeids"].append(t)
            node_cols["nodeids"].append(i)
            node_cols["featureids"].append(0 if leaf else int(node["feature_idx"]))
            node_cols["modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            node_cols["true"].append(0 if leaf else int(node["left"]))
            node_cols["false"].append(0 if leaf else int(node["right"]))
            node_cols["missing"].append(0 if leaf else int(node["missing_go_to_left"]))
            thresholds.append(0.0 if leaf else float(node["num_threshold"]))
            if leaf:
                targets["treeids"].append(t)
                targets["nodeids"].append(i)
                targets["weights"].append(float(node["value"]))
    base = np.asarray(est._baseline_prediction, dtype=np.float64).reshape(1)
    wide = g.op("Cast", x, to=_DOUBLE)
    return g.op(
        "TreeEnsembleRegressor",
        wide,
        domain="ai.onnx.ml",
        n_targets=1,
        aggregate_function="SUM",
        post_transform="NONE",
        nodes_treeids=node_cols["treeids"],
        nodes_nodeids=node_cols["nodeids"],
        nodes_featureids=node_cols["featureids"],
        nodes_modes=node_cols["modes"],
        nodes_truenodeids=node_cols["true"],
        nodes_falsenodeids=node_cols["false"],
        nodes_missing_value_tracks_true=node_cols["missing"],
        nodes_values_as_tensor=numpy_helper.from_array(np.asarray(thresholds, np.float64)),
        target_treeids=targets["treeids"],
        target_nodeids=targets["nodeids"],
        target_ids=[0] * len(targets["nodeids"]),
        target_weights_as_tensor=numpy_helper.from_array(
            np.asarray(targets["weights"], np.float64)
        ),
        base_values_as_tensor=numpy_helper.from_array(base),
    )


def network_graph(net: Any, n_features: int, input_name: str, output_name: str, opset: int) -> Any:
    """The ``onnx.ModelProto`` of network ``net`` (a ``torch.nn.Module`` taking float32
    ``(n, n_features)``, returning logits ``(n,)`` or ``(n, 1)``) followed by the sigmoid:
    input ``input_name`` float32 ``(n, n_features)``, output ``output_name`` float32 ``(n,)``,
    any ``n``. Exported with ``torch.onnx.export`` (the torch.export-based exporter, which needs
    the ``onnxscript`` package); names inside the graph carry the prefix ``net/``.

    Raises:
        ConfigError: ``onnxscript`` is not installed.
    """
    import torch
    from onnx import compose

    try:
        import onnxscript  # noqa: F401  (torch.onnx.export needs it)
    except ImportError:
        raise ConfigError(
            'ONNX export of a CNN needs onnxscript: pip install "imbalance-lab[onnx]".'
        ) from None

    class Probability(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.net(x)).reshape(-1)

    # A float32 copy in eval mode: the loaded model itself stays as it is.
    wrapped = Probability(copy.deepcopy(net)).to("cpu", torch.float32).eval()
    # The exporter's notes about its own optional parts (torchvision ops it skips) and a
    # deprecation inside torch are not the user's concern.
    chatter = logging.getLogger("torch.onnx")
    level = chatter.level
    chatter.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            program = torch.onnx.export(
                wrapped,
                (torch.zeros(2, n_features),),
                input_names=[input_name],
                output_names=[output_name],
                dynamic_shapes=({0: torch.export.Dim("n")},),
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
    finally:
        chatter.setLevel(level)
    proto = program.model_proto
    proto.ir_version = IR_VERSION
    # The feature graph's names and the network's must not meet: prefix the network's inner
    # names, keep its input and output as named above.
    return compose.add_prefix(proto, "net/", rename_inputs=False, rename_outputs=False)
