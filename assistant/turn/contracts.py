"""What the pipeline needs from the world: engines, a handler for transcripts, a clock."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from models.protocols import Recognizer, Synthesizer, VoiceActivityDetector, WakeWordDetector
from skills.sdk import Intent


@dataclass(frozen=True, slots=True)
class Engines:
    wake: WakeWordDetector
    vad: VoiceActivityDetector
    asr: Recognizer
    tts: Synthesizer


class Clock(Protocol):
    def monotonic(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()


class TurnIO(Protocol):
    """What a handler may do during a turn (the pipeline implements it)."""

    async def say(self, text: str) -> None: ...

    async def display(self, text: str) -> None: ...

    async def ask(self, question: str) -> str | None: ...


class TurnHandler(Protocol):
    """Understands a transcript, then acts on it (speaking through the pipeline's TurnIO)."""

    def recognize(self, text: str) -> Intent: ...

    async def handle(self, intent: Intent) -> None: ...


class Rehearse(Protocol):
    """Optional on a `TurnHandler`: run a side-effect-free skill ahead of the endpoint, with
    what it says or shows going to `out(kind, text)` ("say" or "display") instead. Returns
    False when the intent's skill may not be run early."""

    async def __call__(
        self, intent: Intent, out: Callable[[str, str], Awaitable[None]]
    ) -> bool: ...
