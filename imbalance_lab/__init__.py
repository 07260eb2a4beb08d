"""imbalance-lab: neural-network binary classifiers on class-imbalanced data, and the ways of
handling the imbalance compared side by side."""

__version__ = "0.1.0"
