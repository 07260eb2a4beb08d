"""data=images: folders and CSVs of image files, their bad inputs, index-level resampling, the
loaders, ResNet-18 and a run end to end on digits written as PNG files."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import RUN, run_cli
from PIL import Image

from imbalance_lab.data.image_files import ImageFiles
from imbalance_lab.data.image_module import ImageDataModule
from imbalance_lab.data.images import scan_images
from imbalance_lab.errors import ConfigError
from imbalance_lab.models.networks import ResNet

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "make_image_folder", ROOT / "scripts/make_image_folder.py"
)
make_image_folder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_image_folder)


@pytest.fixture(scope="module")
def digits_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 digits as 16x16 grey PNGs; digit 0 a 10 % minority (``digit0/``)."""
    root = tmp_path_factory.mktemp("png") / "digits_png"
    make_image_folder.write_digit_folder(root, 0, 0.1, size=16, n_images=300)
    return root


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_folder_is_indexed_rarer_class_positive(digits_png: Path) -> None:
    index = scan_images(str(digits_png))
    assert len(index.paths) == 300 and index.y.sum() == 30
    assert index.labels == ("other", "digit0")
    assert all("digit0" in p for p, y in zip(index.paths, index.y, strict=True) if y == 1)
    assert index.image_shape == (1, 16, 16) and index.name == "digits_png"
    flipped = scan_images(str(digits_png), positive_label="other")
    assert flipped.y.sum() == 270


def test_csv_of_paths_and_labels(digits_png: Path, tmp_path: Path) -> None:
    index = scan_images(str(digits_png))
    rows = [f"{Path(p).relative_to(digits_png)},{'lesion' if y else 'ok'}"
            for p, y in zip(index.paths[25:65], index.y[25:65], strict=True)]  # fmt: skip
    rows += [f"{p},lesion" for p in np.array(index.paths)[index.y == 1][:5]]  # absolute paths
    csv = digits_png / "labels.csv"
    csv.write_text("path,label\n" + "\n".join(rows))
    try:
        from_csv = scan_images(str(csv), image_size=[8, 8])
        assert len(from_csv.paths) == 45 and from_csv.labels[1] == "lesion"
        assert from_csv.image_shape == (1, 8, 8)
        csv.write_text("path,label\nnope/missing.png,ok\n" + "\n".join(rows))
        with pytest.raises(ConfigError, match=r"1 of 46 listed image files do not exist.*missing"):
            scan_images(str(csv))
        with pytest.raises(ConfigError, match=r"data\.label_column=class is not a column"):
            scan_images(str(csv), label_column="class")
    finally:
        csv.unlink()


def _grey(path: Path, size: tuple[int, int] = (16, 16), mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size).save(path)


def test_bad_folders_each_get_one_message(digits_png: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="holds no class sub-folders"):
        scan_images(str(tmp_path))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    with pytest.raises(ConfigError, match="holds no image files"):
        scan_images(str(tmp_path))
    _grey(tmp_path / "a" / "1.png")
    with pytest.raises(ConfigError, match=r"single class \(a \(1\)\)"):
        scan_images(str(tmp_path))
    with pytest.raises(ConfigError, match=r"data\.path=.*does not exist"):
        scan_images(str(tmp_path / "elsewhere"))


def test_unreadable_files_refused_or_skipped(digits_png: Path, tmp_path: Path) -> None:
    root = _copy(digits_png, tmp_path / "d")
    victim = next((root / "other").iterdir())
    victim.write_bytes(victim.read_bytes()[:40])  # truncated
    (root / "other" / "fake.png").write_text("a text file named .png")
    with pytest.raises(ConfigError, match=r"2 of 301 image files cannot be read.*bad_images=skip"):
        scan_images(str(root))
    index = scan_images(str(root), bad_images="skip")
    assert len(index.paths) == 299 and victim.name not in " ".join(index.paths)


def test_mixed_sizes_and_modes_need_a_setting(digits_png: Path, tmp_path: Path) -> None:
    root = _copy(digits_png, tmp_path / "d")
    _grey(root / "other" / "big.png", size=(20, 24))
    with pytest.raises(ConfigError, match=r"2 different sizes.*data\.image_size=\[16,16\]"):
        scan_images(str(root))
    assert scan_images(str(root), image_size=12).image_shape == (1, 12, 12)
    _grey(root / "digit0" / "colour.png", mode="RGBA")
    with pytest.raises(
        ConfigError,
        match=r"grey \(301\) and colour \(1, e\.g\. digit0/colour\.png\).*data\.channels=3",
    ):
        scan_images(str(root), image_size=16)
    index = scan_images(str(root), image_size=16, channels=3)
    files = ImageFiles(index.paths, index.y, index.image_shape)
    x, _ = files[index.paths.index(str(root / "other" / "big.png"))]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0


def _module(root: Path, sampler=None, **kwargs) -> ImageDataModule:
    dm = ImageDataModule(
        lambda: scan_images(str(root)), sampler, workers=0, seed=0, batch_size=32, **kwargs
    )
    dm.setup()
    return dm


def test_samplers_pick_training_files_by_index(digits_png: Path) -> None:
    from imblearn.over_sampling import RandomOverSampler

    from imbalance_lab.data.fast_samplers import NearMiss

    plain = _module(digits_png)
    train_paths = set(plain.splits["train"][0].paths)
    over = _module(digits_png, RandomOverSampler(random_state=0))
    files, y = over.splits["train"]
    assert over.counts["train"]["0"] == over.counts["train"]["1"] == plain.counts["train"]["0"]
    assert set(files.paths) == train_paths  # repeats of training files, nothing new
    assert len(files.paths) == len(y) and np.array_equal(files.y.numpy(), y)
    assert over.splits["test"][0].paths == plain.splits["test"][0].paths  # never resampled
    near = _module(digits_png, NearMiss())
    kept = near.splits["train"][0].paths
    assert near.counts["train"] == {"0": 18, "1": 18} and set(kept) <= train_paths
    assert len(set(kept)) == len(kept)


def test_synthesising_samplers_refused_before_reading() -> None:
    from imblearn.over_sampling import SMOTE

    def never() -> None:
        raise AssertionError("the folder was read")

    with pytest.raises(ConfigError, match=r"sampler=SMOTE synthesises.*sampler=random_over"):
        ImageDataModule(never, SMOTE())


def test_loaders_read_balanced_batches_with_workers(digits_png: Path) -> None:
    dm = _module(digits_png, batch_sampling="balanced", augment=["hflip"])
    dm.workers_setting = 2
    batches = list(dm.train_dataloader())
    y = torch.cat([b[1] for b in batches])
    assert len(y) == dm.counts["train"]["0"] + dm.counts["train"]["1"]
    assert 0.35 < float(y.mean()) < 0.65  # ~1:1 from a 1:9 split
    assert batches[0][0].shape == (32, 1, 16, 16)
    first = next(iter(dm.val_dataloader()))[0]
    again = torch.stack([dm.splits["val"][0][i][0] for i in range(len(first))])
    assert torch.equal(first, again)  # evaluation rows in order, never augmented


def test_resnet18_matches_torchvision_layout() -> None:
    net = ResNet(3 * 64 * 64, [3, 64, 64], small_input=False)
    # torchvision.models.resnet18(num_classes=1): 11,177,025 parameters.
    assert sum(p.numel() for p in net.parameters()) == 11_177_025
    assert "layer4.1.bn2.running_var" in net.state_dict() and "fc.weight" in net.state_dict()
    small = ResNet(256, [1, 16, 16], widths=[8, 16, 32, 64])
    assert small(torch.rand(3, 1, 16, 16)).shape == (3,)
    with pytest.raises(ConfigError, match="model=resnet needs the image shape"):
        ResNet(256)


def test_run_on_png_folder(digits_png: Path, make_cfg) -> None:
    from imbalance_lab.pipeline import run

    cfg = make_cfg(
        "data=images", f"data.path={digits_png}", "model=cnn", "sampler=random_over",
        "data.workers=1", "trainer.max_epochs=4", *RUN[1:], "figures=true", tiny=False,
    )  # fmt: skip
    results = run(cfg)
    assert results["dataset"] == "digits_png" and results["n_features"] == 256
    assert results["class_counts"]["train"]["1"] == results["class_counts"]["train"]["0"]
    assert results["test"]["pr_auc"] > 0.8  # digit 0 is easy to tell from the rest
    missed = Path(cfg.paths.output_dir) / "misclassified_minority.png"
    if results["confusion"]["fn"]:
        assert Image.open(missed).size[0] > 16
    else:
        assert not missed.exists()
    # The model bundle scores a folder of images: here the training folder, every file.
    from sklearn.metrics import roc_auc_score

    from imbalance_lab.bundle.cli import main as cli

    scores = Path(cfg.paths.output_dir) / "scores.csv"
    assert cli(["predict", cfg.paths.output_dir, str(digits_png), "--out", str(scores)]) == 0
    table = pd.read_csv(scores)
    assert len(table) == 300 and set(table["label"]) <= {"digit0", "other"}
    truth = table["path"].str.startswith("digit0/")
    assert roc_auc_score(truth, table["probability"]) > 0.9
    assert cli(["predict", cfg.paths.output_dir, str(scores), "--out", str(scores)]) == 2
    from imbalance_lab.bundle.model import Model  # as a sweep's member, it says why not

    with pytest.raises(ConfigError, match="holds a model of image files"):
        Model(Path(cfg.paths.output_dir) / "model")


def test_cli_refuses_smote_before_reading(tmp_path: Path) -> None:
    proc = run_cli("data=images", f"data.path={tmp_path}", "sampler=smote", *RUN, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "sampler=SMOTE synthesises" in proc.stderr


def test_resnet_run_with_thumbnail_selection(digits_png: Path, make_cfg) -> None:
    from imbalance_lab.pipeline import run

    cfg = make_cfg(
        "data=images", f"data.path={digits_png}", "model=resnet", "model.net.widths=[4,8,8,8]",
        "sampler=nearmiss", "data.batch_sampling=balanced", "data.workers=0",
        "trainer.max_epochs=1", *RUN[1:], tiny=False,
    )  # fmt: skip
    assert cfg.model.net.input_shape is None  # read from the files
    results = run(cfg)
    assert results["status"] == "ok" and results["sampler"]["class"] == "NearMiss"
    assert results["class_counts"]["train"] == {"0": 18, "1": 18}
    assert results["class_counts"]["test"] == results["class_counts"]["val"] == {"0": 54, "1": 6}


def test_auto_workers_share_the_threads(digits_png: Path) -> None:
    dm = _module(digits_png)
    dm.workers_setting, dm._threads = "auto", 4
    before = torch.get_num_threads()
    try:
        assert dm._loader_workers(on_gpu=False) == 2
        assert torch.get_num_threads() == 2  # the other half trains
        assert dm._loader_workers(on_gpu=True) == 3  # a GPU trains: the host only decodes
    finally:
        torch.set_num_threads(before)


def test_diagnose_reads_images_as_thumbnails(digits_png: Path, make_cfg) -> None:
    from imbalance_lab.diagnose import run as diagnose

    cfg = make_cfg("data=images", f"data.path={digits_png}", "data.thumbnail_size=8", tiny=False)
    report, X, y, types = diagnose(cfg)
    assert X.shape == (300, 64) and int(y.sum()) == 30 and len(types) == 30
    assert report["dataset"] == "digits_png"
    # Zeros are far from the other digits even at 8x8: most are safe, few overlap.
    assert report["overlap"]["minority_nn_majority_share"] < 0.3
