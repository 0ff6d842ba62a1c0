"""Runs skills for the pipeline: text in, the right skill called with a `SkillContext`.

The pipeline owns audio and events; it hands the host three callbacks (say, display, ask) and an
optional `notify` for `Notification` events. The host owns the recognizer, the skills, the store
and the scheduler whose due jobs it announces through the same callbacks.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Final

from assistant.events import Notification
from assistant.scheduler import Clock, Due, Scheduler
from assistant.store import SkillStorage, Store
from skills import remind
from skills.intents import ANSWER, IntentRecognizer
from skills.sdk import (
    AudioClip,
    Intent,
    Job,
    Jobs,
    JobSpec,
    LanguageModel,
    MediaController,
    Skill,
    Storage,
    VolumeControl,
)

_LOGGER = logging.getLogger(__name__)

Say = Callable[[str], Awaitable[None]]
Ask = Callable[[str], Awaitable[str | None]]
Play = Callable[[AudioClip], Awaitable[None]]
Notify = Callable[[Notification], Awaitable[None]]

NO_ANSWER_YET = "Sorry, I can't answer that yet."


REHEARSABLE: Final = frozenset({ANSWER})


class _Context:
    """`skills.sdk.SkillContext` for one skill."""

    def __init__(self, host: SkillHost, skill: Skill) -> None:
        self._host = host
        self._storage = SkillStorage(host.store, skill.name)

    async def say(self, text: str) -> None:
        await self._host.say(text)

    async def display(self, text: str) -> None:
        await self._host.display(text)

    async def play(self, audio: AudioClip) -> None:
        if self._host.play is None:
            _LOGGER.info("no audio output for play(); %d bytes dropped", len(audio.pcm))
            return
        await self._host.play(audio)

    async def ask(self, question: str) -> str | None:
        return await self._host.ask(question)

    @property
    def media(self) -> MediaController | None:
        return self._host.media

    @property
    def volume(self) -> VolumeControl | None:
        return self._host.volume

    @property
    def storage(self) -> Storage:
        return self._storage

    @property
    def jobs(self) -> Jobs:
        return self._host.scheduler

    @property
    def lm(self) -> LanguageModel | None:
        return self._host.lm

    def now(self) -> datetime:
        return self._host.clock.now()

    def schedule(self, spec: JobSpec) -> Job:
        return self._host.scheduler.add(spec)


async def _no_display(text: str) -> None:
    _LOGGER.debug("display (no glasses): %s", text)


async def _no_notify(event: Notification) -> None:
    _LOGGER.debug("notification: %s", event.describe())


class _RehearsalContext(_Context):
    """A context whose output waits in `out` until the pipeline confirms the turn; asking a
    question or playing audio are not allowed ahead of time."""

    def __init__(
        self, host: SkillHost, skill: Skill, out: Callable[[str, str], Awaitable[None]]
    ) -> None:
        super().__init__(host, skill)
        self._out = out

    async def say(self, text: str) -> None:
        await self._out("say", text)

    async def display(self, text: str) -> None:
        await self._out("display", text)

    async def ask(self, question: str) -> str | None:
        raise RuntimeError("a rehearsed skill cannot ask a question")

    async def play(self, audio: AudioClip) -> None:
        raise RuntimeError("a rehearsed skill cannot play audio")


class SkillHost:
    """Construct once per assistant run; call `start()` before and `close()` after the turns."""

    def __init__(
        self,
        skills: Iterable[Skill],
        recognizer: IntentRecognizer,
        store: Store,
        clock: Clock,
        *,
        say: Say,
        ask: Ask,
        display: Say = _no_display,
        play: Play | None = None,
        notify: Notify = _no_notify,
        lm: LanguageModel | None = None,
        media: MediaController | None = None,
        volume: VolumeControl | None = None,
        elapsed: Callable[[], float] | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.store = store
        self.clock = clock
        self.say = say
        self.ask = ask
        self.display = display
        self.play = play
        self.lm = lm
        self.media = media
        self.volume = volume
        self._notify = notify
        started = time.monotonic()
        self._elapsed = elapsed or (lambda: time.monotonic() - started)
        self.scheduler = Scheduler(
            store, clock, self._announce, announce_missed=self._announce_missed
        )
        self._by_intent: dict[str, Skill] = {}
        self._contexts: dict[str, _Context] = {}
        for skill in skills:
            for name in skill.intents:
                if name in self._by_intent:
                    _LOGGER.warning(
                        "intent %s claimed by %s and %s; keeping %s",
                        name, self._by_intent[name].name, skill.name, self._by_intent[name].name,
                    )  # fmt: skip
                    continue
                self._by_intent[name] = skill
            self._contexts[skill.name] = _Context(self, skill)

    async def start(self) -> None:
        """Re-arm stored jobs; announce (once) those that fell due while the assistant was off."""
        await self.scheduler.start()

    async def close(self) -> None:
        await self.scheduler.stop()

    def recognize(self, text: str) -> Intent:
        return self.recognizer.recognize(text)

    async def handle(self, intent: Intent) -> None:
        await self.dispatch(intent)

    async def handle_text(self, text: str) -> Intent:
        """Recognize `text`, run the skill for it, return the intent (for the pipeline's event)."""
        intent = self.recognizer.recognize(text)
        await self.dispatch(intent)
        return intent

    async def rehearse(self, intent: Intent, out: Callable[[str, str], Awaitable[None]]) -> bool:
        """Run the skill for `intent` with what it says or shows going to `out(kind, text)`,
        for the pipeline to play once the turn is confirmed. Only skills without side effects
        (the language model's `answer`) may run this way; False for the others."""
        skill = self._by_intent.get(intent.name)
        if skill is None or intent.name not in REHEARSABLE:
            return False
        await skill.handle(intent, _RehearsalContext(self, skill, out))
        return True

    async def dispatch(self, intent: Intent) -> None:
        skill = self._by_intent.get(intent.name)
        if skill is None:
            if intent.name == ANSWER:
                await self.say(NO_ANSWER_YET)
            else:
                _LOGGER.info("no skill installed for %s", intent.name)
                await self.say("Sorry, I can't do that yet.")
            return
        await skill.handle(intent, self._contexts[skill.name])

    async def _announce(self, due: Due) -> None:
        text = remind.announcement(due.job, self.clock.now(), missed=due.missed)
        await self._ring(due.job, text, missed=due.missed)

    async def _announce_missed(self, dues: list[Due]) -> None:
        """Several jobs missed while off: one summary, not one announcement each."""
        text = remind.missed_summary([d.job for d in dues], self.clock.now())
        await self._ring(dues[0].job, text, missed=True)

    async def _ring(self, job: Job, text: str, *, missed: bool) -> None:
        await self._notify(
            Notification(
                t=self._elapsed(),
                job_kind=job.kind,
                job_id=job.id,
                text=text,
                due=job.due.isoformat(),
                missed=missed,
            )
        )
        # alarms ring through "mute"
        with self.volume.audible() if self.volume is not None else contextlib.nullcontext():
            await self.say(text)  # the Notification event puts it on the glasses, with a tone
