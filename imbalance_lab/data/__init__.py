"""Data sources, train-split resampling and the LightningDataModule."""

from imbalance_lab.data.batches import TensorBatches
from imbalance_lab.data.datamodule import ImbalanceDataModule
from imbalance_lab.data.resampling import class_counts, resample
from imbalance_lab.data.sources import (
    TabularData,
    load_keel,
    make_digits,
    make_synthetic,
    make_toy2d,
)
from imbalance_lab.data.tables import load_table

__all__ = [
    "ImbalanceDataModule",
    "TabularData",
    "TensorBatches",
    "class_counts",
    "load_keel",
    "load_table",
    "make_digits",
    "make_synthetic",
    "make_toy2d",
    "resample",
]
