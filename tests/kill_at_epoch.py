"""``python tests/kill_at_epoch.py EPOCH ARGS``: ``train.py ARGS``, killed with SIGKILL when epoch
EPOCH (counted from 0) starts, as a machine failure or a cluster's time limit would kill it."""

from __future__ import annotations

import os
import runpy
import signal
import sys
from pathlib import Path

# This checkout's package, not whichever copy is installed (as train.py run from its folder).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lightning as L

EPOCH = int(sys.argv.pop(1))


class _Kill(L.Callback):
    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == EPOCH:
            os.kill(os.getpid(), signal.SIGKILL)


_init = L.Trainer.__init__


def _with_kill(self: L.Trainer, *args: object, callbacks: list | None = None, **kwargs: object):
    _init(self, *args, callbacks=[*(callbacks or []), _Kill()], **kwargs)


L.Trainer.__init__ = _with_kill
train = Path(__file__).resolve().parents[1] / "train.py"
sys.argv[0] = str(train)
runpy.run_path(str(train), run_name="__main__")
