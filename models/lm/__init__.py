"""The on-device language model: GGUF -> ONNX conversion and generation on onnxruntime.

Importing this package is cheap; onnx, onnxruntime, gguf, tokenizers and jinja2 are imported
only when a model is converted or loaded.
"""

from models.lm.assistant_lm import DEFAULT_SYSTEM_PROMPT, AssistantLanguageModel
from models.lm.convert import PRECISIONS, Check, ConversionReport, convert
from models.lm.errors import (
    DownloadError,
    GgufError,
    ModelFolderError,
    PromptTooLongError,
    UnknownModelError,
    UnsupportedArchitectureError,
)
from models.lm.gguf_file import SUPPORTED_ARCHITECTURES, GgufModel
from models.lm.runtime import Generation, GenerationSettings, LocalLanguageModel, fit_to_context
from models.lm.store import CATALOG, DEFAULT_MODEL, installed, resolve

__all__ = [
    "CATALOG",
    "DEFAULT_MODEL",
    "DEFAULT_SYSTEM_PROMPT",
    "PRECISIONS",
    "SUPPORTED_ARCHITECTURES",
    "AssistantLanguageModel",
    "Check",
    "ConversionReport",
    "DownloadError",
    "Generation",
    "GenerationSettings",
    "GgufError",
    "GgufModel",
    "LocalLanguageModel",
    "ModelFolderError",
    "PromptTooLongError",
    "UnknownModelError",
    "UnsupportedArchitectureError",
    "convert",
    "fit_to_context",
    "installed",
    "resolve",
]
