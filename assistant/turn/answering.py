"""From an utterance's audio to its words, and from the words to the handler's answer."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from assistant import events as ev
from assistant.turn.contracts import Rehearse, TurnHandler
from assistant.turn.endpoint import MAX_LENGTH, Capture
from assistant.turn.language import looks_like_a_question
from assistant.turn.speaking import Emit, Speaker
from assistant.turn.speculation import Rehearsal
from models.protocols import Pcm, Recognizer
from models.wake_phrase import strip_wake_phrase, wake_prefix
from skills.sdk import Intent

_LOGGER = logging.getLogger(__name__)


class Answerer:
    """Transcribes on its own worker, understands through the handler, answers through it."""

    def __init__(self, asr: Recognizer, speaker: Speaker, emit: Emit) -> None:
        self._asr = asr
        self._speaker = speaker
        self._emit = emit
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="asr")
        self.handler: TurnHandler | None = None
        self.answered = 0  # turns answered so far

    @property
    def engine(self) -> str:
        return self._asr.name

    async def transcribe(self, pcm: Pcm, *, prefix: str = "") -> str:
        loop = asyncio.get_running_loop()
        call = functools.partial(self._asr.transcribe, pcm, prefix=prefix)
        return (await loop.run_in_executor(self._pool, call)).strip()

    def listen(self, cap: Capture) -> None:
        """Start recognizing `cap` while it is recorded, from the audio it holds so far. For a
        wake turn, the phrase is given to the recognizer as the words that open the audio."""
        prefix = wake_prefix(cap.wake_phrase) if cap.wake_phrase else ""
        cap.stream = self._asr.start(prefix=prefix)
        if cap.audio:
            self.feed(cap, np.concatenate(cap.audio))

    def feed(self, cap: Capture, pcm: Pcm) -> None:
        """More of `cap`'s audio, queued on the recognizer's worker: the stream is used from
        that thread only, in order."""
        if cap.stream is not None and len(pcm):
            self._pool.submit(cap.stream.feed, pcm)

    async def guess(self, cap: Capture) -> str:
        """The command in `cap` so far; the stream stays open."""
        assert cap.stream is not None
        return await self._command(cap, cap.stream.partial)

    async def final(self, cap: Capture) -> str:
        """The command in all of `cap`; its stream is done."""
        if cap.stream is None:
            return await self.transcribe(cap.pcm())
        return await self._command(cap, cap.stream.finish)

    def drop(self, cap: Capture) -> None:
        """`cap` will not be transcribed (no speech, answered from a guess, or cut off)."""
        if cap.stream is not None:
            self._pool.submit(cap.stream.close)

    async def _command(self, cap: Capture, result: Callable[[], str]) -> str:
        """What the stream heard, without the wake phrase and anything said before it."""
        heard = (await asyncio.get_running_loop().run_in_executor(self._pool, result)).strip()
        if not cap.wake_phrase:
            return heard
        text = strip_wake_phrase(heard, cap.wake_phrase)
        _LOGGER.debug("heard %r; the command is %r", heard, text)
        return text

    def recognize(self, text: str) -> Intent:
        if self.handler is None:
            raise RuntimeError("pipeline has no handler")
        return self.handler.recognize(text)

    def addressed(self, text: str, cap: Capture) -> bool:
        """Was speech in a follow-up window (or before a wake word that came late, with
        silence after it) said to the assistant? A command a skill knows is; so is a question.
        Anything else is most likely talk nearby ("I told Jarvis"), and the language model
        would answer it."""
        if cap.end_reason == MAX_LENGTH or self.handler is None:
            return False
        if self.handler.recognize(text).name != "answer":
            return True
        return looks_like_a_question(text)

    async def answer(self, text: str) -> None:
        intent = self.recognize(text)
        self._recognized(intent)
        assert self.handler is not None
        await self.handler.handle(intent)
        self.answered += 1

    def rehearse(self, text: str, intent: Intent, turn: int) -> Rehearsal | None:
        """Start the handler on a guessed open question; what it says is synthesized at once
        and held until the turn begins (or dropped when speech resumes)."""
        rehearse: Rehearse | None = getattr(self.handler, "rehearse", None)
        if rehearse is None:
            return None
        queue: asyncio.Queue[tuple[str, str, asyncio.Future[list[Pcm]] | None] | None]
        queue = asyncio.Queue()

        async def out(kind: str, said: str) -> None:
            speech = self._speaker.synthesize_ahead(said) if kind == "say" else None
            queue.put_nowait((kind, said, speech))

        async def run() -> bool:
            try:
                return await rehearse(intent, out)
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(run(), name=f"rehearsal-{turn}")
        return Rehearsal(text, intent, queue, task)

    async def answer_rehearsed(self, rehearsal: Rehearsal, turn: int) -> None:
        """Speak what the rehearsal prepared; a handler that refused to run the skill early
        (none may, or none is loaded for the intent) answers the turn as usual."""
        self._recognized(rehearsal.intent)
        while (item := await rehearsal.queue.get()) is not None:
            kind, text, speech = item
            if kind == "say":
                await self._speaker.say(text, turn=turn, speech=speech)
            else:
                self._emit(ev.Displayed(text=text))
        if not await rehearsal.task:  # a skill that failed fails the turn, as it would anyway
            assert self.handler is not None
            await self.handler.handle(rehearsal.intent)
        self.answered += 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _recognized(self, intent: Intent) -> None:
        self._emit(
            ev.IntentRecognized(
                name=intent.name,
                slots=dict(intent.slots or {}),
                confidence=float(intent.confidence),
                source=intent.source,
            )
        )
