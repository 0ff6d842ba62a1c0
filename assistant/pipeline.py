"""The turn pipeline: wake -> pre-roll -> VAD endpoint -> ASR -> intent -> handler -> TTS -> sink.

Time inside the pipeline is audio time: silences, timeouts and the follow-up window are measured
in seconds of input consumed, so a test feeding fake audio never sleeps, and a WAV file fed fast
behaves exactly like the same audio from a microphone. The injected `Clock` only stamps events.

A file fed as fast as possible (`realtime=False`) is processed deterministically: each turn is
finished before more audio is read, as if the assistant answered instantly. Real-time sources keep
flowing while a turn runs, which is what makes barge-in possible.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any, Protocol

import numpy as np

from assistant import events as ev
from assistant.audio import AudioChunk, AudioSink, AudioSource
from assistant.config import DialogSettings, VadSettings
from assistant.memory import release_free_memory
from models.protocols import (
    SAMPLE_RATE,
    Detection,
    Pcm,
    Recognizer,
    Synthesizer,
    VoiceActivityDetector,
    WakeWordDetector,
)
from models.wake_phrase import says_wake_phrase, spoken_phrase, strip_wake_phrase, wake_prefix
from skills.intents import looks_complete
from skills.sdk import Intent

_LOGGER = logging.getLogger(__name__)

STOP_WORDS = frozenset({"stop", "cancel", "quiet", "enough", "shut up", "never mind", "nevermind"})
EARLY_ENDPOINT_CONFIDENCE = 0.9
# Skills without side effects whose work is worth starting before the endpoint.
REHEARSED_INTENTS = frozenset({"answer"})
TAP_PRE_ROLL_S = 0.16  # audio kept from before a tap: more than a tap's trip over BLE
# Audio kept from before a wake detection, so a command said in one breath after the phrase
# keeps its first word; the phrase is then taken out of the transcript. The bundled phrases
# last 0.5-0.9 s and fire 0.08-0.24 s after they end (bench pipeline); 1.6 s holds both.
WAKE_LOOKBACK_S = 1.6
# The detection can come before the phrase has quite ended; speech this soon after it is the
# phrase's tail, not the start of the command (else a pause after "hey jarvis" ends the turn
# on the phrase alone).
WAKE_TAIL_S = 0.3
# Why a wake turn ended with no speech after the phrase: the detection can come at the end of a
# short command said in one breath ("hey mycroft what time is it" fired 0.55 after it ended),
# so the command may already be in the look-back.
AFTER_PHRASE = "quiet_after_phrase"
_WORD_RE = re.compile(r"[a-z']+")


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


@dataclass(slots=True)
class _Rehearsal:
    """A skill answering a speculative transcript while the endpoint is still being waited for."""

    text: str
    intent: Intent
    # ("say" | "display", text, its speech synthesized ahead of time for "say")
    queue: asyncio.Queue[tuple[str, str, asyncio.Future[list[Pcm]] | None] | None]
    task: asyncio.Task[None]

    def cancel(self) -> None:
        self.task.cancel()


@dataclass(frozen=True, slots=True)
class Engines:
    wake: WakeWordDetector
    vad: VoiceActivityDetector
    asr: Recognizer
    tts: Synthesizer


class _Mode(Enum):
    WAKE = auto()  # waiting for the wake word (or speech inside a follow-up window)
    CAPTURE = auto()  # recording an utterance until the endpoint
    BUSY = auto()  # a turn is being answered; wake word and "stop" can barge in


@dataclass(slots=True)
class _Capture:
    """One utterance being recorded."""

    opened_at: float  # audio time the capture opened
    audio: list[Pcm]
    purpose: str  # "turn" or "answer" (to an ask())
    wake_phrase: str | None = None  # said at the start of the audio: not part of the command
    follow_up: bool = False  # opened by speech in a follow-up window, not by wake word or tap
    end_reason: str | None = None  # why the utterance ended ("silence", "max_length", ...)
    ended_at: float = 0.0  # audio time the utterance ended
    resumed: bool = False  # heard only the wake phrase, then listened on for the command
    speech_start: float | None = None
    last_speech: float | None = None
    speculation: asyncio.Task[str] | None = None
    speculation_samples: int = 0
    rehearsal: _Rehearsal | None = None

    @property
    def samples(self) -> int:
        return sum(len(a) for a in self.audio)

    def pcm(self) -> Pcm:
        return np.concatenate(self.audio) if self.audio else np.zeros(0, dtype=np.int16)


class Pipeline:
    def __init__(
        self,
        engines: Engines,
        sink: AudioSink,
        *,
        vad: VadSettings,
        dialog: DialogSettings,
        emit: Callable[[ev.Event], None],
        clock: Clock | None = None,
    ) -> None:
        self._engines = engines
        self._sink = sink
        self._vad = vad
        self._dialog = dialog
        self._emit_cb = emit
        self._clock = clock or SystemClock()
        self._t0 = self._clock.monotonic()
        self.handler: TurnHandler | None = None
        # Text turns (`run --text`): where answers to ask() come from; None = no answer.
        self.typed_answers: Callable[[str], Awaitable[str | None]] | None = None
        # Single-worker executors: inference never runs on the loop, and each engine sees one
        # caller at a time.
        self._listen_pool = ThreadPoolExecutor(1, thread_name_prefix="listen")
        self._asr_pool = ThreadPoolExecutor(1, thread_name_prefix="asr")
        self._tts_pool = ThreadPoolExecutor(1, thread_name_prefix="tts")
        self._mode = _Mode.WAKE
        self._pos = 0.0  # audio time: seconds of input consumed
        self._turn = 0
        self._turns_done = 0
        self._pre_roll: collections.deque[Pcm] = collections.deque()
        self._vad_rest = np.zeros(0, dtype=np.int16)
        self._capture: _Capture | None = None
        self._answer: asyncio.Future[Pcm | None] | None = None
        self._turn_task: asyncio.Task[None] | None = None
        self._follow_up_until: float | None = None
        self._stop_listen: _Capture | None = None  # "stop" detection while speaking
        self._stop_checks: set[asyncio.Task[None]] = set()
        self._realtime = True
        self._text_mode = False
        self._speaking = asyncio.Lock()
        self._last_reply: list[str] = []
        self._last_reply_turn = -1
        self._needs_audio = asyncio.Event()  # a turn waits for an answer (non-real-time input)

    # ---- public ---------------------------------------------------------------------------

    @property
    def turns(self) -> int:
        """Turns answered so far."""
        return self._turns_done

    @property
    def clock_origin(self) -> float:
        """The clock reading that event times count from."""
        return self._t0

    def now(self) -> float:
        return self._clock.monotonic() - self._t0

    def emit(self, event_type: type[ev.Event], **fields: Any) -> None:
        audio_s = None if self._text_mode else self._pos
        self._emit_cb(event_type(t=self.now(), audio_s=audio_s, turn=self._turn, **fields))

    async def run(self, source: AudioSource, *, realtime: bool, startup_s: float = 0.0) -> None:
        """Listen to `source` until it ends, answering every turn in it."""
        self._realtime = realtime
        # A new stream: nothing the wake model heard before (a refractory period) carries over.
        self._listen_pool.submit(self._engines.wake.reset)
        self.emit(ev.Ready, source=source.name, startup_s=startup_s)
        try:
            async for chunk in source.chunks():
                await self._feed(chunk)
                if not realtime and self._turn_task is not None:
                    await self._wait_turn_or_ask()
            await self._finish_input()
        finally:
            await source.close()
        self.emit(ev.Stopped, reason="end of input")

    async def run_text(self, text: str) -> None:
        """One turn from typed text: no audio in, straight to the intent."""
        self._text_mode = True
        self._turn += 1
        self.emit(ev.TurnStarted, trigger="text")
        self.emit(ev.Transcript, text=text, engine="text")
        await self._answer_turn(text)
        self.emit(ev.Stopped, reason="done")

    async def open_turn(self, trigger: str = "tap") -> None:
        """Start a turn without the wake word (a tap on the glasses: push to talk).

        While the assistant answers, this barges in first; while it already records, it does
        nothing.
        """
        if self._mode is _Mode.CAPTURE:
            return
        # The tap travels over the link while the speech after it already streams: keep a
        # little of what came just before. Not while answering: that would be our own voice.
        pre_roll = self._mode is not _Mode.BUSY
        if self._mode is _Mode.BUSY:
            await self._barge_in(trigger)
        self._close_follow_up(emit=False)
        self._turn += 1
        self.emit(ev.TurnStarted, trigger=trigger)
        kept = min(TAP_PRE_ROLL_S, self._vad.pre_roll_s) if pre_roll else 0.0
        self._open_capture("turn", pre_roll_s=kept)

    async def repeat_last(self, trigger: str = "double_tap") -> None:
        """Say the last reply again (a double tap on the glasses). Only while idle: while
        the assistant talks or listens, it does nothing."""
        if self._mode is not _Mode.WAKE or not self._last_reply:
            return
        self._close_follow_up(emit=False)
        self._turn += 1
        self.emit(ev.TurnStarted, trigger=trigger)
        self._mode = _Mode.BUSY
        self._turn_task = asyncio.create_task(self._repeat(list(self._last_reply)))

    async def _repeat(self, texts: list[str]) -> None:
        try:
            for text in texts:
                await self.say(text, remember=False)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a failing voice ends the repeat, not the assistant
            _LOGGER.exception("repeating the last reply failed")
            self.emit(ev.Error, code=getattr(err, "code", "turn_failed"), message=str(err))
        finally:
            if self._mode is _Mode.BUSY:
                self._mode = _Mode.WAKE
            self.emit(ev.TurnEnded)
        self._open_follow_up()

    async def barge_in(self, by: str) -> None:
        """Stop whatever the assistant is saying (a long press), then wait for the wake word."""
        if self._mode is not _Mode.BUSY:
            return
        await self._barge_in(by)
        self._mode = _Mode.WAKE

    async def aclose(self) -> None:
        for task in list(self._stop_checks):
            task.cancel()
        if self._capture is not None and self._capture.rehearsal is not None:
            self._capture.rehearsal.cancel()
        if self._turn_task is not None:
            self._turn_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._turn_task
        await self._sink.close()
        for pool in (self._listen_pool, self._asr_pool, self._tts_pool):
            pool.shutdown(wait=False, cancel_futures=True)

    # ---- TurnIO: what handlers call -----------------------------------------------------

    async def say(
        self,
        text: str,
        *,
        remember: bool = True,
        speech: Awaitable[list[Pcm]] | None = None,
    ) -> None:
        """Speak `text`, sentence by sentence, as soon as each sentence is synthesized
        (`speech`: already being synthesized)."""
        if remember:  # what `repeat_last` says again: everything said in the latest turn
            if self._last_reply_turn != self._turn:
                self._last_reply, self._last_reply_turn = [], self._turn
            self._last_reply.append(text)
        async with self._speaking:  # one voice at a time (a reminder may fall due mid-turn)
            await self._say(text, speech)

    async def _say(self, text: str, speech: Awaitable[list[Pcm]] | None = None) -> None:
        self.emit(ev.Reply, text=text)
        loop = asyncio.get_running_loop()
        tts = self._engines.tts
        ready: list[Pcm] | None = await speech if speech is not None else None
        sentences: Iterator[Pcm] = iter(
            ready
            if ready is not None
            else await loop.run_in_executor(self._tts_pool, tts.synthesize, text)
        )
        seconds = 0.0
        started = False
        interrupted = True
        try:
            while True:
                if ready is not None:  # synthesized already: no queueing behind the TTS worker
                    pcm = next(sentences, None)
                else:
                    pcm = await loop.run_in_executor(self._tts_pool, next, sentences, None)
                if pcm is None:
                    break
                if not started:
                    started = True
                    self.emit(ev.AudioOutStarted, sample_rate=tts.sample_rate)
                await self._sink.play(pcm, tts.sample_rate)
                seconds += len(pcm) / tts.sample_rate
            await self._sink.drain()
            interrupted = False
        finally:
            if started:
                self.emit(ev.AudioOutFinished, seconds=seconds, interrupted=interrupted)

    async def display(self, text: str) -> None:
        self.emit(ev.Displayed, text=text)

    async def ask(self, question: str) -> str | None:
        """Say `question`, then take the next utterance as its answer (None if none came)."""
        await self.say(question)
        if self._text_mode:
            if self.typed_answers is None:
                return None
            answer = await self.typed_answers(question)
            if answer:
                self.emit(ev.Transcript, text=answer, engine="text")
            return answer or None
        loop = asyncio.get_running_loop()
        self._answer = loop.create_future()
        self._open_capture("answer", pre_roll_s=self._vad.pre_roll_s)
        self._needs_audio.set()
        try:
            pcm = await self._answer
        finally:
            self._answer = None
            self._needs_audio.clear()
        if pcm is None:
            return None
        text = await self._transcribe(pcm)
        self.emit(ev.Transcript, text=text, engine=self._engines.asr.name)
        return text or None

    # ---- the audio state machine --------------------------------------------------------

    async def _feed(self, chunk: AudioChunk) -> None:
        pcm = chunk.pcm
        self._pos = chunk.end_s
        self._remember(pcm)
        loop = asyncio.get_running_loop()
        need_vad = (
            self._mode is _Mode.CAPTURE
            or (self._mode is _Mode.WAKE and self._follow_up_until is not None)
            or (self._mode is _Mode.BUSY and self._dialog.barge_in)
        )
        detection, speech = await loop.run_in_executor(
            self._listen_pool, self._detect, pcm, need_vad
        )
        if self._mode is _Mode.WAKE:
            await self._on_wake_mode(pcm, detection, speech)
        elif self._mode is _Mode.CAPTURE:
            self._on_capture(pcm, speech)
        else:
            await self._on_busy(pcm, detection, speech)

    def _detect(self, pcm: Pcm, need_vad: bool) -> tuple[Any, list[bool]]:
        """Runs on the listen worker: wake word and VAD for one chunk.

        The wake model hears every chunk, whatever the mode, so its context stays whole: fed
        nothing while a command was recorded, it spliced the phrase onto what came after and
        fired again on the reply's heels (a command answered twice).
        """
        detection = self._engines.wake.process(pcm)
        speech: list[bool] = []
        if need_vad:
            vad = self._engines.vad
            frame = vad.frame_samples
            buf = np.concatenate([self._vad_rest, pcm]) if len(self._vad_rest) else pcm
            whole = len(buf) - len(buf) % frame
            for i in range(0, whole, frame):
                speech.append(vad.probability(buf[i : i + frame]) >= self._vad.threshold)
            self._vad_rest = buf[whole:]
        else:
            self._vad_rest = np.zeros(0, dtype=np.int16)
        return detection, speech

    async def _on_wake_mode(self, pcm: Pcm, detection: Any, speech: list[bool]) -> None:
        if detection is not None and detection.doubtful and not await self._confirm(detection):
            detection = None
        if detection is not None:
            self._close_follow_up(emit=True)
            self._turn += 1
            self.emit(ev.WakeDetected, name=detection.name, score=detection.score)
            self.emit(ev.TurnStarted, trigger="wake")
            self._open_wake_capture(detection)
            return
        if self._follow_up_until is None:
            return
        if any(speech):
            self._close_follow_up(emit=False)
            self._turn += 1
            self.emit(ev.TurnStarted, trigger="follow_up")
            self._open_capture("turn", pre_roll_s=self._vad.pre_roll_s, follow_up=True)
            self._on_capture(np.zeros(0, dtype=np.int16), speech)
        elif self._pos >= self._follow_up_until:
            self._close_follow_up(emit=True)

    async def _confirm(self, detection: Detection) -> bool:
        """Is the name in what was just said? Asked of the recognizer when the wake model
        was unsure; the audio waits in the source's queue meanwhile (~0.1-0.2 s)."""
        text = await self._transcribe(np.concatenate(self._recent(WAKE_LOOKBACK_S)))
        said = says_wake_phrase(text, _phrase(detection))
        _LOGGER.debug("doubtful wake word (%.2f): heard %r, %s", detection.score, text, said)
        return said

    def _open_wake_capture(self, detection: Detection) -> None:
        """Record from before the wake phrase: the command may already have begun."""
        self._open_capture("turn", pre_roll_s=WAKE_LOOKBACK_S, wake_phrase=_phrase(detection))

    def _open_capture(
        self,
        purpose: str,
        *,
        pre_roll_s: float,
        wake_phrase: str | None = None,
        follow_up: bool = False,
    ) -> None:
        """Start recording an utterance, with the last `pre_roll_s` of audio before now.

        Turns opened by speech (follow-up, answers) keep the VAD's pre-roll, since the VAD
        notices speech a little after it starts; taps keep less (what overtook the tap on the
        link); wake turns keep the phrase and take it out of the transcript.
        """
        audio = self._recent(pre_roll_s)
        self._capture = _Capture(
            opened_at=self._pos,
            audio=audio,
            purpose=purpose,
            wake_phrase=wake_phrase,
            follow_up=follow_up,
        )
        self._vad_rest = np.zeros(0, dtype=np.int16)
        self._engines_vad_reset()
        self._mode = _Mode.CAPTURE

    def _engines_vad_reset(self) -> None:
        self._listen_pool.submit(self._engines.vad.reset)

    def _on_capture(self, pcm: Pcm, speech: list[bool]) -> None:
        cap = self._capture
        if cap is None:
            return
        if len(pcm):
            cap.audio.append(pcm)
        frame_s = self._engines.vad.frame_samples / SAMPLE_RATE
        # Frame times are approximate: the last frame ends at the current position.
        for i, is_speech in enumerate(speech):
            t = self._pos - (len(speech) - 1 - i) * frame_s
            if is_speech:
                if cap.speech_start is None and cap.wake_phrase and t - cap.opened_at < WAKE_TAIL_S:
                    continue
                if cap.speech_start is None:
                    cap.speech_start = t - frame_s
                    self.emit(ev.SpeechStarted)
                cap.last_speech = t
                if cap.speculation is not None:  # speech resumed: the guess is stale
                    cap.speculation.cancel()
                    cap.speculation = None
                if cap.rehearsal is not None:
                    cap.rehearsal.cancel()
                    cap.rehearsal = None
        if cap.speech_start is None:
            waited = self._pos - cap.opened_at
            if cap.wake_phrase and not cap.resumed and waited >= WAKE_TAIL_S + self._vad.silence_s:
                # The turn listens on when the look-back held only the phrase.
                self._end_capture(AFTER_PHRASE)
            elif waited >= self._vad.no_speech_s:
                self._end_capture(None)
            return
        assert cap.last_speech is not None
        silence = self._pos - cap.last_speech
        spoken = self._pos - cap.speech_start
        if silence >= self._vad.silence_s:
            self._end_capture("silence")
        elif spoken >= self._vad.max_utterance_s:
            self._end_capture("max_length")
        elif (
            self._vad.speculate_s > 0
            and silence >= self._vad.speculate_s
            and cap.speculation is None
            and cap.purpose == "turn"
        ):
            cap.speculation_samples = cap.samples
            cap.speculation = asyncio.ensure_future(self._transcribe_capture(cap))
            if self._vad.early_endpoint and self._realtime:
                cap.speculation.add_done_callback(lambda task: self._early_endpoint(cap, task))

    def _early_endpoint(self, cap: _Capture, task: asyncio.Task[str]) -> None:
        """End the utterance before the full silence when the guess is a clear command.

        A speculative transcript that a skill confidently understands (not the language-model
        fallback) and that does not trail off ("set a timer for", "remind me to") is very
        likely the whole command; waiting out the rest of the silence would only add latency.
        Anything less certain waits for the normal endpoint.
        """
        if self._capture is not cap or cap.speculation is not task or task.cancelled():
            return
        if task.exception() is not None or self.handler is None:
            return
        text = task.result()
        if not text.strip():
            return
        intent = self.handler.recognize(text)
        if (
            intent.name != "answer"
            and intent.confidence >= EARLY_ENDPOINT_CONFIDENCE
            and looks_complete(text, intent)
        ):
            self._end_capture("understood")
        elif intent.name in REHEARSED_INTENTS and looks_complete(text, intent):
            self._rehearse(cap, text, intent)

    def _rehearse(self, cap: _Capture, text: str, intent: Intent) -> None:
        """Open questions wait out the full silence, since people pause mid-question; the
        language model can start on the guess meanwhile. If speech resumes, it is cancelled;
        if the guess stands, its sentences are spoken as soon as the turn begins."""
        rehearse: Rehearse | None = getattr(self.handler, "rehearse", None)
        if rehearse is None or not self._dialog.answer_early:
            return
        queue: asyncio.Queue[tuple[str, str, asyncio.Future[list[Pcm]] | None] | None]
        queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        tts = self._engines.tts

        async def out(kind: str, said: str) -> None:
            speech = None
            if kind == "say":  # the voice gets ahead too
                speech = loop.run_in_executor(self._tts_pool, _synthesize_all, tts, said)
            queue.put_nowait((kind, said, speech))

        async def run() -> None:
            try:
                await rehearse(intent, out)
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(run(), name=f"rehearsal-{self._turn}")
        cap.rehearsal = _Rehearsal(text, intent, queue, task)

    def _end_capture(self, reason: str | None) -> None:
        cap = self._capture
        self._capture = None
        self._mode = _Mode.BUSY
        if cap is None:
            return
        cap.end_reason = reason
        cap.ended_at = self._pos
        if reason is None:
            self.emit(ev.NoSpeech)
        elif cap.speech_start is not None:
            self.emit(ev.SpeechEnded, reason=reason, speech_s=self._pos - cap.speech_start)
        if cap.purpose == "answer":
            if self._answer is not None and not self._answer.done():
                self._answer.set_result(cap.pcm() if reason else None)
            return
        if reason is None:
            self._mode = _Mode.WAKE
            self.emit(ev.TurnEnded)
            return
        self._turn_task = asyncio.create_task(self._run_turn(cap), name=f"turn-{self._turn}")

    async def _on_busy(self, pcm: Pcm, detection: Any, speech: list[bool]) -> None:
        if not self._dialog.barge_in:
            return
        if detection is not None and not detection.doubtful:  # never checked while we talk
            await self._barge_in("wake")
            self._turn += 1
            self.emit(ev.WakeDetected, name=detection.name, score=detection.score)
            self.emit(ev.TurnStarted, trigger="wake")
            self._open_wake_capture(detection)
            return
        # Listen for a short "stop" while the assistant is busy.
        if any(speech) and self._stop_listen is None:
            self._stop_listen = _Capture(
                opened_at=self._pos,
                audio=self._recent(self._vad.pre_roll_s),
                purpose="stop",
                speech_start=self._pos,
            )
        listen = self._stop_listen
        if listen is None:
            return
        listen.audio.append(pcm)
        if any(speech):
            listen.last_speech = self._pos
        quiet = self._pos - (listen.last_speech or listen.opened_at)
        if quiet >= self._vad.silence_s or self._pos - listen.opened_at > 2.0:
            self._stop_listen = None
            if self._pos - listen.opened_at <= 2.0:
                task = asyncio.create_task(self._check_stop(listen.pcm()), name="stop-check")
                self._stop_checks.add(task)
                task.add_done_callback(self._stop_checks.discard)

    async def _check_stop(self, pcm: Pcm) -> None:
        text = await self._transcribe(pcm)
        if is_stop_phrase(text) and self._mode is _Mode.BUSY:
            self.emit(ev.Transcript, text=text, engine=self._engines.asr.name)
            await self._barge_in("stop")
            self._mode = _Mode.WAKE

    async def _barge_in(self, by: str) -> None:
        self.emit(ev.BargeIn, by=by)
        await self._sink.stop()
        task = self._turn_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._turn_task = None

    # ---- answering ----------------------------------------------------------------------

    async def _run_turn(self, cap: _Capture) -> None:
        rehearsal, cap.rehearsal = cap.rehearsal, None
        answered = resumed = False
        try:
            text: str | None = None
            if cap.speculation is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    text = await cap.speculation
            speculative = text is not None
            if text is None:
                text = await self._transcribe_capture(cap)
            if not text.strip() and self._listen_on(cap):
                resumed = True  # only the wake phrase so far: the same turn goes on
                return
            self.emit(
                ev.Transcript, text=text, engine=self._engines.asr.name, speculative=speculative
            )
            if not text.strip():
                self.emit(ev.NoSpeech)
            elif (cap.follow_up or cap.end_reason == AFTER_PHRASE) and not self._addressed(
                text, cap
            ):
                self.emit(ev.NotAddressed, text=text)
            elif rehearsal is not None and rehearsal.text == text:
                await self._answer_rehearsed(rehearsal)
                answered = True
            else:
                await self._answer_turn(text)
                answered = True
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a failing skill or engine ends the turn, not the assistant
            _LOGGER.exception("turn %d failed", self._turn)
            self.emit(ev.Error, code=getattr(err, "code", "turn_failed"), message=str(err))
        finally:
            if rehearsal is not None:
                rehearsal.cancel()  # unused, or barged in on: stop the model
            if self._mode is _Mode.BUSY:
                self._mode = _Mode.WAKE
            if not resumed:
                self.emit(ev.TurnEnded)
                release_free_memory()  # a long run would creep up turn by turn
        # Only a real exchange earns a follow-up window: after silence, a cut-off monologue or
        # talk that was not for us, waiting without the wake word only invites false turns
        # (one wake word then 60 s of background talk used to give four more turns).
        if answered and cap.end_reason != "max_length":
            self._open_follow_up()

    def _listen_on(self, cap: _Capture) -> bool:
        """After a wake word, speech that was only the phrase's tail ("hey jarvis ... what
        time is it", the detection fired before the phrase quite ended) is not the command:
        listen on for it, once, keeping the audio so far and what came while it was
        transcribed."""
        if not cap.wake_phrase or cap.resumed or self._mode is not _Mode.BUSY:
            return False
        since = self._recent(self._pos - cap.ended_at) if self._pos > cap.ended_at else []
        self._capture = _Capture(
            opened_at=self._pos,
            audio=[*cap.audio, *since],
            purpose="turn",
            wake_phrase=cap.wake_phrase,
            resumed=True,
        )
        self._vad_rest = np.zeros(0, dtype=np.int16)
        self._engines_vad_reset()
        self._mode = _Mode.CAPTURE
        return True

    def _addressed(self, text: str, cap: _Capture) -> bool:
        """Was speech in a follow-up window (or before a wake word that came late, with
        silence after it) said to the assistant? A command a skill knows is; so is a question.
        Anything else is most likely talk nearby ("I told Jarvis"), and the language model
        would answer it."""
        if cap.end_reason == "max_length" or self.handler is None:
            return False
        if self.handler.recognize(text).name != "answer":
            return True
        return looks_like_a_question(text)

    async def _answer_rehearsed(self, rehearsal: _Rehearsal) -> None:
        intent = rehearsal.intent
        self.emit(
            ev.IntentRecognized,
            name=intent.name,
            slots=dict(intent.slots or {}),
            confidence=float(intent.confidence),
            source=intent.source,
        )
        while (item := await rehearsal.queue.get()) is not None:
            kind, text, speech = item
            if kind == "say":
                await self.say(text, speech=speech)
            else:
                await self.display(text)
        await rehearsal.task  # a skill that failed fails the turn, as it would have anyway
        self._turns_done += 1

    async def _answer_turn(self, text: str) -> None:
        if self.handler is None:
            raise RuntimeError("pipeline has no handler")
        intent = self.handler.recognize(text)
        self.emit(
            ev.IntentRecognized,
            name=intent.name,
            slots=dict(intent.slots or {}),
            confidence=float(intent.confidence),
            source=intent.source,
        )
        await self.handler.handle(intent)
        self._turns_done += 1

    async def _transcribe_capture(self, cap: _Capture) -> str:
        if not cap.wake_phrase:
            return await self._transcribe(cap.pcm())
        heard = await self._transcribe(cap.pcm(), prefix=wake_prefix(cap.wake_phrase))
        text = strip_wake_phrase(heard, cap.wake_phrase)
        _LOGGER.debug("heard %r; the command is %r", heard, text)
        return text

    async def _transcribe(self, pcm: Pcm, *, prefix: str = "") -> str:
        loop = asyncio.get_running_loop()
        asr = self._engines.asr
        return (
            await loop.run_in_executor(
                self._asr_pool, functools.partial(asr.transcribe, pcm, prefix=prefix)
            )
        ).strip()

    def _open_follow_up(self) -> None:
        seconds = self._dialog.follow_up_s
        if seconds <= 0 or self._mode is not _Mode.WAKE:
            return
        self._follow_up_until = self._pos + seconds
        self._vad_rest = np.zeros(0, dtype=np.int16)
        self._engines_vad_reset()
        self.emit(ev.FollowUpOpened, seconds=seconds)

    def _close_follow_up(self, *, emit: bool) -> None:
        if self._follow_up_until is None:
            return
        self._follow_up_until = None
        if emit:
            self.emit(ev.FollowUpClosed)

    async def _wait_turn_or_ask(self) -> None:
        """Fast input: let the turn finish before reading on, unless it waits for an answer."""
        task = self._turn_task
        if task is None or task.done():
            await self._wait_turn()
            return
        asking = asyncio.ensure_future(self._needs_audio.wait())
        try:
            await asyncio.wait({task, asking}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            asking.cancel()
        if task.done():
            await self._wait_turn()

    async def _wait_turn(self) -> None:
        task = self._turn_task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._turn_task = None

    async def _finish_input(self) -> None:
        """The input ended: close an open utterance as if silence followed, finish the turn."""
        cap = self._capture
        if cap is not None:
            if cap.speech_start is not None:
                self._end_capture("silence")
            else:
                self._end_capture(None)
        await self._wait_turn()
        for task in list(self._stop_checks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._close_follow_up(emit=True)
        await self._sink.drain()

    def _remember(self, pcm: Pcm) -> None:
        self._pre_roll.append(pcm)
        keep = int(max(self._vad.pre_roll_s, WAKE_LOOKBACK_S) * SAMPLE_RATE)
        total = sum(len(p) for p in self._pre_roll)
        while self._pre_roll and total - len(self._pre_roll[0]) >= keep:
            total -= len(self._pre_roll.popleft())

    def _recent(self, seconds: float) -> list[Pcm]:
        """The last `seconds` of audio heard (the current chunk included)."""
        room = int(seconds * SAMPLE_RATE)
        recent: list[Pcm] = []
        for pcm in reversed(self._pre_roll):
            if room <= 0:
                break
            recent.append(pcm[-room:] if len(pcm) > room else pcm)
            room -= len(pcm)
        recent.reverse()
        return recent


def _phrase(detection: Detection) -> str:
    """How the detected phrase is spoken (a detector that does not say: from its name)."""
    return detection.phrase or spoken_phrase(detection.name)


def _synthesize_all(tts: Synthesizer, text: str) -> list[Pcm]:
    return list(tts.synthesize(text))


_QUESTION_STARTS = frozenset(
    {"what", "what's", "whats", "when", "when's", "where", "where's", "who", "who's", "whom",
     "whose", "why", "how", "how's", "which", "is", "are", "am", "was", "were", "do", "does",
     "did", "can", "could", "will", "would", "should", "shall", "may", "might", "have", "has",
     "tell", "explain", "describe", "give", "define", "summarize"}
)  # fmt: skip


def looks_like_a_question(text: str) -> bool:
    """A question or a request for an answer ("tell me...", "and what about Paris?")."""
    words = _WORD_RE.findall(text.lower())
    while words and words[0] in {"and", "so", "then", "ok", "okay", "also", "but", "now"}:
        words = words[1:]
    return text.rstrip().endswith("?") or (bool(words) and words[0] in _QUESTION_STARTS)


def is_stop_phrase(text: str) -> bool:
    words = " ".join(_WORD_RE.findall(text.lower()))
    if not words or len(words.split()) > 4:
        return False
    return any(w in words for w in STOP_WORDS)
