"""High-cardinality text columns: identifiers refused by name, other categories capped at
data.max_categories one-hot columns (rare and unseen levels share an "other" column)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import RUN, run_cli
from test_table import transactions, write

from imbalance_lab import load_model
from imbalance_lab.bundle.features import FittedFeatures
from imbalance_lab.data import ImbalanceDataModule
from imbalance_lab.data.features import FeatureTransform
from imbalance_lab.data.tables import load_table
from imbalance_lab.errors import ConfigError


def with_ids(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Transactions with an id, a timestamp string and a 60-level merchant column."""
    df = transactions(n, seed)
    rng = np.random.default_rng(seed)
    df.insert(0, "txn_id", [f"T{i:06d}" for i in range(n)])
    df["ts"] = pd.date_range("2026-01-01", periods=n, freq="min").astype(str)
    # Level i has weight 1 / (i + 1): a few frequent merchants and many rare ones.
    p = 1 / np.arange(1, 61)
    df["merchant"] = [f"M{i:02d}" for i in rng.choice(60, n, p=p / p.sum())]
    return df


def test_identifier_columns_are_refused_by_name_with_the_drop(tmp_path) -> None:
    path = write(with_ids(), tmp_path / "t.csv")
    with pytest.raises(ConfigError) as err:
        load_table(path, "Class")
    message = str(err.value)
    assert "txn_id (600 distinct values in 600 rows)" in message
    assert "ts (600 distinct" in message
    assert "data.drop=[txn_id,ts]" in message
    assert "merchant" not in message  # 60 levels in 600 rows: a category, not an id


def test_few_rows_with_distinct_values_are_not_identifiers(tmp_path) -> None:
    # 30 rows, 30 distinct countries: more than half the rows, but within data.max_categories.
    df = transactions(30, seed=3).assign(country=[f"c{i}" for i in range(30)])
    assert load_table(write(df, tmp_path / "t.csv"), "Class").categorical == [2, 3, 4]


def test_encoded_width_is_bounded_by_the_cap(tmp_path) -> None:
    df = with_ids().drop(columns=["txn_id", "ts"])
    data = load_table(write(df, tmp_path / "t.csv"), "Class", max_categories=10)
    dm = ImbalanceDataModule(data, seed=0, max_categories=10)
    dm.setup()
    levels, kept = dm.grouped_categories["merchant"]
    assert levels > 10 and kept == 9
    # amount, age; country 3 + card 2 + online 2; merchant 9 + "other".
    assert dm.n_features == 2 + 3 + 2 + 2 + 10
    X = dm.splits["test"][0]
    merchant = X[:, -10:]
    np.testing.assert_array_equal(merchant.sum(axis=1), 1.0)  # one column per row, always
    assert merchant[:, -1].sum() > 0  # rare merchants land in "other"
    with pytest.raises(ConfigError, match=r"data\.max_categories=1 must be"):
        ImbalanceDataModule(data, max_categories=1)


def test_capped_columns_equal_scikit_learns_encoder() -> None:
    """Bundle arrays encode as OneHotEncoder(max_categories, infrequent_if_exist), unseen codes
    (-1, what a bundle gives a level never seen in training) in "other"."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=200), rng.zipf(1.5, 200) % 12, rng.integers(0, 3, 200)])
    X = X.astype(np.float32)
    ft = FeatureTransform(X[:150], "standard", categorical=[1, 2], max_categories=4)
    assert ft.grouped == {0: (len(np.unique(X[:150, 1])), 3)}
    new = X.copy()
    new[:5, 1] = -1.0  # unseen
    prepared = ft.prepare(new)
    expected = np.concatenate(
        [prepared[:, :1], ft.encoder.transform(prepared[:, 1:])], axis=1
    ).astype(np.float32)
    np.testing.assert_array_equal(ft(new), expected)
    again = FittedFeatures.from_json(ft.fitted.to_json())
    np.testing.assert_array_equal(again(new), expected)
    assert again.n_out == expected.shape[1] == 1 + 4 + 3


def test_a_capped_table_trains_and_its_bundle_scores_the_same(tmp_path) -> None:
    df = with_ids(400).drop(columns=["txn_id", "ts"])
    path = write(df, tmp_path / "t.csv")
    run_dir = tmp_path / "run"
    run_cli(
        "data=table", f"data.path={path}", "data.target=Class", "data.max_categories=8",
        *RUN, f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    model = load_model(run_dir)
    rows = df.drop(columns="Class").iloc[:50].copy()
    probs = model.predict_proba(rows)
    rows.loc[rows.index[:5], "merchant"] = "never seen"
    unseen = model.predict_proba(rows)
    assert model.last_report["unseen"] == {"merchant": 5}
    np.testing.assert_array_equal(unseen[5:], probs[5:])
