"""Wake-word detection with openWakeWord (pyopen-wakeword: TFLite models, needs only numpy)."""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

from models import _packages as pk
from models.catalog import DEFAULT_WAKE_WORD, WAKE_WORD_MODELS
from models.errors import ModelFileError, UnknownEngineError
from models.protocols import SAMPLE_RATE, Detection, Pcm

_LOGGER = logging.getLogger(__name__)

FRAME_SAMPLES: Final = 1280
"""openWakeWord scores audio in 80 ms steps."""

_TFLITE_IDENTIFIER: Final = b"TFL3"


class FrameScorer(Protocol):
    """Scores one `FRAME_SAMPLES` step of audio, keeping whatever context it needs."""

    def score(self, frame: Pcm) -> float: ...

    def reset(self) -> None: ...


class OpenWakeWordDetector:
    """Turns per-step scores into detections: threshold, then a refractory period.

    The refractory period is counted in samples fed, not wall-clock time, so it behaves the
    same on a file, a live microphone, or a slow machine catching up.
    """

    def __init__(
        self, *, name: str, scorer: FrameScorer, threshold: float, refractory_s: float
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"wake-word threshold must be in (0, 1], got {threshold}")
        if refractory_s < 0:
            raise ValueError(f"refractory period must be >= 0 s, got {refractory_s}")
        self._name = name
        self._scorer = scorer
        self._threshold = threshold
        self._refractory_samples = round(refractory_s * SAMPLE_RATE)
        self._pending = np.zeros(0, dtype=np.int16)
        self._quiet_samples_left = 0

    @property
    def name(self) -> str:
        return self._name

    def process(self, chunk: Pcm) -> Detection | None:
        if chunk.dtype != np.int16:
            raise TypeError(f"wake-word audio must be int16 samples, got {chunk.dtype}")
        samples = chunk.reshape(-1)
        buffer = np.concatenate((self._pending, samples)) if self._pending.size else samples
        whole = len(buffer) - len(buffer) % FRAME_SAMPLES
        detection: Detection | None = None
        for start in range(0, whole, FRAME_SAMPLES):
            # Every step is scored, even after a detection, so the scorer's context stays whole.
            score = self._scorer.score(buffer[start : start + FRAME_SAMPLES])
            self._quiet_samples_left = max(0, self._quiet_samples_left - FRAME_SAMPLES)
            if self._quiet_samples_left == 0 and score >= self._threshold and detection is None:
                _LOGGER.debug("wake word %s fired (score %.3f)", self._name, score)
                detection = Detection(name=self._name, score=score)
                self._quiet_samples_left = self._refractory_samples
        self._pending = buffer[whole:].copy()
        return detection

    def reset(self) -> None:
        self._scorer.reset()
        self._pending = np.zeros(0, dtype=np.int16)
        self._quiet_samples_left = 0


class _OpenWakeWordScorer:
    def __init__(self, features: Any, model: Any) -> None:
        self._features = features
        self._model = model
        self._warm_up()

    def score(self, frame: Pcm) -> float:
        best = 0.0
        for embedding in self._features.process_streaming(frame.tobytes()):
            for probability in self._model.process_streaming(embedding):
                best = max(best, float(probability))
        return best

    def reset(self) -> None:
        self._features.reset()
        self._model.reset()
        self._warm_up()

    def _warm_up(self) -> None:
        # After a reset the feature extractor runs over 8 s of zeros on its next call (~0.4 s
        # of CPU here). Pay that now rather than on the first live chunk.
        self.score(np.zeros(FRAME_SAMPLES, dtype=np.int16))


def load_wake_word(
    model: str = DEFAULT_WAKE_WORD, threshold: float = 0.5, refractory_s: float = 2.0
) -> OpenWakeWordDetector:
    """Load a bundled model by name ("hey_jarvis", "hey jarvis", ...) or a `.tflite` file."""
    name, path = resolve_wake_word(model)
    oww = pk.require(pk.PYOPEN_WAKEWORD, "The wake-word detector")
    try:
        features = oww.OpenWakeWordFeatures.from_builtin()
        if path is None:
            detector_model = oww.OpenWakeWord.from_builtin(oww.Model(name))
        else:
            detector_model = oww.OpenWakeWord.from_model(path)
        _single_threaded(features, detector_model)
        scorer = _OpenWakeWordScorer(features, detector_model)
    except (OSError, RuntimeError, ValueError) as err:
        raise ModelFileError(
            f"Could not load the wake-word model {path or name}: {err}. "
            "Give an openWakeWord .tflite model or one of: " + ", ".join(WAKE_WORD_MODELS)
        ) from err
    _LOGGER.info("wake word %s loaded", name)
    return OpenWakeWordDetector(
        name=name, scorer=scorer, threshold=threshold, refractory_s=refractory_s
    )


def _single_threaded(features: Any, classifier: Any) -> None:
    """Rebuild pyopen-wakeword's three interpreters with one thread each.

    It creates them with TFLite's default threading, which on two cores spends ~1.6x the CPU
    for the same work (measured: 2.9 ms vs 4.5 ms per embedding step), and whose worker threads
    keep spinning between the 80 ms steps. The assistant listens all day, so CPU time matters
    more than latency here. Uses only the public C API and the attributes pyopen-wakeword
    exposes on its objects.
    """
    lib = features.lib
    lib.TfLiteInterpreterOptionsCreate.restype = ctypes.c_void_p
    lib.TfLiteInterpreterOptionsSetNumThreads.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    lib.TfLiteInterpreterOptionsDelete.argtypes = [ctypes.c_void_p]
    options = lib.TfLiteInterpreterOptionsCreate()
    lib.TfLiteInterpreterOptionsSetNumThreads(options, 1)
    targets = (
        (features, "mel_", _MEL_SHAPE),
        (features, "emb_", _EMB_SHAPE),
        (classifier, "", None),  # the classifier keeps its own input shape
    )
    try:
        for owner, prefix, shape in targets:
            old = getattr(owner, f"{prefix}interpreter")
            interpreter = lib.TfLiteInterpreterCreate(getattr(owner, f"{prefix}model"), options)
            if not interpreter:
                return  # keep the default interpreters
            if shape is not None:
                dims = (ctypes.c_int32 * len(shape))(*shape)
                lib.TfLiteInterpreterResizeInputTensor(interpreter, 0, dims, len(shape))
            lib.TfLiteInterpreterAllocateTensors(interpreter)
            setattr(owner, f"{prefix}interpreter", interpreter)
            setattr(
                owner, f"{prefix}input_tensor", lib.TfLiteInterpreterGetInputTensor(interpreter, 0)
            )
            setattr(
                owner,
                f"{prefix}output_tensor",
                lib.TfLiteInterpreterGetOutputTensor(interpreter, 0),
            )
            lib.TfLiteInterpreterDelete(old)
    finally:
        lib.TfLiteInterpreterOptionsDelete(options)


_MEL_SHAPE: Final = (1, 1760)  # pyopen-wakeword's batch x samples per 80 ms step
_EMB_SHAPE: Final = (1, 76, 32, 1)  # batch x mel frames x mel bins x 1


def resolve_wake_word(model: str) -> tuple[str, Path | None]:
    """Map what the user wrote to (name, None) for a bundled model or (stem, path) for a file."""
    wanted = model.strip()
    builtin = wanted.lower().replace(" ", "_").replace("-", "_")
    if builtin in WAKE_WORD_MODELS:
        return builtin, None
    path = Path(wanted).expanduser()
    if path.suffix.lower() == ".tflite" or len(path.parts) > 1:
        _check_tflite(path)
        return path.stem, path
    raise UnknownEngineError("wake word", model, [*WAKE_WORD_MODELS, "a path to a .tflite file"])


def _check_tflite(path: Path) -> None:
    # The TFLite C library crashes the whole process on a file that is not a model, so look
    # for the flatbuffer's file identifier before handing it over.
    if not path.is_file():
        raise ModelFileError(f"Wake-word model file {path} does not exist.")
    try:
        with path.open("rb") as file:
            header = file.read(8)
    except OSError as err:
        raise ModelFileError(f"Wake-word model file {path} cannot be read: {err}") from err
    if header[4:8] != _TFLITE_IDENTIFIER:
        raise ModelFileError(f"{path} is not a TensorFlow Lite model (.tflite).")
