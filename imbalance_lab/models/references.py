"""Non-neural references built for ``model=<name>`` configs whose library is optional.

The imbalance ensembles (``brf``, ``easy_ensemble``, ``rusboost``, ``balanced_bagging``) are
imblearn classes named directly by their configs; what lives here only adds a clear message
when an optional library is missing, so the run stops in preflight with exit status 2.
"""

from __future__ import annotations

from typing import Any

from imbalance_lab.errors import ConfigError


def lightgbm_classifier(**params: Any) -> Any:
    """``lightgbm.LGBMClassifier(**params)`` (Ke et al., 2017, "LightGBM: A Highly Efficient
    Gradient Boosting Decision Tree", NeurIPS).

    Raises ``ConfigError`` naming the extra to install when LightGBM is not installed.
    """
    try:
        from lightgbm import LGBMClassifier
    except ImportError as err:  # not installed, or its OpenMP runtime is missing (macOS)
        raise ConfigError(
            f"model=lightgbm needs LightGBM ({err}); install it with "
            "pip install 'imbalance-lab[lightgbm]', or choose another model."
        ) from None
    return LGBMClassifier(**params)
