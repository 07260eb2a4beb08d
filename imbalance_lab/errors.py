"""The one error type a user can cause by configuration or data."""


class ConfigError(ValueError):
    """A setting or an input the user can change. The message names the setting to change."""


class ConfigExit(SystemExit):
    """Exit status 2 after a :class:`ConfigError`'s message was printed (``python train.py``);
    it carries the error, so that the Python API (:mod:`imbalance_lab.api`) raises it instead."""

    def __init__(self, error: ConfigError) -> None:
        super().__init__(2)
        self.error = error


def first_line(err: BaseException) -> str:
    """The first non-blank line of ``err``'s message (stripped), or its type's name when it has
    none: what a one-line message quotes of a library's error."""
    return next((ln.strip() for ln in str(err).splitlines() if ln.strip()), type(err).__name__)
