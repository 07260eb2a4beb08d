"""The one error type a user can cause by configuration or data."""


class ConfigError(ValueError):
    """A setting or an input the user can change. The message names the setting to change."""
