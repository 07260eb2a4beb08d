"""Train-split resampling through the DataModule, for every sampler config."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate

from imbalance_lab.data import ImbalanceDataModule, TabularData
from imbalance_lab.data.features import fit_scaler
from imbalance_lab.pipeline import build_datamodule
from imbalance_lab.train import CONF_DIR

# smotenc / smoten need categorical columns: tests/test_table.py runs them on such data.
SAMPLERS = sorted(
    p.stem for p in (CONF_DIR / "sampler").glob("*.yaml") if p.stem not in ("smotenc", "smoten")
)
OVER = {"random_over", "smote", "adasyn", "borderline_smote", "svm_smote", "kmeans_smote"}
OVER_TO_BALANCE = {"random_over", "smote", "adasyn", "borderline_smote"}
UNDER_TO_BALANCE = {"random_under", "nearmiss", "nearmiss2", "nearmiss3", "cluster_centroids"}
COMBINED = {"smote_enn", "smote_tomek"}


def test_every_core_sampler_has_a_config() -> None:
    assert {"none", "random_over", "random_under", "smote", "adasyn", "tomek", "nearmiss"} <= set(
        SAMPLERS
    )


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_sampler_resamples_train_only(sampler: str, make_cfg) -> None:
    # Overlapping classes, so cleaning samplers (Tomek links) have something to remove.
    overrides = ["data.class_sep=0.5", "data.n_samples=800"]
    dm = build_datamodule(make_cfg(f"sampler={sampler}", *overrides))
    dm.setup()
    base = build_datamodule(make_cfg("sampler=none", *overrides))
    base.setup()

    before, after = dm.counts["train_before"], dm.counts["train"]
    assert before == base.counts["train"]
    if sampler == "none":
        assert after == before
    elif sampler in OVER:
        assert after["1"] > before["1"] and after["0"] == before["0"]
        if sampler in OVER_TO_BALANCE:
            assert after["1"] == pytest.approx(after["0"], rel=0.1)
    elif sampler in UNDER_TO_BALANCE:
        assert after["0"] == after["1"] == before["1"]
    elif sampler in COMBINED:  # oversample, then clean both classes
        assert after["1"] > before["1"] and after["0"] <= before["0"]
    else:  # cleaning under-samplers remove some majority rows and keep every minority row
        assert after["0"] < before["0"] and after["1"] == before["1"]
    assert len(dm.splits["train"][1]) == after["0"] + after["1"]
    # Validation and test are untouched: identical to a run without resampling.
    for split in ("val", "test"):
        np.testing.assert_array_equal(dm.splits[split][0], base.splits[split][0])
        np.testing.assert_array_equal(dm.splits[split][1], base.splits[split][1])


def test_sampling_strategy_is_overridable(make_cfg) -> None:
    dm = build_datamodule(make_cfg("sampler=random_over", "sampler.sampling_strategy=0.5"))
    dm.setup()
    counts = dm.counts["train"]
    assert counts["1"] == int(0.5 * counts["0"])


def test_split_is_stratified_and_seeded(make_cfg) -> None:
    a = build_datamodule(make_cfg("seed=1"))
    b = build_datamodule(make_cfg("seed=1"))
    c = build_datamodule(make_cfg("seed=2"))
    for dm in (a, b, c):
        dm.setup()
    np.testing.assert_array_equal(a.splits["test"][0], b.splits["test"][0])
    assert not np.array_equal(a.splits["test"][0], c.splits["test"][0])
    total = sum(a.counts[s]["1"] for s in ("train_before", "val", "test"))
    for split, frac in (("val", 0.2), ("test", 0.2)):
        assert abs(a.counts[split]["1"] - frac * total) <= 1


def test_scaler_is_fitted_on_train_only() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = (rng.random(400) < 0.2).astype(int)
    X[:, 0] += 100.0 * y  # a shift the scaler must not see through val/test
    dm = ImbalanceDataModule(TabularData(X, y, "t"), sampler=None, seed=0)
    dm.setup()
    X_train = dm.splits["train"][0]
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(X_train.std(axis=0), 1, atol=1e-3)


def test_constant_train_columns_do_not_explode_in_test() -> None:
    # A column constant (0) in train but large in val/test, as in KEEL's kddcup sets.
    X_train = np.zeros((50, 2), dtype=np.float32)
    X_train[:, 1] = np.linspace(-1, 1, 50)
    transform = fit_scaler(X_train, "standard")
    X_test = np.array([[1e9, 0.5]], dtype=np.float32)
    out = transform(X_test)
    assert out.shape == (1, 1)  # the constant column is dropped
    assert np.all(np.abs(out) < 10)
    assert transform.n_dropped == 1


def test_keel_default_dataset_is_imbalanced(make_cfg) -> None:
    cfg = make_cfg(tiny=False)
    data = instantiate(cfg.data.source)
    n_pos = int((data.y == 1).sum())
    assert (len(data.y) - n_pos) / n_pos >= 10
    assert data.X.shape[0] == len(data.y)


def test_folds_are_disjoint_stratified_and_cover_the_data() -> None:
    from imbalance_lab.data.datamodule import split_data

    rng = np.random.default_rng(0)
    n = 500
    y = (rng.random(n) < 0.1).astype(int)
    X = np.arange(n, dtype=np.float32)[:, None]  # the row id, to trace rows through the split
    tests = []
    for fold in range(5):
        train, val, test = split_data(X, y, 0.2, 0.2, seed=3, folds=5, fold=fold)
        ids = [set(part[0][:, 0].astype(int)) for part in (train, val, test)]
        assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
        assert len(ids[0] | ids[1] | ids[2]) == n
        assert abs(test[1].sum() - y.sum() / 5) <= 1  # stratified
        tests.append(ids[2])
    assert set().union(*tests) == set(range(n))
    assert sum(len(t) for t in tests) == n
    # Another repeat partitions differently.
    _, _, other = split_data(X, y, 0.2, 0.2, seed=3, folds=5, fold=0, repeat=1)
    assert set(other[0][:, 0].astype(int)) != tests[0]


def test_fold_settings_are_checked() -> None:
    from imbalance_lab.data.datamodule import split_data
    from imbalance_lab.errors import ConfigError

    y = np.array([0] * 50 + [1] * 10)
    with pytest.raises(ConfigError, match=r"data\.fold"):
        split_data(np.zeros((60, 1)), y, 0.2, 0.2, seed=0, folds=5, fold=5)


def test_balanced_batches_draw_both_classes_equally() -> None:
    import torch

    from imbalance_lab.data import TensorBatches

    y = torch.tensor([1.0] * 20 + [0.0] * 980)
    X = torch.arange(1000, dtype=torch.float32)[:, None]
    batches = TensorBatches(X, y, batch_size=100, shuffle=True, seed=0, balanced=True)
    drawn = torch.cat([b[1] for b in batches])
    assert len(drawn) == 1000
    assert 0.4 < drawn.mean().item() < 0.6  # 2 % positives in the data, ~50 % in the batches
    plain = torch.cat([b[1] for b in TensorBatches(X, y, 100, shuffle=True, seed=0)])
    assert plain.mean().item() == pytest.approx(0.02)


def test_distributed_shards_cover_an_epoch_in_equal_steps() -> None:
    import torch

    from imbalance_lab.data import TensorBatches

    # 129 rows, batch 64, 2 ranks: without padding one rank would run an extra step and hang
    # the other's gradient all-reduce.
    X = torch.arange(129, dtype=torch.float32)[:, None]
    y = torch.zeros(129)
    for balanced in (False, True):
        shards = [
            list(TensorBatches(X, y, 64, True, seed=5, balanced=balanced, rank=r, world_size=2))
            for r in range(2)
        ]
        assert len(shards[0]) == len(shards[1]) == 2  # == len(TensorBatches(...)) below
        rows = [torch.cat([b[0] for b in shard])[:, 0].long() for shard in shards]
        assert len(rows[0]) == len(rows[1]) == 65
        if not balanced:  # one epoch: every row, one row repeated to even the shards
            assert set(rows[0].tolist()) | set(rows[1].tolist()) == set(range(129))
            assert len(set(rows[0].tolist()) & set(rows[1].tolist())) <= 1
    assert len(TensorBatches(X, y, 64, True, rank=0, world_size=2)) == 2


def test_batch_sampling_through_config(make_cfg) -> None:
    dm = build_datamodule(make_cfg("data.batch_sampling=balanced", "data.batches_per_fetch=1"))
    loader = dm.train_dataloader()
    share = np.mean([b[1].mean().item() for b in loader])
    assert 0.35 < share < 0.65
    assert dm.counts["train"]["1"] / sum(dm.counts["train"].values()) < 0.15


def test_cache_key_follows_the_code_of_the_projects_samplers(tmp_path, monkeypatch) -> None:
    import inspect
    from pathlib import Path

    from imblearn.under_sampling import TomekLinks as ImblearnTomekLinks

    from imbalance_lab.data import cache, neighbors
    from imbalance_lab.data.samplers import SMOTEENN, TomekLinks

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (np.arange(40) < 5).astype(int)
    before = cache.cache_key(TomekLinks(), X, y)
    smoteenn_before = cache.cache_key(SMOTEENN(), X, y)  # calls neighbors through samplers.enn
    imblearn_before = cache.cache_key(ImblearnTomekLinks(), X, y)
    # An edit to the neighbour search the project's samplers call is a new entry.
    edited = tmp_path / "neighbors.py"
    edited.write_text(Path(neighbors.__file__).read_text() + "\n# edited\n")
    real_getfile = inspect.getfile
    monkeypatch.setattr(
        cache.inspect,
        "getfile",
        lambda obj: str(edited) if obj is neighbors else real_getfile(obj),
    )
    assert cache.cache_key(TomekLinks(), X, y) != before
    assert cache.cache_key(SMOTEENN(), X, y) != smoteenn_before
    assert cache.cache_key(ImblearnTomekLinks(), X, y) == imblearn_before


def test_resampled_training_set_is_cached(make_cfg, tmp_path, monkeypatch) -> None:
    from imblearn.over_sampling import SMOTE

    cache = tmp_path / "cache"
    first = build_datamodule(make_cfg("sampler=smote", f"data.cache_dir={cache}"))
    first.setup()
    assert not first.resample_cached and len(list(cache.glob("*.npz"))) == 1

    # A second job with the same data, split and sampler reads the cache: SMOTE never runs.
    def boom(*args, **kwargs):
        raise AssertionError("resampled again")

    monkeypatch.setattr(SMOTE, "fit_resample", boom)
    second = build_datamodule(make_cfg("sampler=smote", f"data.cache_dir={cache}"))
    second.setup()
    assert second.resample_cached
    np.testing.assert_array_equal(second.splits["train"][0], first.splits["train"][0])
    monkeypatch.undo()

    # Another seed, sampler setting or fold is another entry; data.cache_dir=null turns it off.
    build_datamodule(make_cfg("sampler=smote", "seed=7", f"data.cache_dir={cache}")).setup()
    build_datamodule(
        make_cfg("sampler=smote", "sampler.k_neighbors=3", f"data.cache_dir={cache}")
    ).setup()
    assert len(list(cache.glob("*.npz"))) == 3
    off = build_datamodule(make_cfg("sampler=smote", "data.cache_dir=null"))
    off.setup()
    assert not off.resample_cached and len(list(cache.glob("*.npz"))) == 3
