"""Bring your own data: CSV/Parquet tables, categorical columns, missing values, bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import RUN, run_cli
from imblearn.combine import SMOTEENN
from imblearn.over_sampling import ADASYN, SMOTE

from imbalance_lab.data import ImbalanceDataModule, TabularData
from imbalance_lab.data.features import FeatureTransform
from imbalance_lab.data.resampling import adapt_sampler, describe_sampler, resample
from imbalance_lab.data.tables import load_table
from imbalance_lab.errors import ConfigError
from imbalance_lab.pipeline import run

CATEGORIES = {"country": ["de", "fr", "uk"], "card": ["mc", "visa"]}


def transactions(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Fraud-like rows: two numeric columns, two text categories, a bool, 10 % positives."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    return pd.DataFrame(
        {
            "amount": rng.normal(size=n) + 1.5 * y,
            "age": rng.integers(18, 80, n),
            "country": rng.choice(CATEGORIES["country"], n),
            "card": np.where(y == 1, rng.choice(["mc", "visa"], n, p=[0.8, 0.2]), "visa"),
            "online": rng.random(n) < 0.3,
            "Class": y,
        }
    )


def write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False)
    return path


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_round_trip_through_training(suffix: str, make_cfg, tmp_path: Path) -> None:
    path = write(transactions(), tmp_path / f"transactions{suffix}")
    cfg = make_cfg(
        "data=table", f"data.path={path}", "data.target=Class", "sampler=smote", *RUN, tiny=False
    )
    results = run(cfg)
    assert results["status"] == "ok"
    assert results["dataset"] == "transactions"
    # amount, age + one-hot country (3), card (2), online (2)
    assert results["n_features"] == 2 + 3 + 2 + 2
    assert results["sampler"]["class"] == "SMOTENC"  # switched from SMOTE: categories present
    assert results["sampler"]["params"]["categorical_features"] == [2, 3, 4]
    counts = results["class_counts"]
    assert counts["train"]["1"] == counts["train"]["0"] > counts["train_before"]["1"]
    assert 0.0 <= results["test"]["pr_auc"] <= 1.0


def test_cli_reads_a_relative_path(tmp_path: Path) -> None:
    write(transactions(300), tmp_path / "transactions.csv")
    run_dir = tmp_path / "run"
    run_cli(
        "data=table",
        "data.path=transactions.csv",
        "data.target=Class",
        *RUN,
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert '"status": "ok"' in (run_dir / "metrics.json").read_text()


def test_csv_and_parquet_load_the_same(tmp_path: Path) -> None:
    df = transactions()
    a = load_table(write(df, tmp_path / "t.csv"), "Class")
    b = load_table(write(df, tmp_path / "t.parquet"), "Class")
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.feature_names == ["amount", "age", "country", "card", "online"]
    assert a.categorical == [2, 3, 4]  # text and bool columns detected by dtype
    assert set(np.unique(a.X[:, 2])) == {0.0, 1.0, 2.0}  # codes of de, fr, uk


def test_categorical_drop_and_positive_label(tmp_path: Path) -> None:
    df = transactions()
    df["zip"] = np.arange(len(df)) % 4 * 1000
    df["Class"] = np.where(df["Class"] == 1, "fraud", "ok")
    path = write(df, tmp_path / "t.csv")
    data = load_table(path, "Class", drop=["online"], categorical=["country", "card", "zip"])
    assert data.feature_names == ["amount", "age", "country", "card", "zip"]
    assert data.categorical == [2, 3, 4]  # zip: numbers, declared categorical
    assert set(np.unique(data.X[:, 4])) == {0.0, 1.0, 2.0, 3.0}
    assert data.y.sum() == (df["Class"] == "fraud").sum()  # the rarer class by default
    ok = load_table(path, "Class", positive_label="ok", categorical=["country", "card"])
    assert ok.y.sum() == (df["Class"] == "ok").sum()


def test_multiclass_target_one_vs_rest(tmp_path: Path) -> None:
    df = transactions()
    df["Class"] = np.arange(len(df)) % 3  # 0, 1, 2 as numbers
    df.loc[:9, "Class"] = 7
    path = write(df, tmp_path / "t.csv")
    assert load_table(path, "Class", positive_label=7).y.sum() == 10
    assert load_table(path, "Class", positive_label="7").y.sum() == 10  # text matches numbers


# -- categorical columns through the DataModule -----------------------------------------------


def test_smotenc_is_chosen_and_keeps_valid_categories(tmp_path: Path, caplog) -> None:
    data = load_table(write(transactions(), tmp_path / "t.csv"), "Class")
    dm = ImbalanceDataModule(data, sampler=SMOTE(k_neighbors=3, random_state=0), seed=0)
    with caplog.at_level(logging.INFO, logger="imbalance_lab.data.resampling"):
        dm.setup()
    assert "SMOTE replaced by SMOTENC" in caplog.text
    assert type(dm.sampler).__name__ == "SMOTENC"  # what metrics.json records
    params = describe_sampler(dm.sampler)["params"]
    assert params["k_neighbors"] == 3 and params["random_state"] == 0
    X = dm.splits["train"][0]
    assert dm.counts["train"]["1"] > dm.counts["train_before"]["1"]
    # Every one-hot block of every row (synthetic ones included) holds exactly one category.
    blocks = [slice(2, 5), slice(5, 7), slice(7, 9)]
    for block in blocks:
        np.testing.assert_array_equal(X[:, block].sum(axis=1), 1.0)
        assert set(np.unique(X[:, block])) == {0.0, 1.0}


def test_smotenc_and_smoten_configs_take_columns_from_the_data(make_cfg, tmp_path: Path) -> None:
    path = write(transactions(), tmp_path / "t.csv")
    table = ["data=table", f"data.path={path}", "data.target=Class", *RUN]
    results = run(make_cfg(*table, "sampler=smotenc", tiny=False))
    assert results["sampler"]["class"] == "SMOTENC"
    assert results["sampler"]["params"]["categorical_features"] == [2, 3, 4]
    assert results["class_counts"]["train"]["1"] == results["class_counts"]["train"]["0"]
    with pytest.raises(ConfigError, match="sampler=smoten needs every column categorical"):
        run(make_cfg(*table, "sampler=smoten", tiny=False))
    numeric_only = ["data.drop=[country,card,online]"]
    with pytest.raises(ConfigError, match="sampler=smotenc needs numeric and categorical"):
        run(make_cfg(*table, *numeric_only, "sampler=smotenc", tiny=False))


def test_synthetic_rows_take_existing_codes(tmp_path: Path) -> None:
    data = load_table(write(transactions(), tmp_path / "t.csv"), "Class")
    features = FeatureTransform(data.X, "standard", data.categorical)
    X = features.prepare(data.X)
    cat = features.sampler_categorical
    np.testing.assert_array_equal(X[:, cat], data.X[:, data.categorical])  # codes never scaled
    sampler = adapt_sampler(SMOTE(random_state=1), cat, X.shape[1])
    res = resample(sampler, X, data.y)
    synthetic = res.X[len(X) :]
    assert len(synthetic) > 0
    for j, c in enumerate(cat):
        assert set(np.unique(synthetic[:, c])) <= set(features.valid_codes[j])
        # the minority's rarer card "visa" may be drawn, but never a code between categories
        assert np.all(synthetic[:, c] == np.round(synthetic[:, c]))


def test_all_categorical_uses_smoten_and_combined_samplers_adapt() -> None:
    assert type(adapt_sampler(SMOTE(), [0, 1], 2)).__name__ == "SMOTEN"
    from imbalance_lab.data import fast_samplers

    for cls in (SMOTEENN, fast_samplers.SMOTEENN, fast_samplers.SMOTETomek):  # the configs'
        combined = adapt_sampler(cls(random_state=3), [1], 2)
        assert type(combined) is cls
        assert type(combined.smote).__name__ == "SMOTENC" and combined.smote.random_state == 3
        assert describe_sampler(combined)["params"]["smote"] == "SMOTENC"
    plain = SMOTE()
    assert adapt_sampler(plain, [], 3) is plain  # no categories, no change


def test_interpolating_sampler_on_categories_is_refused(tmp_path: Path) -> None:
    data = load_table(write(transactions(), tmp_path / "t.csv"), "Class")
    dm = ImbalanceDataModule(data, sampler=ADASYN(random_state=0), seed=0)
    with pytest.raises(ConfigError, match=r"ADASYN .*category codes.*country.*sampler=smote"):
        dm.setup()
    # threshold=oof resamples parts of the split itself (dm.resample): the same refusal.
    parts = ImbalanceDataModule(data, sampler=ADASYN(random_state=0), seed=0, resample_train=False)
    parts.setup()
    with pytest.raises(ConfigError, match=r"ADASYN .*category codes.*country"):
        parts.resample(*parts.prepared["train"])


# -- missing values ---------------------------------------------------------------------------


def test_nan_without_impute_names_columns_and_counts(tmp_path: Path) -> None:
    df = transactions()
    df.loc[:4, "amount"] = np.nan
    df.loc[:1, "country"] = None
    with pytest.raises(ConfigError, match=r"amount \(5\), country \(2\).*data\.impute=median"):
        load_table(write(df, tmp_path / "t.csv"), "Class")


def test_imputer_is_fitted_on_train_only(tmp_path: Path) -> None:
    df = transactions()
    df.loc[:19, "amount"] = np.nan
    df.loc[:9, "country"] = None
    data = load_table(write(df, tmp_path / "t.csv"), "Class", impute="median")
    assert data.impute == "median" and np.isnan(data.X).sum() == 30
    train = data.X[100:]
    features = FeatureTransform(train, "none", data.categorical, data.impute)
    filled = features.prepare(data.X[:20])
    assert np.all(filled[:, 0] == np.float32(np.nanmedian(train[:, 0])))
    codes, counts = np.unique(train[:, 2], return_counts=True)
    assert np.all(filled[:10, features.sampler_categorical[0]] == codes[np.argmax(counts)])
    dm = ImbalanceDataModule(data, sampler=SMOTE(random_state=0), seed=0)
    dm.setup()
    assert all(np.isfinite(X).all() for X, _ in dm.splits.values())


# -- inputs that fail well --------------------------------------------------------------------


def _bad(tmp_path: Path, df: pd.DataFrame, **kw) -> None:
    load_table(write(df, tmp_path / "t.csv"), kw.pop("target", "Class"), **kw)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.path=.*nope\.csv does not exist"):
        load_table(tmp_path / "nope.csv", "Class")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("t.parquet", b"not parquet at all", r"t\.parquet could not be read as parquet"),
        ("t.csv", b"a,b\n\xff\xfe\x00\x81,1\n", r"t\.csv could not be read as csv"),
        ("t.csv", b"", r"t\.csv is an empty file"),
        ("t.csv", b"\n\n", r"t\.csv holds no data"),
        ("t.csv", b"amount,Class\n", r"t\.csv holds a header but no rows"),
        ("t.xlsx", b"x", r"data\.path=.*t\.xlsx: unknown file type"),
    ],
)
def test_unreadable_or_empty_file(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_table(tmp_path / name, "Class")


def test_folder_and_unset_settings(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(ConfigError, match=r"d\.csv is a folder"):
        load_table(tmp_path / "d.csv", "Class")
    with pytest.raises(ConfigError, match=r"data\.path is not set"):
        load_table(None, "Class")
    with pytest.raises(ConfigError, match=r"data\.target is not set"):
        load_table(tmp_path / "d.csv", None)
    with pytest.raises(ConfigError, match=r"data\.impute='mean' is unknown"):
        load_table(tmp_path / "d.csv", "Class", impute="mean")


def test_target_column_missing_lists_columns(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.target names class.*Did you mean: Class.*amount"):
        _bad(tmp_path, transactions(), target="class")


def test_unknown_drop_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.drop names idx.*Columns found"):
        _bad(tmp_path, transactions(), drop=["idx"])


def test_target_with_one_class(tmp_path: Path) -> None:
    df = transactions().assign(Class=0)
    with pytest.raises(ConfigError, match=r"data\.target=Class holds a single class \(0 \(600"):
        _bad(tmp_path, df)


def test_multiclass_without_positive_label_lists_classes(tmp_path: Path) -> None:
    df = transactions().assign(Class=lambda d: np.arange(len(d)) % 3)
    df.loc[:5, "Class"] = 9
    with pytest.raises(
        ConfigError, match=r"4 classes: .*\(198 rows\).*9 \(6 rows\).*data\.positive_label"
    ):
        _bad(tmp_path, df)
    with pytest.raises(ConfigError, match=r"data\.positive_label=5 is not a class"):
        _bad(tmp_path, df, positive_label=5)


def test_continuous_target_is_called_continuous(tmp_path: Path) -> None:
    df = transactions()
    rng = np.random.default_rng(0)
    df["Class"] = rng.normal(50, 10, len(df)).round(3)  # a measurement, e.g. an amount
    with pytest.raises(ConfigError) as info:
        _bad(tmp_path, df)
    message = str(info.value)
    assert "data.target=Class looks continuous" in message and "fractional values" in message
    assert "rows)" not in message  # not a list of 600 "classes" of one row each
    # Whole numbers: a count with many values is continuous too, unless a class is named.
    df["Class"] = np.arange(len(df)) % 40
    with pytest.raises(ConfigError, match=r"looks continuous.*40 distinct whole numbers"):
        _bad(tmp_path, df)
    data = load_table(write(df, tmp_path / "n.csv"), "Class", positive_label=3)
    assert data.y.sum() == 15


def test_undeclared_text_column_is_refused(tmp_path: Path) -> None:
    df = transactions()
    with pytest.raises(ConfigError, match=r"not numbers: card \(e\.g\. '.*'\).*data\.categorical"):
        _bad(tmp_path, df, categorical=["country"], drop=["online"])
    df["age"] = df["age"].astype(str)  # numbers stored as text parse fine
    data = load_table(write(df, tmp_path / "u.csv"), "Class", categorical=["country", "card"])
    assert data.categorical == [2, 3]


def test_infinite_values_name_the_column(tmp_path: Path) -> None:
    df = transactions()
    df.loc[3, "amount"] = np.inf
    df["age"] = df["age"].astype(float)
    df.loc[4, "age"] = 1e300  # beyond float32
    with pytest.raises(ConfigError, match=r"infinite .*amount \(1\), age \(1\).*data\.drop"):
        _bad(tmp_path, df)


def test_entirely_missing_column_suggests_drop(tmp_path: Path) -> None:
    df = transactions().assign(notes=np.nan)
    with pytest.raises(ConfigError, match=r"entirely missing: notes.*data\.drop=\[notes\]"):
        _bad(tmp_path, df)


def test_too_few_positives_names_the_counts(make_cfg, tmp_path: Path) -> None:
    df = transactions(200)
    df["Class"] = 0
    df.loc[:2, "Class"] = 1
    path = write(df, tmp_path / "few.csv")
    cfg = make_cfg("data=table", f"data.path={path}", "data.target=Class", *RUN, tiny=False)
    with pytest.raises(ConfigError, match=r"3 positive rows.*val needs >= 5.*data\.val_size"):
        run(cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few.csv"]  # nothing written


def test_tabular_data_defaults() -> None:
    data = TabularData(np.zeros((3, 2)), [0, 1, 0], "t")
    assert data.categorical == [] and data.impute is None and data.image_shape is None
