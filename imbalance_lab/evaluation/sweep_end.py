"""The Hydra callback that ends every multirun in its leaderboard.

Kept apart from :mod:`imbalance_lab.evaluation.leaderboard`: Hydra instantiates its callbacks in
every run, single ones included, and the leaderboard's pandas, matplotlib and report stack
(about a second of imports) is needed only once the last job of a sweep has returned.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from imbalance_lab.errors import ConfigError

log = logging.getLogger(__name__)


class LeaderboardCallback(Callback):
    """Hydra callback: every multirun ends in a leaderboard in its sweep folder.

    Runs in the launching process after all jobs return, so it works with every launcher.
    ``fail_on_error`` makes the sweep's exit status non-zero when some job failed.
    """

    def __init__(self, fail_on_error: bool = True) -> None:
        self.fail_on_error = fail_on_error

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from imbalance_lab.evaluation.leaderboard import load_runs, write_report

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            runs = load_runs([sweep_dir])
        except ConfigError as err:
            log.error("no leaderboard: %s", err)
            return
        files = write_report(runs, sweep_dir)
        log.info("leaderboard written to %s", files["md"])
        n_failed = sum(r.get("status") != "ok" for r in runs)
        if n_failed and self.fail_on_error:
            log.error(
                "%d of %d runs failed; see the leaderboard's failed column", n_failed, len(runs)
            )
            raise SystemExit(1)
