"""What a finished run puts in its model bundle (called once, at the end of ``pipeline.run``)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from imbalance_lab.bundle.store import BUNDLE_DIR, network_spec, write_bundle
from imbalance_lab.errors import ConfigError

log = logging.getLogger(__name__)

_RUN_KEYS = (
    "dataset", "seed", "fold", "choices", "overrides", "settings", "class_counts",
    "n_features", "n_dropped_constant_features", "sampler", "epochs", "best_epoch",
)  # fmt: skip


def save_model(run_dir: Path, cfg: DictConfig, dm: Any, model: Any, results: dict) -> Path | None:
    """Write ``run_dir/model/`` for a trained ``model`` (a network or a fitted scikit-learn
    classifier) with the data module's raw columns and fitted features, and the results' threshold
    and metrics. Returns the folder, or ``None`` (logged) for a network the package cannot
    rebuild by name (a user's own ``model.net._target_``)."""
    is_net = "estimator" not in cfg.model
    if dm.features is None:  # image files: how new images are read, not raw columns
        from imbalance_lab.bundle.images import image_meta

        reading = {"images": image_meta(dm)}
    else:
        reading = {"features": dm.features.fitted.to_json(), "raw": dm.schema.to_json()}
    meta: dict[str, Any] = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kind": "network" if is_net else "estimator",
        **reading,
        "threshold": results["threshold"],
        "metrics": {k: results[k] for k in ("val", "test", "confusion")},
        "run": {k: results.get(k) for k in _RUN_KEYS},
    }
    if is_net:
        try:
            net_cfg = OmegaConf.to_container(cfg.model.net, resolve=True)
            if dm.image_shape is not None and "input_shape" in net_cfg:
                net_cfg["input_shape"] = list(dm.image_shape)  # read from the image files
            meta["network"] = network_spec(net_cfg, dm.n_features)
            # model=underbagging, threshold=oof: the members' probabilities averaged
            if type(model).__name__ == "ProbabilityAverage":
                meta["network"]["members"] = len(model.members)
        except ConfigError as err:
            log.warning("no model bundle written: %s", err)
            return None
    elif not hasattr(model, "get_params"):  # threshold=oof: k estimators averaged
        log.warning(
            "no model bundle written: the bundle stores one scikit-learn estimator, and "
            "threshold=oof averages %d of them; use threshold=tuned for a bundle.",
            len(model.estimators),
        )
        return None
    else:
        meta["estimator"] = f"{type(model).__module__}.{type(model).__qualname__}"
    folder = write_bundle(
        Path(run_dir) / BUNDLE_DIR,
        meta,
        net=model if is_net else None,
        estimator=None if is_net else model,
    )
    log.info("model bundle written to %s", folder)
    return folder
