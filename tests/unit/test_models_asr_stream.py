"""The recognizer stream contract on every engine's adapter, the engine itself scripted."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from models.asr import MoonshineRecognizer, VoskRecognizer, WhisperRecognizer
from models.errors import AudioFormatError, StreamClosedError
from models.protocols import Pcm, Recognizer

CHUNK = 1280  # 80 ms, as the microphone delivers it


class CountingWhisper(WhisperRecognizer):
    """Whisper with its decode scripted: the text says how many samples it was given."""

    def __init__(self) -> None:
        super().__init__(model=None, language="en")
        self.decoded: list[tuple[int, str]] = []

    def _recognize(self, audio: Pcm, prefix: str) -> str:
        self.decoded.append((len(audio), prefix))
        return f"{len(audio)} samples"


@dataclass
class FakeKaldi:
    """Says how much speech it heard, however it is chunked; a silent piece ends an
    utterance, as a pause does."""

    heard: int = 0  # speech samples in the open utterance
    resets: int = 0

    def AcceptWaveform(self, data: bytes) -> bool:
        samples = np.frombuffer(data, dtype=np.int16)
        if samples.any():
            self.heard += len(samples)
            return False
        return self.heard > 0

    def Result(self) -> str:
        return self._said()

    def PartialResult(self) -> str:
        return json.dumps({"partial": self._words()})

    def FinalResult(self) -> str:
        return self._said()

    def Reset(self) -> None:
        self.heard = 0
        self.resets += 1

    def _words(self) -> str:
        return f"s{self.heard}" if self.heard else ""

    def _said(self) -> str:
        text, self.heard = self._words(), 0
        return json.dumps({"text": text})


@dataclass
class FakeMoonshineStream:
    samples: int = 0
    started: bool = False
    stopped: bool = False
    closed: bool = False

    def start(self) -> None:
        self.started = True

    def add_audio(self, audio: list[float], sample_rate: int) -> None:
        self.samples += len(audio)

    def stop(self) -> None:
        self.stopped = True

    def update_transcription(self, flags: int) -> FakeTranscript:
        return FakeTranscript(lines=[FakeLine(text=f" {self.samples} samples ")])

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeLine:
    text: str


@dataclass
class FakeTranscript:
    lines: list[FakeLine]


@dataclass
class FakeMoonshine:
    MOONSHINE_FLAG_FORCE_UPDATE = 1
    streams: list[FakeMoonshineStream] = field(default_factory=list)

    def create_stream(self) -> FakeMoonshineStream:
        self.streams.append(FakeMoonshineStream())
        return self.streams[-1]


def whisper() -> Recognizer:
    return CountingWhisper()


def moonshine() -> Recognizer:
    return MoonshineRecognizer(FakeMoonshine())


def vosk() -> Recognizer:
    return VoskRecognizer(model=None, new_recognizer=FakeKaldi)


ENGINES: dict[str, Callable[[], Recognizer]] = {
    "whisper": whisper,
    "moonshine": moonshine,
    "vosk": vosk,
}
engines = pytest.mark.parametrize("make", list(ENGINES.values()), ids=list(ENGINES))


def speech(samples: int) -> Pcm:
    return np.full(samples, 1000, dtype=np.int16)


def fed_in_chunks(recognizer: Recognizer, audio: Pcm) -> str:
    stream = recognizer.start()
    for start in range(0, len(audio), CHUNK):
        stream.feed(audio[start : start + CHUNK])
    return stream.finish()


@engines
def test_a_stream_without_audio_finishes_empty(make: Callable[[], Recognizer]) -> None:
    recognizer = make()
    assert recognizer.start().finish() == ""
    stream = recognizer.start()
    stream.feed(np.zeros(0, dtype=np.int16))
    assert stream.partial() == ""
    assert stream.finish() == ""


@engines
def test_chunks_fed_give_what_transcribe_gives(make: Callable[[], Recognizer]) -> None:
    audio = speech(10 * CHUNK + 17)
    assert fed_in_chunks(make(), audio) == make().transcribe(audio) != ""


@engines
def test_a_finished_or_closed_stream_refuses_more(make: Callable[[], Recognizer]) -> None:
    recognizer = make()
    stream = recognizer.start()
    stream.feed(speech(CHUNK))
    stream.finish()
    with pytest.raises(StreamClosedError, match="start a new stream"):
        stream.feed(speech(CHUNK))
    with pytest.raises(StreamClosedError):
        stream.partial()
    with pytest.raises(StreamClosedError):
        stream.finish()
    stream.close()  # closing twice is harmless
    dropped = recognizer.start()
    dropped.feed(speech(CHUNK))
    dropped.close()
    with pytest.raises(StreamClosedError):
        dropped.finish()


@engines
@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (np.zeros(CHUNK, dtype=np.float32), "not float32"),
        (np.zeros(CHUNK, dtype=np.int32), "not int32"),
        (np.zeros((CHUNK, 2), dtype=np.int16), r"not an array shaped \(1280, 2\)"),
        (np.zeros((2, 8, 80), dtype=np.int16), "mono audio"),
    ],
)
def test_audio_not_mono_int16_is_refused(
    make: Callable[[], Recognizer], bad: Pcm, says: str
) -> None:
    recognizer = make()
    stream = recognizer.start()
    with pytest.raises(AudioFormatError, match=says):
        stream.feed(bad)
    with pytest.raises(AudioFormatError, match=says):
        recognizer.transcribe(bad)


@engines
def test_one_column_audio_counts_as_mono(make: Callable[[], Recognizer]) -> None:
    audio = speech(3 * CHUNK)
    assert make().transcribe(audio.reshape(-1, 1)) == make().transcribe(audio)


def test_whisper_decodes_all_the_audio_fed_once_per_new_audio() -> None:
    recognizer = CountingWhisper()
    stream = recognizer.start(prefix="Hey Jarvis")
    stream.feed(speech(CHUNK))
    stream.feed(speech(CHUNK))
    assert stream.partial() == "2560 samples"
    assert stream.partial() == "2560 samples"  # nothing new: no new decode
    stream.feed(speech(CHUNK))
    assert stream.partial() == "3840 samples"  # the caller sent only the new chunk
    assert stream.finish() == "3840 samples"  # right after a partial: no new decode
    assert recognizer.decoded == [(2560, "Hey Jarvis"), (3840, "Hey Jarvis")]


def test_whisper_never_decodes_a_stream_without_audio() -> None:
    recognizer = CountingWhisper()
    assert recognizer.start().finish() == ""
    assert recognizer.transcribe(np.zeros(0, dtype=np.int16)) == ""
    assert recognizer.decoded == []


def test_vosk_joins_the_utterances_it_closed_and_the_open_one() -> None:
    stream = vosk().start()
    stream.feed(speech(4000))
    stream.feed(np.zeros(4000, dtype=np.int16))  # a pause: Kaldi closes the first utterance
    stream.feed(speech(4000))
    assert stream.partial() == "s4000 s4000"
    stream.feed(speech(2000))
    assert stream.finish() == "s4000 s6000"


def test_vosk_streams_open_at_once_are_independent_and_reused() -> None:
    made: list[FakeKaldi] = []

    def new() -> FakeKaldi:
        made.append(FakeKaldi())
        return made[-1]

    recognizer = VoskRecognizer(model=None, new_recognizer=new)
    first, second = recognizer.start(), recognizer.start()
    first.feed(speech(4000))
    second.feed(speech(8000))
    assert (first.finish(), second.finish()) == ("s4000", "s8000")
    assert len(made) == 2
    assert [kaldi.resets for kaldi in made] == [1, 1]  # each handed back clean
    assert recognizer.transcribe(speech(4000)) == "s4000"
    assert len(made) == 2  # a finished one served


def test_moonshine_makes_its_engine_stream_at_the_first_audio_and_frees_it() -> None:
    engine = FakeMoonshine()
    recognizer = MoonshineRecognizer(engine)
    recognizer.start().finish()
    assert engine.streams == []
    stream = recognizer.start()
    stream.feed(speech(CHUNK))
    assert stream.partial() == "1280 samples"
    stream.feed(speech(CHUNK))
    assert stream.finish() == "2560 samples"
    (made,) = engine.streams
    assert (made.started, made.stopped, made.closed) == (True, True, True)
    dropped = recognizer.start()
    dropped.feed(speech(CHUNK))
    dropped.close()
    assert engine.streams[-1].closed
    assert not engine.streams[-1].stopped
