"""Model bundles: every model kind reproduces its run's test metrics from raw rows; loading runs
no code from the bundle; bad input is refused with one message."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import RUN, in_folder
from test_table import transactions, write

import imbalance_lab
from imbalance_lab import load_model
from imbalance_lab.bundle.columns import RawSchema
from imbalance_lab.bundle.files import chunks
from imbalance_lab.bundle.store import BUNDLE_FILE, _sha256
from imbalance_lab.data.datamodule import split_data
from imbalance_lab.data.features import FeatureTransform
from imbalance_lab.data.sources import make_digits, make_synthetic
from imbalance_lab.data.tables import load_table
from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.metrics import binary_metrics

# One worker of pytest -n runs every module that scores the `trained` runs (conftest.py):
# each kind is trained once.
pytestmark = pytest.mark.xdist_group("trained")

SYNTH = [
    "data=synthetic",
    "data.n_samples=600",
    "data.n_features=6",
    "data.n_informative=4",
    "data.minority_fraction=0.1",
]


def _table(tmp: Path) -> pd.DataFrame:
    """Transactions with missing numbers and categories, labels as text."""
    df = transactions(600, seed=1)
    rng = np.random.default_rng(0)
    df.loc[rng.random(len(df)) < 0.05, "amount"] = np.nan
    df.loc[rng.random(len(df)) < 0.05, "country"] = None
    df["Class"] = np.where(df["Class"] == 1, "fraud", "ok")
    return df


def _raw(kind: str, tmp: Path) -> tuple[list[str], pd.DataFrame | np.ndarray, np.ndarray]:
    """Overrides of a run of ``kind`` and the raw rows and 0/1 labels its source reads."""
    if kind in ("mlp", "logreg"):
        data = make_synthetic(600, 6, 4, 0.1, random_state=0)
        return [*SYNTH, f"model={kind}"], data.X, data.y
    if kind == "cnn":
        data = make_digits(minority_fraction=0.1, random_state=0)
        return ["data=digits", "data.minority_fraction=0.1", "model=cnn"], data.X, data.y
    df = _table(tmp)
    path = write(df, tmp / "transactions.csv")
    table = ["data=table", f"data.path={path}", "data.target=Class", "data.impute=median"]
    data = load_table(path, "Class", impute="median")
    model = "model=hgb" if kind == "hgb" else "model=mlp"
    return [*table, model, "sampler=smote"], pd.read_csv(path).drop(columns="Class"), data.y


KINDS = ["mlp", "table", "hgb", "logreg", "cnn"]


def train_kind(kind: str, tmp: Path) -> tuple[Path, object, np.ndarray]:
    """A run of ``kind`` in ``tmp/run``: (run folder, raw rows, labels). The ``trained`` fixture
    (conftest.py) trains each kind once per session."""
    overrides, X, y = _raw(kind, tmp)
    run_dir = tmp / "run"
    # As a user runs it: the bundle is compared with the metrics.json the run wrote (the Python
    # API, in this process, runs what `train.py` runs: tests/test_api.py).
    with in_folder(tmp):
        imbalance_lab.run([*overrides, *RUN, "seed=0", f"hydra.run.dir={run_dir}"])
    return run_dir, X, y


def _test_rows(X, y: np.ndarray):
    """The raw rows and labels of the run's test split (split_data only looks at y)."""
    index = np.arange(len(y), dtype=np.float32)[:, None]
    _, _, (idx, y_test) = split_data(index, y, 0.2, 0.2, seed=0)
    idx = idx[:, 0].astype(int)
    rows = X.iloc[idx] if isinstance(X, pd.DataFrame) else X[idx]
    return rows, y_test


def check_averaged_bundle(folder: Path, results: dict, members: int) -> None:
    """The bundle in ``folder`` averages ``members`` networks and scores the run's test rows
    (TINY's synthetic data, seed 0) to the run's own test metrics."""
    from imbalance_lab.data.sources import make_synthetic
    from imbalance_lab.evaluation.metrics import binary_metrics
    from imbalance_lab.models.networks import ProbabilityAverage

    model = load_model(folder)
    assert isinstance(model._net, ProbabilityAverage) and len(model._net.members) == members
    data = make_synthetic(600, 6, 4, 0.1, random_state=0)
    rows, y_test = _test_rows(data.X, data.y)
    probs = model.predict_proba(rows)
    again = binary_metrics(torch.from_numpy(probs), torch.from_numpy(y_test), model.threshold)
    assert again == {k: v for k, v in results["test"].items() if k != "ece"}


@pytest.mark.parametrize("kind", KINDS)
def test_bundle_reproduces_the_runs_test_metrics(kind: str, trained) -> None:
    run_dir, X, y = trained(kind)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    model = load_model(run_dir)
    rows, y_test = _test_rows(X, y)
    probs = model.predict_proba(rows)
    assert probs.shape == (len(y_test),) and probs.dtype == np.float32
    t = metrics["threshold"]["value"]
    assert model.threshold == t
    again = binary_metrics(torch.from_numpy(probs), torch.from_numpy(y_test), t)
    expected = {k: v for k, v in metrics["test"].items() if k != "ece"}
    assert again == expected  # exactly, as written to metrics.json
    # Columns by name in any order, extra columns ignored; an array in training order too.
    df = rows
    if not isinstance(rows, pd.DataFrame):
        df = pd.DataFrame(rows, columns=list(model.feature_names_in_))
        np.testing.assert_array_equal(model.predict_proba(df), probs)
    shuffled = df[list(np.random.default_rng(0).permutation(df.columns))].assign(extra=1)
    np.testing.assert_array_equal(model.predict_proba(shuffled), probs)
    assert model.last_report["extra"] == ["extra"]
    assert model.info["metrics"]["test"] == metrics["test"]


def test_labels_come_back_in_the_files_own_values(trained) -> None:
    run_dir, X, _ = trained("table")
    model = load_model(run_dir)
    assert list(model.classes_) == ["ok", "fraud"]
    rows = X.iloc[:50]
    probs = model.predict_proba(rows)
    labels = model.predict(rows)
    np.testing.assert_array_equal(labels == "fraud", probs > model.threshold)
    assert set(model.predict(rows, threshold=-1.0)) == {"fraud"}
    assert set(model.predict(rows, threshold=1.0)) == {"ok"}


def test_a_csv_path_scores_as_its_dataframe(trained, tmp_path: Path) -> None:
    run_dir, X, _ = trained("table")
    model = load_model(run_dir)
    path = write(X.iloc[:40], tmp_path / "new.parquet")
    np.testing.assert_array_equal(model.predict_proba(path), model.predict_proba(X.iloc[:40]))


def test_plain_features_equal_scikit_learns(tmp_path: Path) -> None:
    """The arrays a bundle applies give what the fitted scikit-learn objects give, bit for bit."""
    df = _table(tmp_path)
    data = load_table(write(df, tmp_path / "t.csv"), "Class", impute="median")
    for scaler in ("standard", "minmax", "none"):
        ft = FeatureTransform(data.X[:400], scaler, data.categorical, data.impute)
        num = ft.imputers["num"].transform(data.X[:, ft.num])
        codes = ft.imputers["cat"].transform(data.X[:, ft.cat])
        expected = np.concatenate([ft.scale(num), ft.encoder.transform(codes)], axis=1)
        np.testing.assert_array_equal(ft(data.X), expected)


# -- bad input --------------------------------------------------------------------------------


def test_bad_rows_are_refused_with_one_message(trained) -> None:
    run_dir, X, _ = trained("table")
    model = load_model(run_dir)
    rows = X.iloc[:20]
    with pytest.raises(ConfigError, match=r"lacks 1 column.*: age\. It has: amount, country"):
        model.predict_proba(rows.drop(columns="age"))
    text = rows.astype({"age": "object"})
    text.loc[text.index[3], "age"] = "forty"
    with pytest.raises(ConfigError, match=r"column age .* not numbers \(e\.g\. 'forty'"):
        model.predict_proba(text)
    with pytest.raises(ConfigError, match=r"array of shape \(20, 3\).*takes 5 columns"):
        model.predict_proba(np.zeros((20, 3)))
    unseen = rows.assign(country=["xx"] * 5 + list(rows["country"][5:]))
    assert model.predict_proba(unseen).shape == (20,)
    assert model.last_report["unseen"] == {"country": 5}


def test_nan_without_imputation_is_refused(trained) -> None:
    run_dir, X, _ = trained("mlp")
    rows = np.array(X[:10])
    rows[2, 1] = np.nan
    with pytest.raises(ConfigError, match=r"missing values \(NaN\): x1 \(1\).*data.impute=null"):
        load_model(run_dir).predict_proba(rows)


def test_folders_without_a_loadable_bundle(trained, tmp_path: Path) -> None:
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "metrics.json").write_text(json.dumps({"status": "failed", "error": "Boom: x"}))
    with pytest.raises(ConfigError, match=r"holds no model bundle .*run failed \(Boom: x\)"):
        load_model(failed)
    newer = tmp_path / "newer"
    shutil.copytree(trained("mlp")[0] / "model", newer)
    meta = json.loads((newer / BUNDLE_FILE).read_text())
    (newer / BUNDLE_FILE).write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ConfigError, match=r"format version 99; .* reads versions up to 1"):
        load_model(newer)


# -- loading runs no code from the bundle -----------------------------------------------------


class _Exploit:
    """Unpickling this creates ``marker``: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _plant(bundle: Path, name: str, payload: bytes) -> None:
    (bundle / name).write_bytes(payload)
    meta = json.loads((bundle / BUNDLE_FILE).read_text())
    if name in meta["files"]:  # a forger would fix the checksum too: the format must refuse
        meta["files"][name] = _sha256(bundle / name)
    (bundle / BUNDLE_FILE).write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("kind", "name"), [("mlp", "weights.safetensors"), ("hgb", "estimator.skops")]
)
def test_a_planted_pickle_is_refused_and_never_runs(kind, name, trained, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(marker))
    pickle.loads(payload)  # the payload works: it creates the marker when unpickled
    assert marker.exists()
    marker.unlink()
    bundle = tmp_path / "bundle"
    shutil.copytree(trained(kind)[0] / "model", bundle)
    for extra in ("model.pkl", "model.pt", "estimator.pkl"):  # beside it: never opened
        (bundle / extra).write_bytes(payload)
    assert load_model(bundle).threshold >= 0
    _plant(bundle, name, payload)
    with pytest.raises(ConfigError, match="could not be read as"):
        load_model(bundle)
    assert not marker.exists()


def test_a_skops_file_with_untrusted_types_is_refused(trained, tmp_path: Path) -> None:
    import os

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    bundle = tmp_path / "bundle"
    shutil.copytree(trained("hgb")[0] / "model", bundle)
    sio.dump(FunctionTransformer(func=os.system), bundle / "estimator.skops")
    _plant(bundle, "estimator.skops", (bundle / "estimator.skops").read_bytes())
    with pytest.raises(ConfigError, match=r"types this package does not trust: .*system"):
        load_model(bundle)


# -- reading new files as training read the old one ------------------------------------------


def test_integer_categories_with_missing_values_match_a_file_without(tmp_path: Path) -> None:
    """Training reads an integer column with a gap as float (1.0); a new file without gaps
    reads it as int (1): both are category "1"."""
    df = pd.DataFrame(
        {"zone": [1, 2, np.nan, 3, 1, 2] * 10, "x": np.arange(60.0), "Class": [0] * 54 + [1] * 6}
    )
    data = load_table(write(df, tmp_path / "t.csv"), "Class", categorical=["zone"], impute="median")
    assert data.dtypes["zone"] == "float64" and data.vocabularies["zone"] == ["1", "2", "3"]
    schema = RawSchema.of(data)
    new = pd.DataFrame({"x": [1.0, 2.0, 3.0], "zone": [3, 1, 2]})  # int64
    raw, report = schema.matrix(new)
    assert report["unseen"] == {}
    np.testing.assert_array_equal(raw[:, data.feature_names.index("zone")], [2, 0, 1])
    # A bundle written before the fix recorded "1.0": it reads the new file the same way.
    old = schema.to_json()
    for column in old["columns"]:
        if column["name"] == "zone":
            column["categories"] = ["1.0", "2.0", "3.0"]
    raw_old, report_old = RawSchema.from_json(old).matrix(new)
    assert report_old["unseen"] == {}
    np.testing.assert_array_equal(raw_old, raw)


def test_csv_chunks_read_each_column_as_training_read_the_file(tmp_path: Path) -> None:
    """A chunk holding only "007" in a text column, or no gap in an integer one, reads as the
    whole file did: the same codes and numbers as one read of the file."""
    df = pd.DataFrame(
        {
            "card": ["007", "007", "A1", "007", "B2", "007"] * 5,
            "n": [1, 2, np.nan, 4, 5, 6] * 5,
            "Class": [0, 0, 0, 0, 0, 1] * 5,
        }
    )
    path = write(df, tmp_path / "t.csv")
    schema = RawSchema.of(load_table(path, "Class", impute="median"))
    assert schema.read_dtypes() == {"card": "str", "n": "float64"}
    parts = [schema.matrix(c) for c in chunks(path, 2, schema.read_dtypes())]
    assert all(report["unseen"] == {} for _, report in parts)
    whole, _ = schema.matrix(pd.read_csv(path))
    np.testing.assert_array_equal(np.concatenate([raw for raw, _ in parts]), whole)
