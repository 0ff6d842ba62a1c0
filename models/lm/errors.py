"""Errors of the language-model runtime and converter; each message names the fix."""

from __future__ import annotations

from collections.abc import Iterable

from models.errors import ModelError, ModelFileError


class GgufError(ModelFileError):
    """A GGUF file that cannot be read: not GGUF, truncated, or missing what a model needs."""

    code = "gguf_invalid"


class UnsupportedArchitectureError(ModelError):
    code = "unsupported_architecture"

    def __init__(self, what: str, name: str, supported: Iterable[str]) -> None:
        choices = ", ".join(sorted(supported))
        super().__init__(
            f"Unsupported {what} {name!r}. sottovoce converts these: {choices}. "
            "Pick a GGUF of one of them, or convert the model to an ONNX folder elsewhere and "
            "add the folder with `sottovoce models add FOLDER`."
        )
        self.name = name


class ModelFolderError(ModelFileError):
    """A model folder lacks a file or holds one the runtime cannot use."""

    code = "model_folder"


class PromptTooLongError(ModelError):
    """Even after the truncation rule the prompt leaves no room to answer."""

    code = "prompt_too_long"


class UnknownModelError(ModelError):
    code = "unknown_model"


class DownloadError(ModelError):
    code = "download"
