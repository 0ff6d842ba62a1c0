"""When an utterance starts and ends: audio time and the VAD's verdicts in, decisions out.

Pure: no engines, no tasks, no clock. The pipeline feeds each chunk's VAD frames to `step`
and acts on the `Step` it gets back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assistant.config import VadSettings
from models.protocols import Pcm, RecognizerStream

if TYPE_CHECKING:
    from assistant.turn.speculation import Rehearsal

# The detection can come before the phrase has quite ended; speech this soon after it is the
# phrase's tail, not the start of the command (else a pause after "hey jarvis" ends the turn
# on the phrase alone).
WAKE_TAIL_S = 0.3

# Why an utterance ended.
SILENCE = "silence"
MAX_LENGTH = "max_length"
UNDERSTOOD = "understood"  # the speculative transcript was a clear command
NO_SPEECH = "no_speech"
# A wake turn heard no speech after the phrase: the detection can come at the end of a short
# command said in one breath ("hey mycroft what time is it" fired 0.55 s after it ended), so
# the command may already be in the look-back.
AFTER_PHRASE = "quiet_after_phrase"


@dataclass(slots=True)
class Capture:
    """One utterance being recorded."""

    opened_at: float  # audio time the capture opened
    audio: list[Pcm]
    purpose: str  # "turn" or "answer" (to an ask())
    wake_phrase: str | None = None  # said at the start of the audio: not part of the command
    follow_up: bool = False  # opened by speech in a follow-up window, not by wake word or tap
    end_reason: str | None = None  # why the utterance ended (SILENCE, MAX_LENGTH, ...)
    ended_at: float = 0.0  # audio time the utterance ended
    resumed: bool = False  # heard only the wake phrase, then listened on for the command
    speech_start: float | None = None
    last_speech: float | None = None
    speculation: asyncio.Task[str] | None = None
    rehearsal: Rehearsal | None = field(default=None)
    # A turn's audio also goes to the recognizer as it comes, so a guess in the first silent
    # frames asks for a result instead of sending everything again.
    stream: RecognizerStream | None = None

    @property
    def samples(self) -> int:
        return sum(len(a) for a in self.audio)

    def pcm(self) -> Pcm:
        return np.concatenate(self.audio) if self.audio else np.zeros(0, dtype=np.int16)


@dataclass(frozen=True, slots=True)
class Step:
    """What one chunk changed."""

    started: bool = False  # speech began
    resumed: bool = False  # speech went on after a pause: a guess made in the pause is stale
    end: str | None = None  # the utterance ended, for this reason
    speculate: bool = False  # quiet long enough to guess the transcript before the endpoint


def step(cap: Capture, vad: VadSettings, pos: float, speech: list[bool], frame_s: float) -> Step:
    """Advance `cap` by one chunk ending at audio time `pos`, whose VAD frames said `speech`."""
    started = resumed = False
    # Frame times are approximate: the last frame ends at the current position.
    for i, is_speech in enumerate(speech):
        t = pos - (len(speech) - 1 - i) * frame_s
        if not is_speech:
            continue
        if cap.speech_start is None and cap.wake_phrase and t - cap.opened_at < WAKE_TAIL_S:
            continue
        if cap.speech_start is None:
            cap.speech_start = t - frame_s
            started = True
        elif cap.speculation is not None or cap.rehearsal is not None:
            resumed = True
        cap.last_speech = t
    if cap.speech_start is None:
        waited = pos - cap.opened_at
        if cap.wake_phrase and not cap.resumed and waited >= WAKE_TAIL_S + vad.silence_s:
            return Step(started, resumed, AFTER_PHRASE)  # listen on if it was only the phrase
        if waited >= vad.no_speech_s:
            return Step(started, resumed, NO_SPEECH)
        return Step(started, resumed)
    assert cap.last_speech is not None
    silence = pos - cap.last_speech
    if silence >= vad.silence_s:
        return Step(started, resumed, SILENCE)
    if pos - cap.speech_start >= vad.max_utterance_s:
        return Step(started, resumed, MAX_LENGTH)
    speculate = (
        vad.speculate_s > 0
        and silence >= vad.speculate_s
        and cap.speculation is None
        and cap.purpose == "turn"
    )
    return Step(started, resumed, speculate=speculate)
