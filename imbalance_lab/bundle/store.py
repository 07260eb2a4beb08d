"""The model bundle on disk, ``<run folder>/model/``, written at the end of a run and read
without running any code from it.

::

    model/
      bundle.json            format version, features, raw columns, labels, network settings,
                             threshold and its rule, metrics, library versions, file checksums
      weights.safetensors    a network's weights (model=mlp, cnn, tabm; underbagging: its
                             members'), or
      estimator.skops        a scikit-learn-style reference (model=hgb, logreg, brf,
                             easy_ensemble, rusboost, balanced_bagging, lightgbm)

Nothing here unpickles: JSON is data; safetensors holds tensors only; skops loads only the
types of :data:`TRUSTED_TYPES` beside scikit-learn's own estimators (skops' default), and the
network is rebuilt by this package's code (:data:`NETWORKS`), never from the bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

from imbalance_lab.errors import ConfigError

FORMAT_VERSION = 1
BUNDLE_DIR = "model"
BUNDLE_FILE = "bundle.json"
WEIGHTS_FILE = "weights.safetensors"
ESTIMATOR_FILE = "estimator.skops"
# Networks a bundle may name: rebuilt from the package, by these names only.
NETWORKS = (
    "imbalance_lab.models.networks.MLP",
    "imbalance_lab.models.networks.CNN",
    "imbalance_lab.models.networks.TabMNet",
    "imbalance_lab.models.networks.ResNet",
)
# Types skops does not trust by default that the references need (found with
# skops.io.get_untrusted_types on each); anything else in a file is refused.
TRUSTED_TYPES = [
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    # imblearn's under-sampling ensembles (brf, easy_ensemble, rusboost, balanced_bagging): each
    # member is a Pipeline(RandomUnderSampler, tree or AdaBoost).
    "imblearn.ensemble._forest.BalancedRandomForestClassifier",
    "imblearn.ensemble._easy_ensemble.EasyEnsembleClassifier",
    "imblearn.ensemble._weight_boosting.RUSBoostClassifier",
    "imblearn.ensemble._bagging.BalancedBaggingClassifier",
    "imblearn.pipeline.Pipeline",
    "imblearn.under_sampling._prototype_selection._random_under_sampler.RandomUnderSampler",
    # LightGBM: its Booster's state is the model as text, parsed by LightGBM.
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.basic.Booster",
    "collections.OrderedDict",
]
_LIBRARIES = (
    "imbalance-lab", "torch", "numpy", "scikit-learn", "imbalanced-learn", "lightgbm", "pandas",
    "safetensors", "skops",
)  # fmt: skip


def versions() -> dict[str, str | None]:
    """Versions of Python and the libraries a bundle depends on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def network_spec(net_cfg: dict[str, Any], in_features: int) -> dict[str, Any]:
    """``{"class", "params"}`` of a network config (``cfg.model.net`` as a plain dict)."""
    target = net_cfg.get("_target_")
    if target not in NETWORKS:
        raise ConfigError(
            f"model.net._target_={target} is not a network a bundle can rebuild ({NETWORKS})."
        )
    params = {k: v for k, v in net_cfg.items() if not k.startswith("_")}
    return {"class": target, "params": {**params, "in_features": int(in_features)}}


def write_bundle(
    folder: Path, meta: dict[str, Any], net: Any = None, estimator: Any = None
) -> Path:
    """Write ``folder`` (``<run>/model``) whole or not at all: into a sibling temporary folder,
    then renamed into place (a previous bundle there, of an earlier attempt, is replaced).

    ``meta``: the JSON part (as :func:`imbalance_lab.bundle.save.save_model` builds it); ``net``: a
    network whose ``state_dict`` goes to safetensors, or ``estimator``: a fitted scikit-learn
    classifier (skops).
    """
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files = {}
    if net is not None:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
        save_file(state, tmp / WEIGHTS_FILE)
        files[WEIGHTS_FILE] = _sha256(tmp / WEIGHTS_FILE)
    if estimator is not None:
        import skops.io as sio

        sio.dump(estimator, tmp / ESTIMATOR_FILE)
        files[ESTIMATOR_FILE] = _sha256(tmp / ESTIMATOR_FILE)
    meta = {"format_version": FORMAT_VERSION, **meta, "files": files, "versions": versions()}
    (tmp / BUNDLE_FILE).write_text(json.dumps(meta, indent=2, default=float))
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


def find_bundle(path: str | os.PathLike) -> Path:
    """The bundle folder of a run folder (or the bundle folder itself); ``ConfigError`` when
    there is none, with what the folder says about its run."""
    path = Path(path).expanduser()
    if (path / BUNDLE_FILE).is_file():
        return path
    if (path / BUNDLE_DIR / BUNDLE_FILE).is_file():
        return path / BUNDLE_DIR
    if not path.is_dir():
        raise ConfigError(f"{path} is not a folder; give a run folder (it holds model/).")
    why = ""
    metrics = path / "metrics.json"
    if metrics.is_file():
        try:
            record = json.loads(metrics.read_text())
        except ValueError:
            record = {}
        if record.get("status") == "failed":
            why = f" Its run failed ({record.get('error')}); fix that and train again."
    elif any(path.glob("*/metrics.json")) or (path / "multirun.yaml").is_file():
        why = " It looks like a sweep folder; give one of its run folders."
    raise ConfigError(f"{path} holds no model bundle ({BUNDLE_DIR}/{BUNDLE_FILE}).{why}")


def read_meta(folder: Path) -> dict[str, Any]:
    """bundle.json, checked: format version this package reads, files present and unaltered."""
    try:
        meta = json.loads((folder / BUNDLE_FILE).read_text())
    except ValueError as err:
        raise ConfigError(f"{folder / BUNDLE_FILE} is not valid JSON ({err}).") from None
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ConfigError(
            f"{folder} holds a bundle of format version {version!r}; this imbalance-lab "
            f"({versions()['imbalance-lab']}) reads versions up to {FORMAT_VERSION}. Upgrade "
            "imbalance-lab to load it."
        )
    for name, digest in meta.get("files", {}).items():
        file = folder / name
        if not file.is_file() or _sha256(file) != digest:
            raise ConfigError(
                f"{file} is missing or differs from the file the run wrote (checksum in "
                f"{BUNDLE_FILE}); the bundle is damaged: copy the run's model/ folder again."
            )
    return meta


def load_network(folder: Path, spec: dict[str, Any]) -> Any:
    """The network of ``spec`` built by this package, with the bundle's safetensors weights."""
    from safetensors.torch import load_file

    from imbalance_lab.models import networks

    if spec.get("class") not in NETWORKS:
        raise ConfigError(f"{folder}: network {spec.get('class')!r} is not one of {NETWORKS}.")
    build = getattr(networks, spec["class"].rsplit(".", 1)[1])
    members = spec.get("members")
    if members:  # model=underbagging: that many networks, their probabilities averaged
        net = networks.ProbabilityAverage([build(**spec["params"]) for _ in range(int(members))])
    else:
        net = build(**spec["params"])
    try:
        weights = load_file(folder / WEIGHTS_FILE)
    except Exception as err:  # not a safetensors file (a pickle renamed, a damaged file)
        raise ConfigError(
            f"{folder / WEIGHTS_FILE} could not be read as safetensors: {err}"
        ) from None
    net.load_state_dict(weights, strict=True)
    return net.eval()


def load_estimator(folder: Path) -> Any:
    """The scikit-learn reference, loaded by skops with :data:`TRUSTED_TYPES` only."""
    import skops.io as sio

    file = folder / ESTIMATOR_FILE
    try:
        untrusted = [t for t in sio.get_untrusted_types(file=file) if t not in TRUSTED_TYPES]
        if untrusted:
            raise ConfigError(
                f"{file} holds types this package does not trust: {', '.join(untrusted)}; "
                "refusing to load it."
            )
        return sio.load(file, trusted=TRUSTED_TYPES)
    except ConfigError:
        raise
    except Exception as err:  # not a skops file (a pickle renamed, a damaged zip)
        raise ConfigError(f"{file} could not be read as a skops file: {err}") from None
