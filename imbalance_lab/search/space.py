"""A search space written as Hydra sweep overrides, turned into Optuna distributions.

The ``hparams_search/*.yaml`` files and the command line describe what to search in Hydra's own
sweep syntax, the format Hydra's Optuna sweeper reads, so the files stay as they were:

==============================================  ==============================================
``interval(0.0, 0.5)``                          ``FloatDistribution(0.0, 0.5)``
``int(interval(1, 8))``                         ``IntDistribution(1, 8)``
``tag(log, interval(1e-4, 1e-2))``              ``FloatDistribution(1e-4, 1e-2, log=True)``
``range(8, 64, step=8)``                        ``IntDistribution(8, 56, step=8)`` (stop excluded)
``range(0.1, 0.5, 0.1)``                        ``FloatDistribution(0.1, 0.4, step=0.1)``
``choice([32, 16], [64, 32])``, ``a,b,c``       ``CategoricalDistribution`` of override strings
==============================================  ==============================================

Any other override is fixed: passed to every trial as written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)

from imbalance_lab.errors import ConfigError


@dataclass
class SearchSpace:
    """What a study searches (``distributions``, by override key) and what every trial gets
    unchanged (``fixed``, override strings as the user wrote them)."""

    distributions: dict[str, Any] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)

    def overrides(self, params: dict[str, Any]) -> list[str]:
        """The overrides of one trial: the fixed ones, then its sampled ``params``."""
        return [*self.fixed, *(f"{key}={value}" for key, value in params.items())]


def _categorical(override: Override) -> Any:
    from optuna.distributions import CategoricalDistribution

    # Encoded as override strings ("[32,16]"): Optuna's choices must be scalars, and the string
    # goes back into a trial's overrides as it is.
    return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))


def _range(override: Override, value: RangeSweep) -> Any:
    from optuna.distributions import FloatDistribution, IntDistribution

    if value.shuffle:
        return _categorical(override)
    start, stop, step = value.start, value.stop, value.step
    if any(isinstance(v, float) for v in (start, stop, step)):
        n = math.ceil((stop - start) / step - 1e-9)  # Hydra's range excludes ``stop``
        return FloatDistribution(start, start + (n - 1) * step, step=step)
    n = len(range(int(start), int(stop), int(step)))
    return IntDistribution(int(start), int(start) + (n - 1) * int(step), step=int(step))


def _interval(override: Override, value: IntervalSweep) -> Any:
    from optuna.distributions import FloatDistribution, IntDistribution

    log = "log" in value.tags
    if value.start >= value.end or (log and value.start <= 0):
        raise ConfigError(
            f"hydra.sweeper.params.{override.get_key_element()}: {override.input_line!r} is an "
            "empty interval (need start < end, and start > 0 with tag(log, ...))."
        )
    if isinstance(value.start, int) and isinstance(value.end, int):
        return IntDistribution(value.start, value.end, log=log)
    return FloatDistribution(float(value.start), float(value.end), log=log)


def _distribution(override: Override) -> Any:
    value = override.value()
    if isinstance(value, ChoiceSweep):
        return _categorical(override)
    if isinstance(value, RangeSweep):
        return _range(override, value)
    if isinstance(value, IntervalSweep):
        return _interval(override, value)
    raise ConfigError(
        f"hydra.sweeper.params: {override.input_line!r} is not a sweep Optuna can search."
    )


def search_space(overrides: Sequence[str]) -> SearchSpace:
    """Parse ``overrides`` (``hydra.sweeper.params`` as ``key=value`` lines, then the command
    line); a later override of a key replaces an earlier one, as on Hydra's command line."""
    parsed: dict[str, Override] = {}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        parsed[override.get_key_element()] = override
    space = SearchSpace()
    for key, override in parsed.items():
        if override.is_sweep_override():
            space.distributions[key] = _distribution(override)
        else:
            space.fixed.append(override.input_line)
    if not space.distributions:
        raise ConfigError(
            "hydra.sweeper.params names nothing to search; give e.g. "
            "model.optimizer.lr='tag(log, interval(1e-4, 1e-2))' or use hparams_search=optuna."
        )
    return space
