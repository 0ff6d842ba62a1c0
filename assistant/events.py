"""Typed, timestamped events: one per step of a turn.

`t` is seconds on the pipeline's clock since the run started; `audio_s` is the position in the
input stream (seconds of audio consumed) when the event was emitted, or None for text turns.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    # Seconds since the assistant started. Events made during a turn are stamped by
    # `Pipeline.emit` (time, audio time, turn); others give it themselves.
    t: float = 0.0
    audio_s: float | None = None
    turn: int = 0

    @property
    def kind(self) -> str:
        return _snake(type(self).__name__)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = round(value, 4) if isinstance(value, float) else value
        return data

    def describe(self) -> str:
        """One human-readable line for the timeline."""
        return ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready(Event):
    source: str
    startup_s: float

    def describe(self) -> str:
        return f"listening on {self.source} (ready in {self.startup_s:.2f} s)"


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeDetected(Event):
    name: str
    score: float

    def describe(self) -> str:
        return f"wake word {self.name!r} (score {self.score:.2f})"


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnStarted(Event):
    trigger: str  # "wake", "follow_up", "text", "tap"

    def describe(self) -> str:
        return f"turn opened by {self.trigger}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechStarted(Event):
    def describe(self) -> str:
        return "speech started"


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechEnded(Event):
    reason: str  # "silence", "understood" (early endpoint) or "max_length"
    speech_s: float

    def describe(self) -> str:
        return f"end of speech ({self.reason}, {self.speech_s:.2f} s of audio)"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoSpeech(Event):
    def describe(self) -> str:
        return "no speech heard"


@dataclass(frozen=True, slots=True, kw_only=True)
class NotAddressed(Event):
    """Speech that was not for the assistant, heard in a follow-up window or before a late
    wake word: not answered."""

    text: str

    def describe(self) -> str:
        return f"not for me, not answered: {self.text!r}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript(Event):
    text: str
    engine: str  # the recognizer's name: an "asr" engine in models.catalog.ENGINES
    speculative: bool = False

    def describe(self) -> str:
        return f"heard: {self.text!r} ({self.engine})"


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentRecognized(Event):
    name: str
    slots: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    source: str = "template"  # which pass decided: template, corrected, keyword, semantic...

    def describe(self) -> str:
        slots = f" {self.slots}" if self.slots else ""
        by = "" if self.source == "template" else f" (by {self.source})"
        return f"intent {self.name}{slots}{by}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply(Event):
    text: str

    def describe(self) -> str:
        return f"reply: {self.text!r}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Displayed(Event):
    """A skill asked for text on the glasses' display."""

    text: str

    def describe(self) -> str:
        return f"display: {self.text!r}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioOutStarted(Event):
    sample_rate: int

    def describe(self) -> str:
        return "first reply audio sample"


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioOutFinished(Event):
    seconds: float
    interrupted: bool = False

    def describe(self) -> str:
        how = "interrupted" if self.interrupted else "finished"
        return f"reply audio {how} ({self.seconds:.2f} s)"


@dataclass(frozen=True, slots=True, kw_only=True)
class BargeIn(Event):
    by: str  # "wake" or "stop" or "tap"

    def describe(self) -> str:
        return f"barge-in by {self.by}: playback stopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowUpOpened(Event):
    seconds: float

    def describe(self) -> str:
        return f"follow-up window open for {self.seconds:.1f} s (no wake word needed)"


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowUpClosed(Event):
    def describe(self) -> str:
        return "follow-up window closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnEnded(Event):
    def describe(self) -> str:
        return "turn ended"


@dataclass(frozen=True, slots=True, kw_only=True)
class Error(Event):
    code: str
    message: str

    def describe(self) -> str:
        return f"error [{self.code}]: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Stopped(Event):
    reason: str

    def describe(self) -> str:
        return f"stopped ({self.reason})"


def _snake(name: str) -> str:
    out = [name[0].lower()]
    for ch in name[1:]:
        out.append(f"_{ch.lower()}" if ch.isupper() else ch)
    return "".join(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification(Event):
    """A reminder, alarm or timer fell due (or, `missed`, fell due while the assistant was off).

    `job_kind`, not `kind`: a field named `kind` would replace `Event.kind`, and the event's JSON
    would then say `"event": "reminder"` instead of `"event": "notification"`."""

    job_kind: str  # "reminder", "alarm" or "timer"
    job_id: int
    text: str  # what was said
    due: str  # ISO 8601, local zone
    missed: bool = False

    def describe(self) -> str:
        missed = "missed " if self.missed else ""
        return f"{missed}{self.job_kind} #{self.job_id} due {self.due}: {self.text!r}"
