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


class RecognizerStream(Protocol):
    """One utterance being recognised while it is heard, in the manner of Wyoming's
    audio-start / audio-chunk / audio-stop: `Recognizer.start()`, then `feed`* with `partial`
    asked whenever a guess helps, then `finish` (or `close`, to drop the utterance).

    The audio stays with the stream, so a caller never re-sends what it already fed. Any
    method may run inference (Vosk decodes as it is fed, Moonshine every half second of audio,
    Whisper on `partial` and `finish`): use a stream from one thread at a time, in order, where
    the engine's inference runs. After `finish` or `close`, every method but `close` raises
    `StreamClosedError`.
    """

    def feed(self, chunk: Pcm) -> None:
        """Append any number of samples (none included). Not 16 kHz mono int16 (floats, two
        channels): `AudioFormatError`."""
        ...

    def partial(self) -> str:
        """The best transcript of the audio fed so far; the stream stays open. May cost a
        whole decode (Whisper re-decodes everything fed); asked again with no audio fed in
        between, it answers from the last decode."""
        ...

    def finish(self) -> str:
        """The transcript of all the audio fed ("" for none), then the stream is closed.
        Right after a `partial` with no audio fed since, it costs no new decode."""
        ...

    def close(self) -> None:
        """Drop the utterance without a result and free what the engine holds for it. Does
        nothing on a stream already closed or finished, so it can go in a `finally`."""
        ...


class Recognizer(Protocol):
    """Speech to text, streamed (`start`) or on a finished utterance (`transcribe`)."""

    @property
    def name(self) -> str: ...

    def start(self, *, prefix: str = "") -> RecognizerStream:
        """A stream for one utterance. `prefix`: words known to open it (a wake phrase), a hint
        an engine may use; the transcript may include them or not. Streams are independent:
        starting one never disturbs another still open."""
        ...

    def transcribe(self, audio: Pcm, *, prefix: str = "") -> str:
        """The words in `audio`: the same as `start(prefix=prefix)`, `feed(audio)`, `finish()`."""
        ...


class Synthesizer(Protocol):
    """Text to speech, one int16 array per sentence, so playback can start early."""

    @property
    def sample_rate(self) -> int: ...

    def synthesize(self, text: str) -> Iterator[Pcm]: ...
