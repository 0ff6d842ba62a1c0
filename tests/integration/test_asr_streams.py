"""The real recognizers streamed as the microphone feeds them: 80 ms chunks, partials between."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path
from typing import Final

import numpy as np
import pytest

from models import SAMPLE_RATE, Pcm, Recognizer, StreamClosedError
from tests.integration.test_engines import (
    KOREAN_PHRASE,
    moonshine,
    resample,
    silence,
    vosk_korean,
    whisper,
)

pytestmark = pytest.mark.integration

__all__ = ["moonshine", "vosk_korean", "whisper"]  # the recognizers, as fixtures

CHUNK: Final = 1280  # 80 ms
SPOKEN: Final = (
    Path(__file__).resolve().parents[2] / "assistant" / "data" / "hey_jarvis_what_time.wav"
)


def spoken() -> Pcm:
    with wave.open(str(SPOKEN), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)


@pytest.fixture(scope="module")
def korean(tmp_path_factory: pytest.TempPathFactory) -> Pcm:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): no Korean speech")
    path = tmp_path_factory.mktemp("korean") / "twice.wav"
    said = f"{KOREAN_PHRASE}. {KOREAN_PHRASE}"  # two utterances: Kaldi closes the first itself
    subprocess.run([espeak, "-v", "ko", "-s", "150", "-w", str(path), said], check=True, timeout=60)
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return np.concatenate([silence(0.3), resample(audio, rate)])


def streamed(recognizer: Recognizer, audio: Pcm, *, prefix: str = "") -> tuple[list[str], str]:
    """(a partial every 0.64 s, the final text) of `audio` fed in 80 ms chunks."""
    stream = recognizer.start(prefix=prefix)
    partials = []
    for i, start in enumerate(range(0, len(audio), CHUNK), 1):
        stream.feed(audio[start : start + CHUNK])
        if i % 8 == 0:
            partials.append(stream.partial())
    return partials, stream.finish()


def word_counts(texts: list[str]) -> list[int]:
    return [len(text.split()) for text in texts]


@pytest.mark.parametrize(
    ("engine", "prefix"), [("whisper", ""), ("whisper", "Hey Jarvis,"), ("moonshine", "")]
)
def test_english_streams_end_where_transcribe_does(
    engine: str, prefix: str, request: pytest.FixtureRequest
) -> None:
    recognizer: Recognizer = request.getfixturevalue(engine)
    audio = spoken()
    partials, final = streamed(recognizer, audio, prefix=prefix)
    assert final == recognizer.transcribe(audio, prefix=prefix)
    assert "time is it" in final.lower()
    assert word_counts(partials)[0] < word_counts([final])[0]  # the first guess heard less
    assert partials[-1].lower().startswith(final.lower()[:10])  # and the guesses converge


def test_vosk_streams_korean_as_it_transcribes_it(vosk_korean: Recognizer, korean: Pcm) -> None:
    partials, final = streamed(vosk_korean, korean)
    assert final == vosk_korean.transcribe(korean)
    assert final.replace(" ", "").count("어디") == 2
    counts = word_counts(partials)
    assert counts == sorted(counts) and counts[0] < word_counts([final])[0]


@pytest.mark.parametrize("engine", ["whisper", "moonshine", "vosk_korean"])
def test_real_streams_keep_the_contract(engine: str, request: pytest.FixtureRequest) -> None:
    recognizer: Recognizer = request.getfixturevalue(engine)
    assert recognizer.start().finish() == ""
    stream = recognizer.start()
    stream.feed(spoken()[:SAMPLE_RATE])
    stream.finish()
    with pytest.raises(StreamClosedError):
        stream.feed(spoken()[:CHUNK])


@pytest.mark.parametrize("engine", ["whisper", "moonshine"])
def test_a_stream_started_meanwhile_leaves_the_open_one_alone(
    engine: str, request: pytest.FixtureRequest
) -> None:
    """Vosk is left out: Kaldi carries speaker adaptation over from a recognizer's earlier
    utterances, so its text depends on which recognizer a stream got (the unit tests show
    each open stream gets its own)."""
    recognizer: Recognizer = request.getfixturevalue(engine)
    audio = spoken()
    first = recognizer.start()
    first.feed(audio[: len(audio) // 2])
    meanwhile = recognizer.start()
    meanwhile.feed(audio[len(audio) // 2 :])
    assert meanwhile.partial()
    first.feed(audio[len(audio) // 2 :])
    assert first.finish() == recognizer.transcribe(audio)
    meanwhile.close()


def test_moonshine_hears_speech_begun_after_its_last_update(moonshine: Recognizer) -> None:
    """Moonshine decodes every half second of audio fed, and its `stop` dropped speech begun
    since: a 0.45 s "what time" came out "", and so did it after 0.95 s of silence, fed in
    chunks."""
    what_time = spoken()[int(1.8 * SAMPLE_RATE) : int(2.25 * SAMPLE_RATE)]
    assert "time" in moonshine.transcribe(what_time).lower()
    _partials, final = streamed(moonshine, np.concatenate([silence(0.95), what_time]))
    assert "time" in final.lower()
