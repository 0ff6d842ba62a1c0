"""A transcript guessed in the first silent frames, before the endpoint: end early on it,
start answering it, or wait."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum, auto

from models.protocols import Pcm
from skills.intents import looks_complete
from skills.sdk import Intent

EARLY_ENDPOINT_CONFIDENCE = 0.9
# Skills without side effects whose work is worth starting before the endpoint.
REHEARSED_INTENTS = frozenset({"answer"})


class Guess(Enum):
    WAIT = auto()  # wait out the full silence
    END = auto()  # a clear command: end the utterance now
    REHEARSE = auto()  # an open question: start answering it while the silence is waited out


def judge(text: str, intent: Intent) -> Guess:
    """What to do with a speculative transcript and its intent.

    A guess that a skill confidently understands (not the language-model fallback) and that
    does not trail off ("set a timer for", "remind me to") is very likely the whole command:
    waiting out the rest of the silence would only add latency. Open questions wait, since
    people pause mid-question, but the answer can start on the guess meanwhile.
    """
    if not text.strip() or not looks_complete(text, intent):
        return Guess.WAIT
    if intent.name != "answer" and intent.confidence >= EARLY_ENDPOINT_CONFIDENCE:
        return Guess.END
    if intent.name in REHEARSED_INTENTS:
        return Guess.REHEARSE
    return Guess.WAIT


@dataclass(slots=True)
class Rehearsal:
    """A skill answering a speculative transcript while the endpoint is still being waited for."""

    text: str
    intent: Intent
    # ("say" | "display", text, its speech synthesized ahead of time for "say")
    queue: asyncio.Queue[tuple[str, str, asyncio.Future[list[Pcm]] | None] | None]
    task: asyncio.Task[bool]  # False: the handler would not run the skill early

    def cancel(self) -> None:
        self.task.cancel()
