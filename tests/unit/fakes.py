"""Fakes per protocol: tagged audio drives them, so tests need no models and no sleeps.

Audio is tagged by its sample values: a chunk filled with WAKE fires the wake word, frames whose
first sample is >= SPEECH count as speech, and the fake recognizer returns the script entry
named by the most common tag in the audio it gets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from assistant.audio import CHUNK_SAMPLES, AudioChunk
from models.errors import StreamClosedError
from models.protocols import SAMPLE_RATE, Detection, Pcm
from skills.sdk import AudioClip, EpisodeInfo, NowPlaying, PodcastInfo, ShowNotes

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


@dataclass
class SpeakerSink(RecordingSink):
    """A `RecordingSink` that behaves like a speaker: every chunk yields to the event loop, and
    with a `gate`, play() blocks from the second chunk after a stop() on, like a speaker whose
    buffer is full, until the test sets it."""

    gate: asyncio.Event | None = None
    rates: set[int] = field(default_factory=set)
    seconds: float = 0.0  # of audio played
    first_at: float | None = None  # time.perf_counter() of the first chunk
    _since_stop: int = field(default=0, init=False, repr=False)

    async def play(self, pcm: Pcm, sample_rate: int) -> None:
        if self.first_at is None:
            self.first_at = time.perf_counter()
        await super().play(pcm, sample_rate)
        self.rates.add(sample_rate)
        self.seconds += len(pcm) / sample_rate
        self._since_stop += 1
        if self.gate is not None and self._since_stop > 1:
            await self.gate.wait()
        await asyncio.sleep(0)

    async def stop(self) -> None:
        await super().stop()
        self._since_stop = 0


class FakeClock:
    """Both clocks of the assistant, moved only by the test. `monotonic` (the pipeline's) ticks
    1 ms per reading, so no measured duration is zero; `now` (the scheduler's and the skills')
    moves on `advance`, and `sleep` waits for it."""

    def __init__(self, now: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.t = 0.0
        self._now = now
        self._moved = asyncio.Event()

    def monotonic(self) -> float:
        self.t += 0.001
        return self.t

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta
        self._moved.set()

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + timedelta(seconds=seconds)
        while self._now < deadline:
            self._moved.clear()
            await self._moved.wait()


@dataclass
class FakeMedia:
    """A `MediaController` over the shows and episodes a test gives; it records every call."""

    shows: list[PodcastInfo] = field(default_factory=list)
    by_podcast: dict[int, list[EpisodeInfo]] = field(default_factory=dict)
    notes: dict[int, ShowNotes] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    playing: EpisodeInfo | None = None
    paused: bool = False

    def podcasts(self) -> list[PodcastInfo]:
        return self.shows

    def episodes(
        self, podcast_id: int | None = None, *, limit: int | None = None
    ) -> list[EpisodeInfo]:
        eps = self.by_podcast.get(podcast_id, []) if podcast_id else self._all()
        return eps[:limit] if limit else eps

    async def play(self, episode_id: int, *, from_start: bool = False) -> EpisodeInfo:
        self.calls.append(("play", (episode_id, from_start)))
        self.playing = next(e for e in self._all() if e.id == episode_id)
        return self.playing

    async def pause(self) -> bool:
        self.calls.append(("pause", None))
        was, self.paused = self.playing is not None and not self.paused, True
        return was

    async def resume(self) -> EpisodeInfo | None:
        self.calls.append(("resume", None))
        self.paused = False
        return self.playing

    async def stop(self) -> bool:
        self.calls.append(("stop", None))
        was, self.playing = self.playing is not None, None
        return was

    async def skip(self, seconds: float) -> float | None:
        self.calls.append(("skip", seconds))
        return None if self.playing is None else 60.0 + seconds

    async def next(self) -> EpisodeInfo | None:
        self.calls.append(("next", None))
        return None

    async def previous(self) -> EpisodeInfo | None:
        self.calls.append(("previous", None))
        return self._all()[1]

    def now_playing(self) -> NowPlaying | None:
        if self.playing is None:
            return None
        return NowPlaying(episode=self.playing, position_s=754, paused=self.paused)

    def show_notes(self, episode_id: int | None = None) -> ShowNotes | None:
        return self.notes.get(episode_id if episode_id is not None else 1)

    def _all(self) -> list[EpisodeInfo]:
        return [e for eps in self.by_podcast.values() for e in eps]


@dataclass
class FakeSkillContext:
    """A `SkillContext` that records what a skill says, shows and asks; the rest is what a test
    gives."""

    lm: Any = None
    media: Any = None
    volume: Any = None
    today: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    said: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    async def say(self, text: str) -> None:
        self.said.append(text)

    async def display(self, text: str) -> None:
        self.shown.append(text)

    async def play(self, audio: AudioClip) -> None:
        pass

    async def ask(self, question: str) -> str | None:
        self.asked.append(question)
        return None

    def now(self) -> datetime:
        return self.today
