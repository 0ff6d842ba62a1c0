"""Audio sources and sinks: the edge where every format becomes 16 kHz mono int16.

Contract: a source yields `AudioChunk`s of 16 kHz mono int16 with their stream position; a sink
plays int16 audio at whatever rate the synthesizer produced and can be stopped (barge-in).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from models.protocols import SAMPLE_RATE, Pcm

CHUNK_SAMPLES = 1280  # 80 ms at 16 kHz: one openWakeWord step


@dataclass(frozen=True, slots=True)
class AudioChunk:
    pcm: Pcm
    start_s: float  # stream position of the first sample, in seconds

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.pcm) / SAMPLE_RATE


class AudioSource(Protocol):
    @property
    def name(self) -> str: ...

    def chunks(self) -> AsyncIterator[AudioChunk]: ...

    async def close(self) -> None: ...


class AudioSink(Protocol):
    @property
    def name(self) -> str: ...

    async def play(self, pcm: Pcm, sample_rate: int) -> None:
        """Queue audio; returns once it is accepted (a speaker paces, a file does not)."""
        ...

    async def drain(self) -> None:
        """Wait until everything queued has been heard."""
        ...

    async def stop(self) -> None:
        """Barge-in: drop whatever is queued and fall silent at once."""
        ...

    async def close(self) -> None: ...
