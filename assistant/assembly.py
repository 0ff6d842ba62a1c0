"""The one place that builds a running assistant from the settings and takes it down again.

`sottovoce run`, the benchmarks, `glasses simulate`, `eval e2e` and the integration tests all
enter an `Assistant`, so what they build and the order they close it in cannot drift apart.
Parts open in dependency order (store, models, pipeline, podcasts, skills, glasses) and one exit
stack closes them in exactly the reverse order; when a part fails to build, what was opened
before it is closed and the error passes on. A part handed in (engines loaded once for many
runs, a store opened early, a language model) belongs to the caller and is left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar

from assistant import audio_io
from assistant import events as ev
from assistant.audio import AudioSink
from assistant.config import Settings
from assistant.engines import build_engines, load_intents
from assistant.errors import AudioError
from assistant.paths import data_dir
from assistant.pipeline import Engines, Pipeline, TurnHandler
from assistant.podcasts.media import PodcastMedia
from assistant.scheduler import SystemClock
from assistant.skill_host import SkillHost
from assistant.store import Store
from assistant.volume import OutputVolume, VolumeSink
from models.errors import ModelError
from skills import load_skills
from skills.intents import IntentRecognizer
from skills.sdk import LanguageModel, Skill

if TYPE_CHECKING:
    from models.lm import AssistantLanguageModel


_T = TypeVar("_T")


class Glasses(Protocol):
    """A pair of glasses for the run (`glasses.GlassesSession`): shown every event, started
    once the turns can be opened, closed first."""

    def observe(self, event: ev.Event) -> None: ...

    async def start(self, control: Pipeline) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RunningAssistant:
    """What an entered `Assistant` gives its caller."""

    pipeline: Pipeline
    engines: Engines
    host: SkillHost | None  # None when the caller's own turn handler stands in for the skills
    volume: OutputVolume | None


class Assistant:
    """`async with Assistant(settings, sink=..., emit=...) as assistant:` then
    `await assistant.pipeline.run(source, realtime=...)` or `.run_text(text)`.

    `sink`: where replies play; the assistant owns it from here on. `emit`: every event.
    `home`: the user's data (reminders, volume, podcast library); default `paths.data_dir()`.
    `engines`, `intents`, `lm`, `store`: already loaded or open, used as they are and left open;
    otherwise built from `settings` (no language model when `[lm] enabled = false`).
    `glasses`: started against the pipeline (a tap opens a turn) and shown every event.
    `handler`: understands the turns in place of the skills (`eval e2e` recognizes without
    acting); then no store, volume, podcasts or language model is opened.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sink: AudioSink,
        emit: Callable[[ev.Event], None],
        home: Path | None = None,
        engines: Engines | None = None,
        intents: IntentRecognizer | None = None,
        lm: LanguageModel | None = None,
        store: Store | None = None,
        glasses: Glasses | None = None,
        handler: TurnHandler | None = None,
    ) -> None:
        self._settings = settings
        self._sink = sink
        self._emit = emit
        self._home = home
        self._engines = engines
        self._intents = intents
        self._lm = lm
        self._store = store
        self._glasses = glasses
        self._handler = handler
        self._stack: contextlib.AsyncExitStack | None = None
        self._piped = False  # the pipeline owns the sink

    async def __aenter__(self) -> RunningAssistant:
        stack = contextlib.AsyncExitStack()
        try:
            running = await self._open(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return running

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _open(self, stack: contextlib.AsyncExitStack) -> RunningAssistant:
        stack.push_async_callback(self._close_sink_unless_piped)
        loaders = _Loaders()
        try:
            if self._handler is None:
                running = await self._open_skills(stack, loaders)
            else:
                engines = await loaders.load(self._engines, build_engines, self._settings)
                pipeline = self._pipeline(stack, engines, self._sink, _EventFanout(self._emit))
                pipeline.handler = self._handler
                running = RunningAssistant(
                    pipeline=pipeline, engines=engines, host=None, volume=None
                )
        finally:
            loaders.close()
        if self._glasses is not None:
            stack.push_async_callback(self._glasses.close)
            # Taps open turns from here on; the glasses connect in the background.
            await self._glasses.start(running.pipeline)
        return running

    async def _open_skills(
        self, stack: contextlib.AsyncExitStack, loaders: _Loaders
    ) -> RunningAssistant:
        settings = self._settings
        home = self._home or data_dir()
        store = self._store
        if store is None:  # before the models: a damaged database is said at once
            store = Store.open(home)
            stack.callback(store.close)
        # One set of skills: its sentences go to the recognizer, its handlers to the host.
        skills = load_skills()
        lm_loading = None if self._lm is not None else loaders.start(load_language_model, settings)
        intents_loading = loaders.later(
            self._intents, functools.partial(load_intents, skills=skills), settings
        )
        engines_loading = loaders.later(self._engines, build_engines, settings)
        # All three load at once. The language model is awaited first, the one of them with
        # something to close: if another fails, it is already on the stack.
        lm: LanguageModel | None = self._lm
        if lm_loading is not None:
            loaded = await lm_loading
            if loaded is not None:
                stack.callback(loaded.close)
            lm = loaded
        intents = await intents_loading
        engines = await engines_loading
        fanout = _EventFanout(self._emit, self._glasses)
        volume = OutputVolume.load(home)
        pipeline = self._pipeline(stack, engines, VolumeSink(self._sink, volume), fanout)
        media = PodcastMedia.open(home, VolumeSink(media_sink(settings, self._sink), volume))
        stack.push_async_callback(media.close)
        fanout.media = media
        host = _skill_host(pipeline, fanout, skills, store, intents, lm, media, volume)
        stack.push_async_callback(host.close)  # before start: a half-started host stops too
        await host.start()
        return RunningAssistant(pipeline=pipeline, engines=engines, host=host, volume=volume)

    def _pipeline(
        self,
        stack: contextlib.AsyncExitStack,
        engines: Engines,
        sink: AudioSink,
        emit: Callable[[ev.Event], None],
    ) -> Pipeline:
        settings = self._settings
        pipeline = Pipeline(engines, sink, vad=settings.vad, dialog=settings.dialog, emit=emit)
        self._piped = True
        stack.push_async_callback(pipeline.aclose)
        return pipeline

    async def _close_sink_unless_piped(self) -> None:
        if not self._piped:  # from its construction on, the pipeline closes its sink
            await self._sink.close()


class _Loaders:
    """Loads models side by side in a pool of their own, not asyncio's default one, which
    asyncio.run waits for: a signal while the models load ends the run without waiting for
    them (3 s more, measured)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="load")

    def start(self, load: Callable[[Settings], _T], settings: Settings) -> asyncio.Future[_T]:
        return asyncio.get_running_loop().run_in_executor(self._pool, load, settings)

    def later(
        self, given: _T | None, load: Callable[[Settings], _T], settings: Settings
    ) -> asyncio.Future[_T]:
        """`given`, or else `load(settings)` under way."""
        if given is None:
            return self.start(load, settings)
        ready: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        ready.set_result(given)
        return ready

    async def load(
        self, given: _T | None, load: Callable[[Settings], _T], settings: Settings
    ) -> _T:
        return await self.later(given, load, settings)

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _skill_host(
    pipeline: Pipeline,
    emit: Callable[[ev.Event], None],
    skills: list[Skill],
    store: Store,
    intents: IntentRecognizer,
    lm: LanguageModel | None,
    media: PodcastMedia,
    volume: OutputVolume,
) -> SkillHost:
    """The skills, speaking through `pipeline`, which hands them every turn."""

    async def notify(event: ev.Notification) -> None:
        emit(event)

    host = SkillHost(
        skills,
        intents,
        store,
        SystemClock(),
        say=pipeline.say,
        ask=pipeline.ask,
        display=pipeline.display,
        notify=notify,
        media=media,
        lm=lm,
        volume=volume,
        elapsed=pipeline.now,
    )
    pipeline.handler = host
    return host


class _EventFanout:
    """Passes events on: to the caller, to the glasses, and ducks an episode during a turn."""

    def __init__(self, emit: Callable[[ev.Event], None], glasses: Glasses | None = None) -> None:
        self._emit = emit
        self._glasses = glasses
        self.media: PodcastMedia | None = None

    def __call__(self, event: ev.Event) -> None:
        if self.media is not None:
            if isinstance(event, ev.TurnStarted):
                self.media.duck(True)
            elif isinstance(event, ev.TurnEnded):
                self.media.duck(False)
        if self._glasses is not None:
            self._glasses.observe(event)  # transcript, replies and reminders on the display
        self._emit(event)


def media_sink(settings: Settings, reply_sink: AudioSink) -> AudioSink:
    """Episodes play on their own stream: the speaker, or a WAV beside the reply WAV."""
    if isinstance(reply_sink, audio_io.WavFileSink):
        path = Path(reply_sink.path)
        return audio_io.WavFileSink(path.with_name(f"{path.stem}.media.wav"))
    if isinstance(reply_sink, audio_io.SpeakerSink):
        try:
            return audio_io.SpeakerSink(sound_device(settings.audio.output_device))
        except AudioError:
            pass
    return audio_io.NullSink()


def sound_device(value: str) -> str | int | None:
    """An `[audio]` device setting as sounddevice takes it: an index, part of a name, or
    None for the default."""
    if not value:
        return None
    return int(value) if value.isdigit() else value


def load_language_model(settings: Settings) -> AssistantLanguageModel | None:
    """The configured LM, or None (with the reason said) if there is none to load."""
    if not settings.lm.enabled:
        return None
    from models.lm import AssistantLanguageModel, resolve

    try:
        folder = resolve(data_dir() / "models", settings.lm.model or None)
        return AssistantLanguageModel.load(folder, spin=settings.lm.spin)
    except ModelError as err:
        print(f"{err.message} Until then, open questions get a short apology.", file=sys.stderr)
        return None
