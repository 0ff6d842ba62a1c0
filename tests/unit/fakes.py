"""Fakes per protocol: tagged audio drives them, so tests need no models and no sleeps.

Audio is tagged by its sample values: a chunk filled with WAKE fires the wake word, frames whose
first sample is >= SPEECH count as speech, and the fake recognizer returns the script entry
named by the most common tag in the audio it gets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from assistant.audio import CHUNK_SAMPLES, AudioChunk
from models.errors import StreamClosedError
from models.protocols import SAMPLE_RATE, Detection, Pcm

WAKE = 30_000
SILENCE = 0
SPEECH = 1_000  # speech tags are SPEECH + n, n naming the utterance


def chunks_of(value: int, seconds: float) -> list[Pcm]:
    n = round(seconds * SAMPLE_RATE / CHUNK_SAMPLES)
    return [np.full(CHUNK_SAMPLES, value, dtype=np.int16) for _ in range(n)]


class FakeWake:
    name = "fake"

    def __init__(self) -> None:
        self.resets = 0
        self.samples = 0  # fed so far

    def process(self, chunk: Pcm) -> Detection | None:
        self.samples += len(chunk)
        if len(chunk) and int(chunk[0]) == WAKE:
            return Detection(name="hey fake", score=0.99)
        return None

    def reset(self) -> None:
        self.resets += 1


class FakeVad:
    frame_samples = 512

    def probability(self, frame: Pcm) -> float:
        return 1.0 if SPEECH <= int(frame[0]) < WAKE else 0.0

    def reset(self) -> None:
        pass


@dataclass
class FakeAsr:
    script: dict[int, str]
    name: str = "fake-asr"
    calls: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    heard: list[Pcm] = field(default_factory=list)

    def transcribe(self, audio: Pcm, *, prefix: str = "") -> str:
        self.seconds.append(len(audio) / SAMPLE_RATE)
        self.heard.append(audio)
        tags = audio[(audio >= SPEECH) & (audio < WAKE)]
        if not len(tags):
            return ""
        values, counts = np.unique(tags, return_counts=True)
        tag = int(values[np.argmax(counts)]) - SPEECH
        self.calls.append(tag)
        return self.script.get(tag, "")

    def start(self, *, prefix: str = "") -> FakeAsrStream:
        return FakeAsrStream(self, prefix)


@dataclass
class FakeAsrStream:
    """Keeps what it is fed; every result is the recognizer's `transcribe` of all of it, so a
    subclass that overrides `transcribe` streams the same way."""

    asr: FakeAsr
    prefix: str
    audio: list[Pcm] = field(default_factory=list)
    closed: bool = False

    def feed(self, chunk: Pcm) -> None:
        self._check_open()
        self.audio.append(chunk)

    def partial(self) -> str:
        self._check_open()
        pcm = np.concatenate(self.audio) if self.audio else np.zeros(0, dtype=np.int16)
        return self.asr.transcribe(pcm, prefix=self.prefix)

    def finish(self) -> str:
        text = self.partial()
        self.closed = True
        return text

    def close(self) -> None:
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise StreamClosedError("the fake recognizer's stream was finished or closed")


class FakeTts:
    sample_rate = 16_000

    def synthesize(self, text: str) -> Iterator[Pcm]:
        for sentence in text.split(". "):
            yield np.full(int(0.05 * len(sentence) * SAMPLE_RATE), 7, dtype=np.int16)


@dataclass
class ListSource:
    pcm: list[Pcm]
    name: str = "fake source"

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        pos = 0
        for p in self.pcm:
            yield AudioChunk(p, pos / SAMPLE_RATE)
            pos += len(p)

    async def close(self) -> None:
        pass


@dataclass
class RecordingSink:
    name: str = "recording sink"
    played: list[Pcm] = field(default_factory=list)
    stops: int = 0

    async def play(self, pcm: Pcm, sample_rate: int) -> None:
        self.played.append(pcm)

    async def drain(self) -> None:
        pass

    async def stop(self) -> None:
        self.stops += 1

    async def close(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        self.t += 0.001
        return self.t


@dataclass
class FakeSkillContext:
    """A `SkillContext` that records what a skill says and shows; the rest is what a test gives."""

    lm: Any = None
    media: Any = None
    volume: Any = None
    said: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)

    async def say(self, text: str) -> None:
        self.said.append(text)

    async def display(self, text: str) -> None:
        self.shown.append(text)

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)
