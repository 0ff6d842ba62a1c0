"""The turn pipeline with fakes: event order, endpointing, barge-in, follow-up, timeouts."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import numpy as np
import pytest

from assistant import events as ev
from assistant.config import DialogSettings, VadSettings
from assistant.pipeline import WAKE_TAIL_S, Engines, Pipeline, is_stop_phrase
from models.protocols import Detection, Pcm
from skills.sdk import Intent
from tests.unit.basic_handler import BasicHandler
from tests.unit.fakes import (
    SILENCE,
    SPEECH,
    WAKE,
    FakeAsr,
    FakeAsrStream,
    FakeClock,
    FakeTts,
    FakeVad,
    FakeWake,
    ListSource,
    RecordingSink,
    chunks_of,
)

NOON = dt.datetime(2026, 11, 26, 12, 5, tzinfo=dt.UTC)


def build(
    script: dict[int, str],
    sink: RecordingSink | None = None,
    *,
    follow_up_s: float = 0.0,
    speculate_s: float = 0.0,
    asr: FakeAsr | None = None,
    wake: FakeWake | None = None,
) -> tuple[Pipeline, list[ev.Event], FakeAsr]:
    events: list[ev.Event] = []
    asr = asr or FakeAsr(script)
    pipeline = Pipeline(
        Engines(wake=wake or FakeWake(), vad=FakeVad(), asr=asr, tts=FakeTts()),
        sink or RecordingSink(),
        vad=VadSettings(
            silence_s=0.4, no_speech_s=2.0, max_utterance_s=5.0, speculate_s=speculate_s
        ),
        dialog=DialogSettings(follow_up_s=follow_up_s),
        emit=events.append,
        clock=FakeClock(),
    )
    pipeline.handler = BasicHandler(pipeline, now=lambda: NOON)
    return pipeline, events, asr


def kinds(events: list[ev.Event]) -> list[str]:
    return [e.kind for e in events]


def command(tag: int, seconds: float = 1.0) -> list[Pcm]:
    return [
        *chunks_of(WAKE, 0.08),
        *chunks_of(SILENCE, 0.16),
        *chunks_of(SPEECH + tag, seconds),
        *chunks_of(SILENCE, 0.8),
    ]


async def test_wake_command_reply_in_order() -> None:
    pipeline, events, _ = build({1: "what time is it"})
    await pipeline.run(ListSource(command(1)), realtime=False)
    names = kinds(events)
    assert names[:6] == [
        "ready",
        "wake_detected",
        "turn_started",
        "speech_started",
        "speech_ended",
        "transcript",
    ]
    assert (
        names.index("reply") < names.index("audio_out_started") < names.index("audio_out_finished")
    )
    reply = next(e for e in events if isinstance(e, ev.Reply))
    assert reply.text == "It's 12 oh 5 PM."
    intent = next(e for e in events if isinstance(e, ev.IntentRecognized))
    assert intent.name == "time.query"
    assert names[-2:] == ["turn_ended", "stopped"]


async def test_each_run_starts_the_wake_word_afresh() -> None:
    """A new source is a new stream: what the wake model heard at the end of the last one
    (its context, a refractory period after a late detection) must not carry over."""
    wake = FakeWake()
    engines = Engines(wake=wake, vad=FakeVad(), asr=FakeAsr({}), tts=FakeTts())
    pipeline = Pipeline(
        engines, RecordingSink(), vad=VadSettings(), dialog=DialogSettings(), emit=[].append
    )
    for runs in (1, 2):
        await pipeline.run(ListSource(command(1)), realtime=False)
        assert wake.resets == runs


async def test_the_wake_word_hears_every_chunk_of_a_turn() -> None:
    """The wake model's context must stay whole: fed nothing while a command was recorded, its
    next score spliced the phrase onto whatever came after (hey_rhasspy then fired on the
    reply's heels, and the command was answered twice)."""
    wake = FakeWake()
    engines = Engines(wake=wake, vad=FakeVad(), asr=FakeAsr({1: "what time is it"}), tts=FakeTts())
    pipeline = Pipeline(
        engines, RecordingSink(), vad=VadSettings(), dialog=DialogSettings(), emit=[].append
    )
    pipeline.handler = BasicHandler(pipeline, now=lambda: NOON)
    audio = command(1)
    await pipeline.run(ListSource(audio), realtime=False)
    assert wake.samples == sum(len(c) for c in audio)


async def test_endpoint_after_configured_silence() -> None:
    pipeline, events, _ = build({1: "what time is it"})
    await pipeline.run(ListSource(command(1, seconds=1.0)), realtime=False)
    start = next(e for e in events if isinstance(e, ev.SpeechStarted))
    end = next(e for e in events if isinstance(e, ev.SpeechEnded))
    assert start.audio_s is not None and end.audio_s is not None
    speech_end = 0.08 + 0.16 + 1.0
    assert end.audio_s - speech_end == pytest.approx(0.4, abs=0.09)
    assert end.reason == "silence"


async def test_no_wake_word_no_turn() -> None:
    pipeline, events, asr = build({1: "what time is it"})
    audio = [*chunks_of(SPEECH + 1, 1.0), *chunks_of(SILENCE, 1.0)]
    await pipeline.run(ListSource(audio), realtime=False)
    assert kinds(events) == ["ready", "stopped"]
    assert asr.calls == []


async def test_no_speech_timeout_ends_turn() -> None:
    pipeline, events, asr = build({})
    audio = [*chunks_of(WAKE, 0.08), *chunks_of(SILENCE, 3.0)]
    await pipeline.run(ListSource(audio), realtime=False)
    assert kinds(events)[1:] == [
        "wake_detected",
        "turn_started",
        "no_speech",
        "turn_ended",
        "stopped",
    ]
    no_speech = next(e for e in events if isinstance(e, ev.NoSpeech))
    # The look-back is checked for a command once the phrase is followed by silence, then
    # the turn waits the full time for one.
    quiet = WAKE_TAIL_S + 0.4
    assert no_speech.audio_s == pytest.approx(0.08 + quiet + 2.0, abs=0.09)
    assert asr.calls == []


async def test_a_command_before_a_late_wake_detection_is_answered() -> None:
    """The wake model can fire only after a short command said in one breath has ended
    ("hey mycroft what time is it"): the command is in the look-back, not after it."""
    pipeline, events, _ = build({1: "what time is it"})
    audio = [*chunks_of(SPEECH + 1, 1.0), *chunks_of(WAKE, 0.08), *chunks_of(SILENCE, 3.0)]
    await pipeline.run(ListSource(audio), realtime=False)
    assert [e.text for e in events if isinstance(e, ev.Transcript)] == ["what time is it"]
    assert [e.name for e in events if isinstance(e, ev.IntentRecognized)] == ["time.query"]
    reply = next(e for e in events if isinstance(e, ev.Reply))
    assert reply.audio_s is not None and reply.audio_s < 1.08 + 1.0


async def test_talk_before_a_late_wake_detection_is_not_answered() -> None:
    """Talk that merely ends on the name ("... and I told Jarvis") is not a command: the
    turn waits for one after it, as after the phrase alone."""
    pipeline, events, _ = build({1: "and then I told him about it", 2: "what time is it"})
    said = [*chunks_of(SPEECH + 1, 1.0), *chunks_of(WAKE, 0.08)]
    await pipeline.run(ListSource([*said, *chunks_of(SILENCE, 5.0)]), realtime=False)
    assert "reply" not in kinds(events)
    assert kinds(events).count("turn_ended") == 1
    events.clear()
    command = [*chunks_of(SILENCE, 1.0), *chunks_of(SPEECH + 2, 1.5), *chunks_of(SILENCE, 1.0)]
    pipeline, events, _ = build({1: "and then I told him about it", 2: "what time is it"})
    await pipeline.run(ListSource([*said, *command]), realtime=False)
    assert [e.name for e in events if isinstance(e, ev.IntentRecognized)] == ["time.query"]


async def test_max_utterance_cuts_off() -> None:
    pipeline, events, _ = build({1: "blah"})
    audio = [*chunks_of(WAKE, 0.08), *chunks_of(SPEECH + 1, 8.0)]
    await pipeline.run(ListSource(audio), realtime=False)
    end = next(e for e in events if isinstance(e, ev.SpeechEnded))
    assert end.reason == "max_length"
    assert end.speech_s == pytest.approx(5.0, abs=0.1)


async def test_follow_up_window_needs_no_wake_word() -> None:
    pipeline, events, _ = build({1: "what time is it", 2: "and the date"}, follow_up_s=3.0)
    audio = [
        *command(1),
        *chunks_of(SILENCE, 0.5),
        *chunks_of(SPEECH + 2, 0.8),
        *chunks_of(SILENCE, 1.0),
    ]
    await pipeline.run(ListSource(audio), realtime=False)
    starts = [e for e in events if isinstance(e, ev.TurnStarted)]
    assert [s.trigger for s in starts] == ["wake", "follow_up"]
    transcripts = [e.text for e in events if isinstance(e, ev.Transcript)]
    assert transcripts == ["what time is it", "and the date"]


async def test_follow_up_window_closes() -> None:
    pipeline, events, _ = build({1: "what time is it", 2: "and the date"}, follow_up_s=1.0)
    audio = [
        *command(1),
        *chunks_of(SILENCE, 1.5),
        *chunks_of(SPEECH + 2, 0.8),
        *chunks_of(SILENCE, 1.0),
    ]
    await pipeline.run(ListSource(audio), realtime=False)
    assert "follow_up_closed" in kinds(events)
    assert [e.trigger for e in events if isinstance(e, ev.TurnStarted)] == ["wake"]


async def test_speculative_transcript_used_when_speech_does_not_resume() -> None:
    pipeline, events, asr = build({1: "what time is it"}, speculate_s=0.2)
    await pipeline.run(ListSource(command(1)), realtime=False)
    transcript = next(e for e in events if isinstance(e, ev.Transcript))
    assert transcript.speculative
    assert asr.calls == [1]


class StreamCountingAsr(FakeAsr):
    """Counts the audio fed to its streams, and what it was asked to transcribe whole."""

    def start(self, *, prefix: str = "") -> FakeAsrStream:
        stream = super().start(prefix=prefix)
        self.streams.append(stream)
        return stream

    @property
    def streams(self) -> list[FakeAsrStream]:
        return self.__dict__.setdefault("_streams", [])


async def test_a_guess_asks_the_stream_instead_of_sending_the_audio_again() -> None:
    asr = StreamCountingAsr({1: "what time is it"})
    pipeline, events, _ = build({}, speculate_s=0.2, asr=asr)
    audio = [
        *chunks_of(WAKE, 0.08),
        *chunks_of(SPEECH + 1, 0.5),
        *chunks_of(SILENCE, 0.3),
        *chunks_of(SPEECH + 1, 0.5),
        *chunks_of(SILENCE, 0.8),
    ]
    await pipeline.run(ListSource(audio), realtime=False)
    assert len(asr.streams) == 1
    fed = np.concatenate(asr.streams[0].audio)
    # Every sample of the turn went in once: the look-back, then each chunk as it came.
    assert len(fed) <= sum(len(c) for c in audio)
    assert np.count_nonzero(fed == SPEECH + 1) == sum(len(c) for c in audio if c[0] == SPEECH + 1)
    assert len([e for e in events if isinstance(e, ev.Transcript)]) == 1


async def test_speculation_discarded_when_speech_resumes() -> None:
    pipeline, events, asr = build({1: "what time is it"}, speculate_s=0.2)
    audio = [
        *chunks_of(WAKE, 0.08),
        *chunks_of(SPEECH + 1, 0.5),
        *chunks_of(SILENCE, 0.3),
        *chunks_of(SPEECH + 1, 0.5),
        *chunks_of(SILENCE, 0.8),
    ]
    await pipeline.run(ListSource(audio), realtime=False)
    transcripts = [e for e in events if isinstance(e, ev.Transcript)]
    assert len(transcripts) == 1
    # What was transcribed holds the speech after the pause, not only the part before it.
    assert asr.seconds[-1] >= 0.5 + 0.3 + 0.5
    ended = next(e for e in events if isinstance(e, ev.SpeechEnded))
    # Speech counts from the end of the wake phrase's tail.
    assert ended.speech_s == pytest.approx(1.3 + 0.4 - WAKE_TAIL_S, abs=0.1)


class BlockingSink(RecordingSink):
    """Plays 'forever' until stopped, like a long reply on a speaker."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped = asyncio.Event()

    async def play(self, pcm: Pcm, sample_rate: int) -> None:
        self.played.append(pcm)

    async def drain(self) -> None:
        await self.stopped.wait()

    async def stop(self) -> None:
        self.stops += 1
        self.stopped.set()


class SlowSource(ListSource):
    """A real-time source, 16x sped up (5 ms per 80 ms chunk): the engines' worker threads get
    to answer between chunks, as they would live, however busy the machine."""

    async def chunks(self):  # type: ignore[no-untyped-def]
        async for chunk in super().chunks():
            await asyncio.sleep(0.005)
            yield chunk


async def test_wake_word_barges_in_while_speaking() -> None:
    sink = BlockingSink()
    pipeline, events, _ = build({1: "what time is it", 2: "what time is it"}, sink)
    audio = [*command(1), *chunks_of(SILENCE, 0.5), *command(2)]
    await pipeline.run(SlowSource(audio), realtime=True)
    barge = [e for e in events if isinstance(e, ev.BargeIn)]
    assert [b.by for b in barge] == ["wake"]
    finished = [e for e in events if isinstance(e, ev.AudioOutFinished)]
    assert finished[0].interrupted
    assert sink.stops >= 1
    assert [e.trigger for e in events if isinstance(e, ev.TurnStarted)] == ["wake", "wake"]


async def test_stop_barges_in_while_speaking() -> None:
    sink = BlockingSink()
    pipeline, events, _ = build({1: "what time is it", 2: "stop"}, sink)
    audio = [
        *command(1),
        *chunks_of(SILENCE, 0.3),
        *chunks_of(SPEECH + 2, 0.4),
        *chunks_of(SILENCE, 1.0),
    ]
    await pipeline.run(SlowSource(audio), realtime=True)
    assert [b.by for b in events if isinstance(b, ev.BargeIn)] == ["stop"]
    assert next(e for e in events if isinstance(e, ev.AudioOutFinished)).interrupted


async def test_text_turn_skips_audio() -> None:
    pipeline, events, asr = build({})
    await pipeline.run_text("What's the time?")
    assert kinds(events)[:4] == ["turn_started", "transcript", "intent_recognized", "reply"]
    assert all(e.audio_s is None for e in events)
    assert asr.calls == []


async def test_unknown_request_is_declined_politely() -> None:
    pipeline, events, _ = build({})
    await pipeline.run_text("play some jazz")
    reply = next(e for e in events if isinstance(e, ev.Reply))
    assert "can't do that yet" in reply.text


async def test_early_endpoint_when_the_guess_is_understood() -> None:
    events: list[ev.Event] = []
    pipeline = Pipeline(
        Engines(
            wake=FakeWake(),
            vad=FakeVad(),
            asr=FakeAsr({1: "what time is it", 2: "hmm"}),
            tts=FakeTts(),
        ),
        RecordingSink(),
        vad=VadSettings(silence_s=2.0, speculate_s=0.1),
        dialog=DialogSettings(follow_up_s=0.0),
        emit=events.append,
        clock=FakeClock(),
    )
    pipeline.handler = BasicHandler(pipeline, now=lambda: NOON)
    audio = [*command(1), *chunks_of(SILENCE, 2.0), *command(2), *chunks_of(SILENCE, 2.0)]
    await pipeline.run(SlowSource(audio), realtime=True)
    ends = [e for e in events if isinstance(e, ev.SpeechEnded)]
    # "what time is it" is a clear command: no need to wait 2 s. "hmm" is not: it waits.
    assert [e.reason for e in ends] == ["understood", "silence"]


async def test_no_early_endpoint_when_the_guess_trails_off() -> None:
    """A pause inside "what time is it in ... Tokyo" must not end the command."""
    events: list[ev.Event] = []
    pipeline = Pipeline(
        Engines(wake=FakeWake(), vad=FakeVad(), asr=FakeAsr({1: "What time is it in"}),
                tts=FakeTts()),
        RecordingSink(),
        vad=VadSettings(silence_s=1.0, speculate_s=0.1),
        dialog=DialogSettings(follow_up_s=0.0),
        emit=events.append,
        clock=FakeClock(),
    )  # fmt: skip
    pipeline.handler = BasicHandler(pipeline, now=lambda: NOON)
    assert pipeline.handler.recognize("What time is it in").name == "time.query"
    await pipeline.run(SlowSource([*command(1), *chunks_of(SILENCE, 2.0)]), realtime=True)
    assert [e.reason for e in events if isinstance(e, ev.SpeechEnded)] == ["silence"]


class RehearsingHandler(BasicHandler):
    """Answers open questions with "Paris."; records whether that ran ahead or in the turn."""

    def __init__(self, io: Pipeline, events: list[ev.Event]) -> None:
        super().__init__(io, now=lambda: NOON)
        self.events = events
        self.handled: list[str] = []
        self.rehearsed: list[int] = []  # how many events had been emitted when each began
        self.cancelled = 0

    async def handle(self, intent: Intent) -> None:
        self.handled.append(intent.name)
        if intent.name == "answer":
            await self._io.say("Paris.")
            await self._io.display("Paris")
            return
        await super().handle(intent)

    async def rehearse(self, intent: Intent, out: Callable[[str, str], Awaitable[None]]) -> bool:
        self.rehearsed.append(len(self.events))
        await out("say", "Paris.")
        try:
            await asyncio.sleep(0.05)  # the model is still thinking about a second sentence
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        await out("display", "Paris")
        return True


def rehearsing_pipeline(
    script: dict[int, str],
) -> tuple[Pipeline, list[ev.Event], RehearsingHandler]:
    events: list[ev.Event] = []
    pipeline = Pipeline(
        Engines(wake=FakeWake(), vad=FakeVad(), asr=FakeAsr(script), tts=FakeTts()),
        RecordingSink(),
        vad=VadSettings(silence_s=1.0, speculate_s=0.03),
        dialog=DialogSettings(follow_up_s=0.0),
        emit=events.append,
        clock=FakeClock(),
    )
    handler = RehearsingHandler(pipeline, events)
    pipeline.handler = handler
    return pipeline, events, handler


async def test_an_open_question_is_answered_during_the_final_silence() -> None:
    pipeline, events, handler = rehearsing_pipeline({1: "what is the capital of france"})
    await pipeline.run(SlowSource([*command(1), *chunks_of(SILENCE, 2.0)]), realtime=True)
    ended = next(i for i, e in enumerate(events) if isinstance(e, ev.SpeechEnded))
    # It began with fewer events out than those before SpeechEnded: ahead of the endpoint.
    assert len(handler.rehearsed) == 1 and handler.rehearsed[0] <= ended
    assert handler.handled == []  # the turn spoke what the rehearsal prepared
    assert [e.text for e in events if isinstance(e, ev.Reply)] == ["Paris."]
    assert [e.text for e in events if isinstance(e, ev.Displayed)] == ["Paris"]
    assert next(e for e in events if isinstance(e, ev.IntentRecognized)).name == "answer"
    assert ended < next(i for i, e in enumerate(events) if isinstance(e, ev.Reply))


class RefusingHandler(RehearsingHandler):
    """A handler whose skill for the intent may not run early (none is loaded for it)."""

    async def rehearse(self, intent: Intent, out: Callable[[str, str], Awaitable[None]]) -> bool:
        self.rehearsed.append(len(self.events))
        return False


async def test_a_refused_rehearsal_leaves_the_turn_to_the_handler() -> None:
    pipeline, events, _ = rehearsing_pipeline({1: "what is the capital of france"})
    handler = RefusingHandler(pipeline, events)
    pipeline.handler = handler
    await pipeline.run(SlowSource([*command(1), *chunks_of(SILENCE, 2.0)]), realtime=True)
    assert len(handler.rehearsed) == 1
    assert handler.handled == ["answer"]  # answered in the turn, not silently dropped
    assert [e.text for e in events if isinstance(e, ev.Reply)] == ["Paris."]


async def test_a_rehearsal_is_dropped_when_speech_resumes() -> None:
    pipeline, events, handler = rehearsing_pipeline({1: "what is the capital of france"})
    audio = [
        *chunks_of(WAKE, 0.08),
        *chunks_of(SPEECH + 1, 0.64),
        *chunks_of(SILENCE, 0.32),  # a pause: the guess is rehearsed
        *chunks_of(SPEECH + 1, 0.48),  # and the question goes on
        *chunks_of(SILENCE, 2.0),
    ]
    await pipeline.run(SlowSource(audio), realtime=True)
    assert len(handler.rehearsed) == 2  # on the pause, then on the end
    assert handler.cancelled == 1  # the first was stopped when the question went on
    assert [e.text for e in events if isinstance(e, ev.Reply)] == ["Paris."]  # said once
    assert handler.handled == []


async def test_answer_early_can_be_turned_off() -> None:
    pipeline, _, handler = rehearsing_pipeline({1: "what is the capital of france"})
    pipeline._dialog = DialogSettings(follow_up_s=0.0, answer_early=False)
    await pipeline.run(SlowSource([*command(1), *chunks_of(SILENCE, 2.0)]), realtime=True)
    assert handler.rehearsed == [] and handler.handled == ["answer"]


def test_stop_phrases() -> None:
    assert is_stop_phrase("Stop.")
    assert is_stop_phrase("okay stop")
    assert not is_stop_phrase("what time does the bus stop run tonight")
    assert not is_stop_phrase("")


def test_silence_tag_values() -> None:
    assert np.full(4, SILENCE).sum() == 0


class TapSource(SlowSource):
    """Taps (push to talk) at given chunk indexes, as the glasses would."""

    def __init__(self, pcm: list[Pcm], pipeline: Pipeline, taps: dict[int, str]) -> None:
        super().__init__(pcm)
        self.pipeline = pipeline
        self.taps = taps

    async def chunks(self):  # type: ignore[no-untyped-def]
        i = 0
        async for chunk in super().chunks():
            action = self.taps.get(i)
            if action == "tap":
                await self.pipeline.open_turn("tap")
            elif action == "long_press":
                await self.pipeline.barge_in("tap")
            i += 1
            yield chunk


async def test_tap_opens_a_turn_without_the_wake_word() -> None:
    pipeline, events, _ = build({1: "what time is it"})
    audio = [*chunks_of(SILENCE, 0.16), *chunks_of(SPEECH + 1, 1.0), *chunks_of(SILENCE, 1.0)]
    await pipeline.run(TapSource(audio, pipeline, {0: "tap"}), realtime=True)
    assert [e.trigger for e in events if isinstance(e, ev.TurnStarted)] == ["tap"]
    assert not any(isinstance(e, ev.WakeDetected) for e in events)
    assert next(e for e in events if isinstance(e, ev.IntentRecognized)).name == "time.query"


async def test_a_tap_keeps_the_speech_that_overtook_it_on_the_link() -> None:
    pipeline, events, asr = build({1: "what time is it"})
    audio = [*chunks_of(SILENCE, 0.4), *chunks_of(SPEECH + 1, 1.0), *chunks_of(SILENCE, 1.0)]
    # The tap lands two chunks into the speech: those 0.16 s are kept, the silence before not.
    await pipeline.run(TapSource(audio, pipeline, {7: "tap"}), realtime=True)
    assert next(e for e in events if isinstance(e, ev.IntentRecognized)).name == "time.query"
    (heard,) = asr.heard
    assert np.count_nonzero(heard == SPEECH + 1) == 12 * 1280  # every speech chunk
    assert heard[0] == SPEECH + 1  # and none of the silence before the tap


async def test_a_tap_while_answering_keeps_none_of_the_reply() -> None:
    sink = BlockingSink()
    pipeline, events, asr = build({1: "what time is it", 2: "what time is it"}, sink)
    before_tap = chunks_of(SPEECH + 3, 0.08)  # what the mic hears while the reply plays
    audio = [*command(1), *before_tap, *chunks_of(SPEECH + 2, 1.0), *chunks_of(SILENCE, 1.0)]
    await pipeline.run(TapSource(audio, pipeline, {len(command(1)) + 1: "tap"}), realtime=True)
    assert [b.by for b in events if isinstance(b, ev.BargeIn)] == ["tap"]
    second_turn = asr.heard[1]  # (later calls: listening for "stop" while it answers)
    assert not np.any(second_turn == SPEECH + 3)


async def test_double_tap_says_the_last_reply_again() -> None:
    sink = RecordingSink()
    pipeline, events, _ = build({1: "what time is it"}, sink)
    await pipeline.repeat_last()  # nothing said yet: nothing to repeat
    assert not any(isinstance(e, ev.TurnStarted) for e in events)
    await pipeline.run(ListSource(command(1)), realtime=False)
    replies = [e.text for e in events if isinstance(e, ev.Reply)]
    played = len(sink.played)
    await pipeline.repeat_last()
    assert pipeline._turn_task is not None
    await pipeline._turn_task
    assert [e.text for e in events if isinstance(e, ev.Reply)] == replies * 2
    assert len(sink.played) == 2 * played
    assert [e.trigger for e in events if isinstance(e, ev.TurnStarted)] == ["wake", "double_tap"]
    await pipeline.repeat_last()  # the repeat is not itself what gets repeated next
    await pipeline._turn_task
    assert [e.text for e in events if isinstance(e, ev.Reply)] == replies * 3


async def test_long_press_stops_the_reply() -> None:
    sink = BlockingSink()
    pipeline, events, _ = build({1: "what time is it"}, sink)
    audio = [*command(1), *chunks_of(SILENCE, 1.0)]
    await pipeline.run(TapSource(audio, pipeline, {len(audio) - 5: "long_press"}), realtime=True)
    assert [b.by for b in events if isinstance(b, ev.BargeIn)] == ["tap"]
    assert next(e for e in events if isinstance(e, ev.AudioOutFinished)).interrupted


async def test_text_turn_takes_typed_answers_to_questions() -> None:
    class Asking:
        def __init__(self, io: Pipeline) -> None:
            self.io = io
            self.heard: str | None = None

        def recognize(self, text: str) -> Intent:
            return Intent("reminder.create", {"text": text})

        async def handle(self, intent: Intent) -> None:
            self.heard = await self.io.ask("When?")

    pipeline, events, _ = build({})
    handler = Asking(pipeline)
    pipeline.handler = handler

    async def typed(question: str) -> str | None:
        assert question == "When?"
        return "in ten minutes"

    pipeline.typed_answers = typed
    await pipeline.run_text("remind me to call mom")
    assert handler.heard == "in ten minutes"
    assert [e.text for e in events if isinstance(e, ev.Transcript)][-1] == "in ten minutes"


class PhraseAsr(FakeAsr):
    """Writes the wake phrase it was told opens the audio, as Whisper does when forced."""

    def transcribe(self, audio: Pcm, *, prefix: str = "") -> str:
        self.prefixes.append(prefix)
        text = super().transcribe(audio, prefix=prefix)
        return f"{prefix} {text}" if prefix and text else text

    @property
    def prefixes(self) -> list[str]:
        return self.__dict__.setdefault("_prefixes", [])


async def test_a_command_said_in_one_breath_keeps_its_first_word() -> None:
    """The detection comes after the command has begun: the turn records from before the
    phrase, and the phrase is taken out of the transcript."""
    asr = PhraseAsr({1: "what time is it"})
    pipeline, events, _ = build({}, asr=asr)
    early = chunks_of(SPEECH + 9, 2.0)  # said long before: outside the look-back
    phrase = chunks_of(SPEECH + 1, 0.4)  # the phrase and the command's first word
    rest = chunks_of(SPEECH + 1, 1.0)
    audio = [*early, *phrase, *chunks_of(WAKE, 0.08), *rest]
    await pipeline.run(ListSource([*audio, *chunks_of(SILENCE, 1.0)]), realtime=False)
    heard = asr.heard[-1]
    assert np.count_nonzero(heard == SPEECH + 1) == sum(len(c) for c in [*phrase, *rest])
    assert np.count_nonzero(heard == SPEECH + 9) < 1.6 * 16_000
    assert asr.prefixes[-1] == "Hey Fake,"
    transcript = next(e for e in events if isinstance(e, ev.Transcript))
    assert transcript.text == "What time is it"
    intent = next(e for e in events if isinstance(e, ev.IntentRecognized))
    assert intent.name == "time.query"


async def test_a_follow_up_turn_keeps_only_the_short_pre_roll() -> None:
    pipeline, _, asr = build({1: "what time is it", 2: "what time is it"}, follow_up_s=3.0)
    await pipeline.run(
        ListSource([*command(1), *chunks_of(SPEECH + 2, 1.0), *chunks_of(SILENCE, 1.0)]),
        realtime=False,
    )
    follow_up = asr.heard[-1]
    assert len(follow_up) <= (1.0 + 0.25 + 0.8) * 16_000  # the utterance, pre-roll, silence


def talk(tag: int, seconds: float = 0.8) -> list[Pcm]:
    return [*chunks_of(SPEECH + tag, seconds), *chunks_of(SILENCE, 0.6)]


async def test_talk_nearby_in_the_follow_up_window_is_not_answered() -> None:
    """One wake word, then people talking: no more turns answered, the window not reopened."""
    script = {1: "what time is it", 2: "yeah I told him the same thing", 3: "and then we left"}
    pipeline, events, _ = build(script, follow_up_s=2.0)
    await pipeline.run(
        ListSource([*command(1), *talk(2), *talk(3), *chunks_of(SILENCE, 3.0)]), realtime=False
    )
    assert [e.text for e in events if isinstance(e, ev.NotAddressed)] == [script[2]]
    assert len([e for e in events if isinstance(e, ev.IntentRecognized)]) == 1
    assert len([e for e in events if isinstance(e, ev.FollowUpOpened)]) == 1


async def test_a_question_in_the_follow_up_window_is_answered() -> None:
    script = {1: "what time is it", 2: "and how far is the moon?"}
    pipeline, events, _ = build(script, follow_up_s=2.0)
    await pipeline.run(
        ListSource([*command(1), *talk(2), *chunks_of(SILENCE, 3.0)]), realtime=False
    )
    intents = [e.name for e in events if isinstance(e, ev.IntentRecognized)]
    assert intents == ["time.query", "answer"]
    assert not any(isinstance(e, ev.NotAddressed) for e in events)


async def test_no_follow_up_window_after_an_empty_transcript() -> None:
    pipeline, events, _ = build({1: ""}, follow_up_s=2.0)  # speech the recognizer made nothing of
    await pipeline.run(ListSource([*command(1), *chunks_of(SILENCE, 3.0)]), realtime=False)
    assert "no_speech" in kinds(events)
    assert not any(isinstance(e, ev.FollowUpOpened) for e in events)


async def test_no_follow_up_window_after_a_cut_off_monologue() -> None:
    pipeline, events, _ = build({1: "what time is it"}, follow_up_s=2.0)
    long = [*chunks_of(WAKE, 0.08), *chunks_of(SPEECH + 1, 6.0), *chunks_of(SILENCE, 3.0)]
    await pipeline.run(ListSource(long), realtime=False)
    assert next(e for e in events if isinstance(e, ev.SpeechEnded)).reason == "max_length"
    assert not any(isinstance(e, ev.FollowUpOpened) for e in events)


async def test_a_pause_after_the_phrase_waits_for_the_command() -> None:
    """The detection fired before the phrase ended: its tail is not the command."""
    asr = PhraseAsr({5: "", 1: "what time is it"})  # 5: the tail of the phrase
    pipeline, events, _ = build({}, asr=asr)
    audio = [
        *chunks_of(WAKE, 0.08),
        *chunks_of(SPEECH + 5, 0.48),
        *chunks_of(SILENCE, 0.64),
        *chunks_of(SPEECH + 1, 1.0),
        *chunks_of(SILENCE, 1.0),
    ]
    await pipeline.run(ListSource(audio), realtime=False)
    assert [e.trigger for e in events if isinstance(e, ev.TurnStarted)] == ["wake"]
    assert not any(isinstance(e, ev.NoSpeech) for e in events)
    assert [e.name for e in events if isinstance(e, ev.IntentRecognized)] == ["time.query"]
    assert kinds(events).count("turn_ended") == 1


async def test_only_the_phrase_and_then_nothing_ends_the_turn() -> None:
    asr = PhraseAsr({5: ""})
    pipeline, events, _ = build({}, asr=asr)
    audio = [*chunks_of(WAKE, 0.08), *chunks_of(SPEECH + 5, 0.48), *chunks_of(SILENCE, 3.0)]
    await pipeline.run(ListSource(audio), realtime=False)
    assert "no_speech" in kinds(events)
    assert kinds(events).count("turn_ended") == 1
    assert not any(isinstance(e, ev.IntentRecognized) for e in events)


DOUBT = WAKE - 1  # a chunk the fake wake word is unsure of


class DoubtfulWake(FakeWake):
    def process(self, chunk: Pcm) -> Detection | None:
        if len(chunk) and int(chunk[0]) == DOUBT:
            return Detection(name="hey fake", score=0.3, doubtful=True)
        return super().process(chunk)


def doubtful_run(phrase_tag: int, script: dict[int, str]) -> tuple[list[ev.Event], PhraseAsr]:
    asr = PhraseAsr(script)
    pipeline, events, _ = build({}, asr=asr, wake=DoubtfulWake())
    audio = [
        *chunks_of(phrase_tag, 0.8),
        *chunks_of(DOUBT, 0.08),
        *chunks_of(SPEECH + 1, 0.8),
        *chunks_of(SILENCE, 1.0),
    ]
    asyncio.run(pipeline.run(ListSource(audio), realtime=False))
    return events, asr


def test_a_doubtful_wake_word_opens_the_turn_when_the_name_was_said() -> None:
    events, asr = doubtful_run(SPEECH + 7, {7: "hey fake what", 1: "what time is it"})
    assert [e.name for e in events if isinstance(e, ev.WakeDetected)] == ["hey fake"]
    assert asr.prefixes[0] == ""  # the check is not told what to hear
    assert [e.name for e in events if isinstance(e, ev.IntentRecognized)] == ["time.query"]


def test_a_doubtful_wake_word_is_dropped_when_the_name_was_not_said() -> None:
    events, _ = doubtful_run(SPEECH + 8, {8: "the train was late", 1: "what time is it"})
    assert not any(isinstance(e, ev.WakeDetected | ev.TurnStarted) for e in events)


def test_events_are_built_typed_and_stamped_by_the_pipeline() -> None:
    """`emit` takes an event built with its own fields (mypy checks them), then stamps the
    time, the audio time and the turn."""
    pipeline, events, _ = build({})
    pipeline.emit(ev.Displayed(text="Paris"))
    (shown,) = events
    assert isinstance(shown, ev.Displayed) and shown.text == "Paris"
    assert shown.t >= 0.0 and shown.audio_s == 0.0 and shown.turn == 0
