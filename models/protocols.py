"""The narrow interfaces every swappable engine implements.

All audio crossing these interfaces is 16 kHz mono int16 (`numpy.int16` arrays), except
synthesizer output, which is int16 at the voice's own `sample_rate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

SAMPLE_RATE: Final = 16_000

Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    """A wake word fired inside the chunk just processed."""

    name: str
    score: float
    phrase: str = ""  # how the phrase is spoken ("hey jarvis"); empty: read it from `name`
    doubtful: bool = False  # the score peaked below the threshold: confirm before acting


class WakeWordDetector(Protocol):
    """Streaming wake-word spotter. Threshold and refractory period are its own business."""

    @property
    def name(self) -> str: ...

    def process(self, chunk: Pcm) -> Detection | None:
        """Feed any number of samples; return a detection if the phrase ended in them."""
        ...

    def reset(self) -> None: ...


class VoiceActivityDetector(Protocol):
    @property
    def frame_samples(self) -> int:
        """The exact number of samples `probability` takes."""
        ...

    def probability(self, frame: Pcm) -> float: ...

    def reset(self) -> None: ...


class Recognizer(Protocol):
    """Speech to text on a finished (or speculative) utterance."""

    @property
    def name(self) -> str: ...

    def transcribe(self, audio: Pcm, *, prefix: str = "") -> str:
        """The words in `audio`. `prefix`: words known to open it (a wake phrase), a hint an
        engine may use; the transcript may include them or not."""
        ...


class Synthesizer(Protocol):
    """Text to speech, one int16 array per sentence, so playback can start early."""

    @property
    def sample_rate(self) -> int: ...

    def synthesize(self, text: str) -> Iterator[Pcm]: ...
