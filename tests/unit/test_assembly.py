"""The composition root: parts open in order, close in reverse, and a failure halfway leaks
nothing; handed-in parts stay open; a turn runs through what it built."""

from __future__ import annotations

import asyncio
import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assistant import assembly
from assistant import events as ev
from assistant.assembly import Assistant
from assistant.config import Settings, replace
from assistant.pipeline import Engines, Pipeline
from assistant.store import Store
from skills.intents import IntentRecognizer
from skills.sdk import Intent
from tests.unit.fakes import (
    SILENCE,
    SPEECH,
    WAKE,
    FakeAsr,
    FakeTts,
    FakeVad,
    FakeWake,
    ListSource,
    RecordingSink,
    chunks_of,
)

SETTINGS = replace(Settings(), "dialog", follow_up_s=0.0)


class Broken(Exception):
    """The part named in the test could not be built."""


@functools.cache
def _templates() -> IntentRecognizer:
    return IntentRecognizer.load()


@dataclass
class LoggedSink(RecordingSink):
    log: list[str] = field(default_factory=list)

    async def close(self) -> None:
        self.log.append("close sink")


class FakeLm:
    def __init__(self, log: list[str]) -> None:
        self._log = log

    async def complete(self, prompt: str, **_: Any) -> str:
        return "Paris."

    def close(self) -> None:
        self._log.append("close lm")


class FakeGlasses:
    def __init__(self, log: list[str], *, fail: bool = False) -> None:
        self._log = log
        self._fail = fail
        self.seen: list[ev.Event] = []

    def observe(self, event: ev.Event) -> None:
        self.seen.append(event)

    async def start(self, control: Pipeline) -> None:
        self._log.append("open glasses")
        if self._fail:
            raise Broken("glasses")

    async def close(self) -> None:
        self._log.append("close glasses")


class Parts:
    """Logs the opening and closing of what `Assistant` builds; `fail` names the part whose
    construction raises."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: str | None = None) -> None:
        self.log: list[str] = []
        self.fail = fail
        self.asr = FakeAsr({1: "what time is it"})
        log = self.log

        opening = self._open

        class LoggedStore(Store):
            @classmethod
            def open(cls, data_dir: Path, *, timeout_s: float = 2.0) -> Store:
                opening("store")
                return super().open(data_dir, timeout_s=timeout_s)

            def close(self) -> None:
                log.append("close store")
                super().close()

        class LoggedMedia(assembly.PodcastMedia):
            @classmethod
            def open(cls, data_dir: Path, sink: Any, settings: Any = None) -> assembly.PodcastMedia:
                opening("media")
                return super().open(data_dir, sink, settings)

            async def close(self) -> None:
                log.append("close media")
                await super().close()

        class LoggedHost(assembly.SkillHost):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                opening("host")
                super().__init__(*args, **kwargs)

            async def close(self) -> None:
                log.append("close host")
                await super().close()

        monkeypatch.setattr(assembly, "Store", LoggedStore)
        monkeypatch.setattr(assembly, "PodcastMedia", LoggedMedia)
        monkeypatch.setattr(assembly, "SkillHost", LoggedHost)
        monkeypatch.setattr(assembly, "load_language_model", self._lm)
        monkeypatch.setattr(assembly, "load_intents", lambda _s, **_skills: _templates())
        monkeypatch.setattr(assembly, "build_engines", self._engines)

    def _open(self, part: str) -> None:
        if part == self.fail:
            raise Broken(part)
        self.log.append(f"open {part}")

    def _lm(self, settings: Settings) -> FakeLm:
        self._open("lm")
        return FakeLm(self.log)

    def _engines(self, settings: Settings) -> Engines:
        if self.fail == "engines":
            raise Broken("engines")
        return Engines(wake=FakeWake(), vad=FakeVad(), asr=self.asr, tts=FakeTts())

    def closed(self) -> list[str]:
        return [entry for entry in self.log if entry.startswith("close")]

    def opened(self) -> list[str]:
        return [entry for entry in self.log if entry.startswith("open")]


def _command() -> ListSource:
    return ListSource(
        [
            *chunks_of(SILENCE, 0.5),
            *chunks_of(WAKE, 0.08),
            *chunks_of(SPEECH + 1, 1.0),
            *chunks_of(SILENCE, 3.0),
        ]
    )


async def test_a_turn_runs_on_what_it_built_and_every_part_closes_in_reverse(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parts = Parts(monkeypatch)
    sink = LoggedSink(log=parts.log)
    glasses = FakeGlasses(parts.log)
    events: list[ev.Event] = []
    async with Assistant(
        SETTINGS, sink=sink, emit=events.append, home=tmp_path, glasses=glasses
    ) as assistant:
        await assistant.pipeline.run(_command(), realtime=False)
        assert parts.closed() == []
    assert [e.name for e in events if isinstance(e, ev.IntentRecognized)] == ["time.query"]
    assert any(isinstance(e, ev.Reply) for e in events) and sink.played
    assert glasses.seen == events  # the glasses are shown every event
    opened = parts.opened()
    assert opened[0] == "open store" and "open lm" in opened  # before the models
    assert opened[-3:] == ["open media", "open host", "open glasses"]
    assert parts.closed() == [
        "close glasses",
        "close host",
        "close media",
        "close sink",  # by the pipeline
        "close lm",
        "close store",
    ]


@pytest.mark.parametrize(
    ("fail", "closed"),
    [
        ("store", ["close sink"]),
        ("lm", ["close store", "close sink"]),
        ("engines", ["close lm", "close store", "close sink"]),
        ("media", ["close sink", "close lm", "close store"]),
        ("host", ["close media", "close sink", "close lm", "close store"]),
        (
            "glasses",  # started halfway: closed too
            ["close glasses", "close host", "close media", "close sink", "close lm", "close store"],
        ),
    ],
)
async def test_a_part_that_fails_to_build_leaves_nothing_open(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fail: str, closed: list[str]
) -> None:
    parts = Parts(monkeypatch, fail=fail)
    glasses = FakeGlasses(parts.log, fail=fail == "glasses")
    assistant = Assistant(
        SETTINGS,
        sink=LoggedSink(log=parts.log),
        emit=lambda _e: None,
        home=tmp_path,
        glasses=glasses,
    )
    with pytest.raises(Broken, match=fail):
        async with assistant:
            pytest.fail("entered although a part failed")
    assert parts.closed() == closed


async def test_parts_handed_in_are_used_and_left_open(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parts = Parts(monkeypatch)
    store = Store.open(tmp_path / "mine")
    lm = FakeLm(parts.log)
    engines = Engines(wake=FakeWake(), vad=FakeVad(), asr=parts.asr, tts=FakeTts())
    async with Assistant(
        SETTINGS,
        sink=LoggedSink(log=parts.log),
        emit=lambda _e: None,
        home=tmp_path,
        engines=engines,
        intents=_templates(),
        lm=lm,
        store=store,
    ) as assistant:
        assert assistant.engines is engines
        assert assistant.host is not None and assistant.host.store is store
        assert assistant.host.lm is lm
    assert parts.opened() == ["open media", "open host"]
    assert parts.closed() == ["close host", "close media", "close sink"]
    store.close()


class Recognize:
    def __init__(self) -> None:
        self.handled: list[str] = []

    def recognize(self, text: str) -> Intent:
        return _templates().recognize(text)

    async def handle(self, intent: Intent) -> None:
        self.handled.append(intent.name)


async def test_a_handler_of_its_own_stands_in_for_the_skills(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parts = Parts(monkeypatch)
    handler = Recognize()
    events: list[ev.Event] = []
    async with Assistant(
        SETTINGS,
        sink=LoggedSink(log=parts.log),
        emit=events.append,
        home=tmp_path,
        handler=handler,
    ) as assistant:
        assert assistant.host is None and assistant.volume is None
        await assistant.pipeline.run(_command(), realtime=False)
    assert handler.handled == ["time.query"]
    assert parts.log == ["close sink"]  # no store, language model, podcasts or skills


async def test_a_signal_while_the_models_load_closes_what_was_open(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parts = Parts(monkeypatch)
    loading, release = threading.Event(), threading.Event()

    def slow_engines(settings: Settings) -> Engines:
        loading.set()
        release.wait(5.0)
        raise Broken("too late")

    monkeypatch.setattr(assembly, "build_engines", slow_engines)
    assistant = Assistant(
        SETTINGS, sink=LoggedSink(log=parts.log), emit=lambda _e: None, home=tmp_path
    )
    entering = asyncio.create_task(assistant.__aenter__())
    await asyncio.to_thread(loading.wait, 5.0)
    entering.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await entering
        assert parts.closed() == ["close lm", "close store", "close sink"]
    finally:
        release.set()
