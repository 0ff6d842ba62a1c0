"""Errors the assistant raises; each carries a machine-readable `code` and says what to do."""

from __future__ import annotations


class SottovoceError(Exception):
    """Root of every error the `assistant` package raises.

    `code` is machine-readable (stable across releases); `message` tells the user what to do.
    """

    code = "sottovoce_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(SottovoceError):
    code = "config_error"


class AudioError(SottovoceError):
    """An audio file, device or library problem."""

    code = "audio_error"
