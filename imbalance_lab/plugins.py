"""The project's Hydra plugins, registered with Hydra wherever the package is imported from.

Hydra finds plugins by walking the ``hydra_plugins`` namespace package with :mod:`pkgutil`. An
editable install (``pip install -e .``) maps the project's packages through an import hook that
imports them fine but that :func:`pkgutil.walk_packages` cannot list, so outside the repository
Hydra would not know the default sweep launcher (``hydra/launcher=parallel``) or the Optuna
sweeper. Registering them by hand (Hydra's ``Plugins.register``) works for every kind of install;
registering a plugin Hydra already found changes nothing.
"""

from __future__ import annotations

import inspect


def register_plugins() -> None:
    """Register the launchers of ``hydra_plugins.imbalance_lab_launcher`` and the sweeper of
    ``hydra_plugins.imbalance_lab_optuna`` with Hydra's plugin registry. Idempotent."""
    from hydra.core.plugins import Plugins
    from hydra.plugins.plugin import Plugin

    import hydra_plugins.imbalance_lab_launcher as launchers
    import hydra_plugins.imbalance_lab_optuna as sweepers

    registry = Plugins.instance()
    for module in (launchers, sweepers):
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.__name__
                and issubclass(obj, Plugin)
                and not inspect.isabstract(obj)
            ):
                registry.register(obj)
