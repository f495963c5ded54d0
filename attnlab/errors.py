"""The one error type for bad user input, so the CLI can print it as one line and exit 2."""


class ConfigError(ValueError):
    """A config key, value, file or URL that cannot be used; the message names the field and what is valid."""
