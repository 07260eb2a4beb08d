"""The project's samplers (imbalance_lab.data.samplers) return exactly what imblearn's return:
same rows, same order."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hydra.utils import instantiate
from imblearn import under_sampling as imb
from imblearn.over_sampling import SMOTE
from omegaconf import OmegaConf
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from imbalance_lab.data import neighbors, samplers
from imbalance_lab.data.neighbors import TorchNearestNeighbors
from imbalance_lab.data.samplers import NearMiss, TomekLinks, enn, nearmiss
from imbalance_lab.train import CONF_DIR


def make_data(
    seed: int,
    n: int,
    d: int,
    minority: float = 0.1,
    duplicates: bool = False,
    integer: bool = False,
    dtype: type = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping classes; ``integer`` rounds to a coarse grid (many equal distances),
    ``duplicates`` copies a third of the rows onto others (exact ties, zero distances)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < minority).astype(np.int64)
    y[:2] = 1  # both classes, whatever the seed
    X = rng.normal(size=(n, d)) + 0.8 * y[:, None]
    if integer:
        X = np.round(X * 1.5)
    if duplicates:
        X[rng.integers(0, n, n // 3)] = X[rng.integers(0, n, n // 3)]
    return X.astype(dtype), y


def assert_same(reference, ours, X, y) -> None:
    X_ref, y_ref = reference.fit_resample(X, y)
    X_new, y_new = ours.fit_resample(X, y)
    np.testing.assert_array_equal(ours.sample_indices_, reference.sample_indices_)
    if sp.issparse(X_ref):
        X_ref, X_new = X_ref.toarray(), X_new.toarray()
    np.testing.assert_array_equal(X_new, X_ref)
    np.testing.assert_array_equal(y_new, y_ref)
    assert X_new.dtype == X_ref.dtype


# (rows, features): KD-tree search (<= 15 features) and brute force, where scikit-learn runs
# its full query parallel on Y (few rows) or on X (many rows): they break ties differently.
SHAPES = [(400, 2), (2000, 6), (1500, 20), (6000, 20)]
DATA_KINDS = [
    {},
    {"duplicates": True},
    {"integer": True, "duplicates": True},
    {"integer": True, "dtype": np.float32},
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", range(len(DATA_KINDS)))
@pytest.mark.parametrize("threads", [1, 2])
def test_tomek_links_identical(shape: tuple[int, int], kind: int, threads: int) -> None:
    with threadpool_limits(limits=threads, user_api="openmp"):
        for seed in range(2):
            X, y = make_data(seed, *shape, **DATA_KINDS[kind])
            for strategy in ("auto", "all", "majority", "not majority"):
                assert_same(
                    imb.TomekLinks(sampling_strategy=strategy),
                    TomekLinks(sampling_strategy=strategy),
                    X,
                    y,
                )


def test_tomek_links_remove_something_on_this_data() -> None:
    # Guards the test above against data on which both remove nothing.
    X, y = make_data(0, 1500, 20, integer=True, duplicates=True)
    sampler = TomekLinks(sampling_strategy="all").fit(X, y)
    X_res, _ = sampler.fit_resample(X, y)
    assert len(X_res) < len(X) - 5


def test_tomek_links_multiclass_string_labels_and_lists() -> None:
    rng = np.random.default_rng(3)
    X = np.round(rng.normal(size=(3000, 4)) * 2)
    y = rng.choice(np.array(["a", "b", "c"]), size=3000, p=[0.6, 0.3, 0.1])
    for strategy in ("auto", "all", ["a"], ["b", "c"]):
        assert_same(
            imb.TomekLinks(sampling_strategy=strategy),
            TomekLinks(sampling_strategy=strategy),
            X,
            y,
        )


def test_tomek_links_sparse_input() -> None:
    X, y = make_data(1, 800, 5, integer=True, duplicates=True)
    X = sp.csr_matrix(X)
    assert_same(imb.TomekLinks(), TomekLinks(), X, y)


def test_tomek_links_without_cython_reduction_delegates() -> None:
    import sklearn

    X, y = make_data(2, 1500, 20, integer=True, duplicates=True)
    with sklearn.config_context(enable_cython_pairwise_dist=False):
        assert_same(
            imb.TomekLinks(sampling_strategy="all"), TomekLinks(sampling_strategy="all"), X, y
        )


NEARMISS_STRATEGIES = ["auto", "majority", "all", 0.5, {0: 40}]


@pytest.mark.parametrize("shape", [(600, 3), (1500, 20), (4000, 30)])
@pytest.mark.parametrize("kind", range(len(DATA_KINDS)))
def test_nearmiss2_identical(shape: tuple[int, int], kind: int, monkeypatch) -> None:
    # Chunks of a few rows, so that results cross many chunk boundaries.
    monkeypatch.setattr(nearmiss, "_NEARMISS_CHUNK_ELEMENTS", 5000)
    for seed in range(2):
        X, y = make_data(seed, *shape, **DATA_KINDS[kind])
        for strategy in NEARMISS_STRATEGIES:
            for k in (1, 3, 10):
                assert_same(
                    imb.NearMiss(version=2, n_neighbors=k, sampling_strategy=strategy),
                    NearMiss(version=2, n_neighbors=k, sampling_strategy=strategy),
                    X,
                    y,
                )


@pytest.mark.parametrize("shape", [(800, 4), (1500, 20)])
@pytest.mark.parametrize("kind", range(len(DATA_KINDS)))
def test_nearmiss2_distance_sums_are_bitwise_imblearns(shape, kind, monkeypatch) -> None:
    # The quantity NearMiss-2 ranks by, compared bit for bit, not only the ranking: KD-tree and
    # brute-force (float64, and float32 with its own rounding) searches.
    monkeypatch.setattr(nearmiss, "_NEARMISS_CHUNK_ELEMENTS", 3000)
    X, y = make_data(kind, *shape, **DATA_KINDS[kind])
    X_class, X_min = X[y == 0], X[y == 1]
    for k in (1, 3, 10):
        sampler = NearMiss(version=2, n_neighbors=k)
        sampler._validate_estimator()
        sampler.nn_.fit(X_min)
        dist, _ = sampler.nn_.kneighbors(X_class, n_neighbors=len(X_min))
        expected = np.sum(dist[:, -k:], axis=1)
        np.testing.assert_array_equal(sampler._farthest_distance_sums(X_class, X_min), expected)


def test_nearmiss2_distance_sums_follow_sklearns_blas_blocks() -> None:
    # 388 minority rows: scikit-learn's search multiplies them in blocks of 256 and 132, and
    # BLAS rounds the last columns of a 388-column product differently (found on AVX-512).
    X, y = make_data(11, 20000, 30, minority=0.02, duplicates=True)
    X_class, X_min = X[y == 0], X[y == 1]
    sampler = NearMiss(version=2)
    sampler._validate_estimator()
    sampler.nn_.fit(X_min)
    dist, _ = sampler.nn_.kneighbors(X_class, n_neighbors=len(X_min))
    expected = np.sum(dist[:, -3:], axis=1)
    np.testing.assert_array_equal(sampler._farthest_distance_sums(X_class, X_min), expected)


def test_nearmiss2_default_chunks_and_neighbours_object() -> None:
    X, y = make_data(4, 3000, 8, duplicates=True)
    assert_same(imb.NearMiss(version=2), NearMiss(version=2), X, y)
    # Another metric: the object's own search, chunked.
    manhattan = NearestNeighbors(n_neighbors=3, metric="manhattan")
    assert_same(
        imb.NearMiss(version=2, n_neighbors=manhattan),
        NearMiss(version=2, n_neighbors=manhattan),
        X,
        y,
    )


def test_nearmiss2_multiclass() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 5))
    y = rng.choice(3, size=2000, p=[0.5, 0.35, 0.15])
    for strategy in ("auto", "all", {0: 100, 1: 200}):
        assert_same(
            imb.NearMiss(version=2, sampling_strategy=strategy),
            NearMiss(version=2, sampling_strategy=strategy),
            X,
            y,
        )


@pytest.mark.parametrize("version", [1, 3])
def test_nearmiss_1_and_3_are_imblearn(version: int) -> None:
    X, y = make_data(6, 2000, 10, duplicates=True)
    assert_same(imb.NearMiss(version=version), NearMiss(version=version), X, y)


@pytest.mark.parametrize(("name", "cls"), [("tomek", TomekLinks), ("nearmiss", NearMiss)])
def test_configs_build_the_fast_samplers(name: str, cls: type) -> None:
    cfg = OmegaConf.load(CONF_DIR / "sampler" / f"{name}.yaml")
    sampler = instantiate(cfg)
    assert type(sampler) is cls
    # Same parameters as imblearn's class: the configs keep working for both.
    reference = getattr(imb, cls.__name__)()
    assert sampler.get_params().keys() == reference.get_params().keys()


def test_torch_nearest_neighbors_match_sklearn() -> None:
    rng = np.random.default_rng(8)
    X, Q = rng.normal(size=(700, 7)), rng.normal(size=(90, 7))
    ref = NearestNeighbors(n_neighbors=4).fit(X)
    ours = TorchNearestNeighbors(4, device="cpu", batch_elements=10_000).fit(X)
    for query in (Q, None):  # None: the fit rows, each without itself
        dist_ref, ind_ref = ref.kneighbors(query)
        dist, ind = ours.kneighbors(query)
        np.testing.assert_array_equal(ind, ind_ref)
        np.testing.assert_allclose(dist, dist_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(
        ours.kneighbors(Q, 2, return_distance=False), ref.kneighbors(Q, 2)[1]
    )
    for mode in ("connectivity", "distance"):
        diff = ours.kneighbors_graph(Q, mode=mode) - ref.kneighbors_graph(Q, mode=mode)
        assert abs(diff).max() < 1e-12
    with pytest.raises(ValueError, match="n_neighbors <= n_samples"):
        ours.kneighbors(Q, n_neighbors=701)


def test_torch_nearest_neighbors_inside_imblearn() -> None:
    X, y = make_data(9, 1500, 6)
    smote = SMOTE(random_state=0).fit_resample(X, y)
    torch_smote = SMOTE(random_state=0, k_neighbors=TorchNearestNeighbors(6)).fit_resample(X, y)
    np.testing.assert_array_equal(torch_smote[0], smote[0])
    assert_same(
        imb.NearMiss(version=1), NearMiss(version=1, n_neighbors=TorchNearestNeighbors(3)), X, y
    )


# --------------------------------------------------------------------------- the ENN family
ENN_FAMILY = [
    ("EditedNearestNeighbours", {"kind_sel": "all"}),
    ("EditedNearestNeighbours", {"kind_sel": "mode", "sampling_strategy": "all"}),
    ("RepeatedEditedNearestNeighbours", {}),
    ("AllKNN", {}),
    ("NeighbourhoodCleaningRule", {}),
]


def _reference(cls_name: str, params: dict) -> object:
    from imblearn import combine

    module = combine if cls_name.startswith("SMOTE") else imb
    return getattr(module, cls_name)(**params)


@pytest.mark.parametrize(("cls_name", "params"), ENN_FAMILY)
@pytest.mark.parametrize("shape", [(400, 2), (1500, 20)])
@pytest.mark.parametrize("kind", [0, 2, 3])
def test_enn_family_identical(cls_name, params, shape, kind, monkeypatch) -> None:
    # Small pieces, so that this data is searched piece by piece as a 1M-row set would be.
    monkeypatch.setattr(neighbors, "PIECE_ROWS", 256)
    monkeypatch.setattr(enn, "ENN_BOUND_MIN_ROWS", 10**9)  # the full search
    pieces = []
    piece = neighbors._kneighbors_like_full_query
    monkeypatch.setattr(
        neighbors,
        "_kneighbors_like_full_query",
        lambda *args: pieces.append(1) or piece(*args),
    )
    X, y = make_data(4, *shape, **DATA_KINDS[kind])
    assert_same(_reference(cls_name, params), getattr(samplers, cls_name)(**params), X, y)
    assert len(pieces) >= (4 if shape[0] > 1000 else 0)


@pytest.mark.parametrize(("cls_name", "params"), ENN_FAMILY)
@pytest.mark.parametrize("shape", [(1500, 20), (3000, 16)])
@pytest.mark.parametrize("kind", range(len(DATA_KINDS)))
def test_enn_bounds_give_imblearns_rows(cls_name, params, shape, kind, monkeypatch) -> None:
    # The bounds at a size where they run: small buckets, every class size.
    monkeypatch.setattr(enn, "ENN_BOUND_MIN_ROWS", 50)
    monkeypatch.setattr(enn, "ENN_BUCKET_ROWS", 60)
    searched = []
    undecided = samplers.EditedNearestNeighbours._undecided

    def spy(self, X, y, target, class_rows, *args):
        rows = undecided(self, X, y, target, class_rows, *args)
        searched.append((len(class_rows), None if rows is None else len(rows)))
        return rows

    monkeypatch.setattr(samplers.EditedNearestNeighbours, "_undecided", spy)
    X, y = make_data(11, *shape, minority=0.08, **DATA_KINDS[kind])
    assert_same(_reference(cls_name, params), getattr(samplers, cls_name)(**params), X, y)
    # The majority class was bounded; on continuous data (few equal distances) most of its
    # rows needed no search.
    assert any(rows is not None for _, rows in searched)
    if kind == 0:
        assert any(rows is not None and rows < size / 2 for size, rows in searched)


def test_enn_searches_every_row_it_removes_and_few_others(monkeypatch) -> None:
    monkeypatch.setattr(enn, "ENN_BOUND_MIN_ROWS", 50)
    monkeypatch.setattr(enn, "ENN_BUCKET_ROWS", 60)
    X, y = make_data(11, 3000, 16, minority=0.05)
    ours = samplers.EditedNearestNeighbours()
    assert_same(imb.EditedNearestNeighbours(), ours, X, y)
    removed = int(np.sum(y == 0) - np.sum(y[ours.sample_indices_] == 0))
    assert ours.searched_rows_.keys() == {0}  # the minority is not cleaned ("auto")
    assert removed <= ours.searched_rows_[0] < np.sum(y == 0) / 2


def test_enn_bounds_multiclass_identical(monkeypatch) -> None:
    monkeypatch.setattr(enn, "ENN_BOUND_MIN_ROWS", 50)
    monkeypatch.setattr(enn, "ENN_BUCKET_ROWS", 60)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2500, 18))  # > 15 features: brute-force search, where bounds run
    y = np.array([0] * 2000 + [1] * 300 + [2] * 200)
    X[y == 1] += 1.0
    for kind_sel in ("all", "mode"):
        assert_same(
            imb.EditedNearestNeighbours(kind_sel=kind_sel),
            samplers.EditedNearestNeighbours(kind_sel=kind_sel),
            X,
            y,
        )


@pytest.mark.parametrize(("cls_name", "cleaner"), [("SMOTEENN", "enn_"), ("SMOTETomek", "tomek_")])
def test_smote_combinations_identical(cls_name: str, cleaner: str) -> None:
    X, y = make_data(5, 1200, 8, duplicates=True)
    reference = _reference(cls_name, {"random_state": 0})
    ours = getattr(samplers, cls_name)(random_state=0)
    X_ref, y_ref = reference.fit_resample(X, y)
    X_new, y_new = ours.fit_resample(X, y)
    assert type(getattr(ours, cleaner)).__module__.startswith(samplers.__name__)
    removed = getattr(ours, cleaner).sample_indices_
    np.testing.assert_array_equal(removed, getattr(reference, cleaner).sample_indices_)
    smoted = ours.smote_.fit_resample(X, y)[1]
    assert len(removed) < len(smoted)  # the cleaning step removed rows
    np.testing.assert_array_equal(X_new, X_ref)
    np.testing.assert_array_equal(y_new, y_ref)


def test_enn_family_configs_build_the_project_samplers() -> None:
    for name, cls_name in [
        ("enn", "EditedNearestNeighbours"),
        ("renn", "RepeatedEditedNearestNeighbours"),
        ("allknn", "AllKNN"),
        ("neighbourhood_cleaning", "NeighbourhoodCleaningRule"),
        ("smote_enn", "SMOTEENN"),
        ("smote_tomek", "SMOTETomek"),
    ]:
        # Under a root with a seed: smote_enn / smote_tomek configure their SMOTE step with it.
        root = OmegaConf.create(
            {"seed": 0, "sampler": OmegaConf.load(CONF_DIR / "sampler" / f"{name}.yaml")}
        )
        cfg = root.sampler
        sampler = instantiate(cfg, random_state=0) if "random_state" in cfg else instantiate(cfg)
        assert type(sampler) is getattr(samplers, cls_name)
        reference = _reference(cls_name, {}).get_params(deep=False)
        assert sampler.get_params(deep=False).keys() == reference.keys()


def test_neighbour_search_on_torch_gives_enn_the_same_rows(monkeypatch) -> None:
    # The GPU path, run on torch's CPU device: continuous data, so no ties to break.
    monkeypatch.setattr(neighbors.NeighbourSearch, "resolved_device", lambda self: "cpu")
    X, y = make_data(7, 1500, 12)
    ours = samplers.EditedNearestNeighbours(sampling_strategy="all")
    assert_same(imb.EditedNearestNeighbours(sampling_strategy="all"), ours, X, y)
    assert isinstance(ours.nn_.nn_, TorchNearestNeighbors)
    assert len(ours.sample_indices_) < len(y)


def test_neighbour_search_progress_bar_setting(monkeypatch) -> None:
    monkeypatch.setattr(neighbors, "PROGRESS_MIN_QUERIES", 100)
    assert neighbors.NeighbourSearch(progress=True)._show_progress(100)
    assert not neighbors.NeighbourSearch(progress=True)._show_progress(99)
    assert not neighbors.NeighbourSearch(progress=False)._show_progress(10**6)
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert not neighbors.NeighbourSearch()._show_progress(10**6)  # auto: terminals only
    # With the bar on, the pieces still give scikit-learn's answers.
    monkeypatch.setattr(neighbors, "PIECE_ROWS", 256)
    X = make_data(3, 2000, 20, duplicates=True)[0]
    search = neighbors.NeighbourSearch(4, progress=True).fit(X)
    np.testing.assert_array_equal(
        search.kneighbors(X[:1500], return_distance=False),
        NearestNeighbors(n_neighbors=4).fit(X).kneighbors(X[:1500], return_distance=False),
    )
