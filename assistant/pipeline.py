"""The turn pipeline: wake -> pre-roll -> VAD endpoint -> ASR -> intent -> handler -> TTS -> sink.

A mode machine (listening, recording a turn, answering, the follow-up window) over the parts in
`assistant.turn`: the listener (wake word and VAD), the endpointer, speculation, the answerer
and the speaker. Each part does one job; this module only decides what happens next.

Time inside the pipeline is audio time: silences, timeouts and the follow-up window are measured
in seconds of input consumed, so a test feeding fake audio never sleeps, and a WAV file fed fast
behaves exactly like the same audio from a microphone. The injected `Clock` only stamps events.

A file fed as fast as possible (`realtime=False`) is processed deterministically: each turn is
finished before more audio is read, as if the assistant answered instantly. Real-time sources keep
flowing while a turn runs, which is what makes barge-in possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from enum import Enum, auto

import numpy as np

from assistant import events as ev
from assistant.audio import AudioChunk, AudioSink, AudioSource
from assistant.config import DialogSettings, VadSettings
from assistant.memory import release_free_memory
from assistant.turn import endpoint
from assistant.turn.answering import Answerer
from assistant.turn.contracts import Clock, Engines, SystemClock, TurnHandler, TurnIO
from assistant.turn.endpoint import AFTER_PHRASE, MAX_LENGTH, NO_SPEECH, WAKE_TAIL_S, Capture
from assistant.turn.history import AudioHistory
from assistant.turn.language import is_stop_phrase, looks_like_a_question
from assistant.turn.listener import Listener
from assistant.turn.speaking import Speaker, StopListener
from assistant.turn.speculation import Guess, judge
from models.protocols import Detection, Pcm
from models.wake_phrase import says_wake_phrase, spoken_phrase

__all__ = [
    "WAKE_TAIL_S",
    "Clock",
    "Engines",
    "Pipeline",
    "SystemClock",
    "TurnHandler",
    "TurnIO",
    "is_stop_phrase",
    "looks_like_a_question",
]

_LOGGER = logging.getLogger(__name__)

TAP_PRE_ROLL_S = 0.16  # audio kept from before a tap: more than a tap's trip over BLE
# Audio kept from before a wake detection, so a command said in one breath after the phrase
# keeps its first word; the phrase is then taken out of the transcript. The bundled phrases
# last 0.5-0.9 s and fire 0.08-0.24 s after they end (bench pipeline); 1.6 s holds both.
WAKE_LOOKBACK_S = 1.6


class _Mode(Enum):
    WAKE = auto()  # waiting for the wake word (or speech inside a follow-up window)
    CAPTURE = auto()  # recording an utterance until the endpoint
    BUSY = auto()  # a turn is being answered; wake word and "stop" can barge in


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
        self._vad = vad
        self._dialog = dialog
        self._emit_cb = emit
        self._clock = clock or SystemClock()
        self._t0 = self._clock.monotonic()
        # Text turns (`run --text`): where answers to ask() come from; None = no answer.
        self.typed_answers: Callable[[str], Awaitable[str | None]] | None = None
        # Each part has its own single worker: inference never runs on the loop, and each
        # engine sees one caller at a time.
        self._listener = Listener(engines.wake, engines.vad, vad.threshold)
        self._speaker = Speaker(engines.tts, sink, self.emit)
        self._answerer = Answerer(engines.asr, self._speaker, self.emit)
        self._history = AudioHistory(max(vad.pre_roll_s, WAKE_LOOKBACK_S))
        self._stop_listener = StopListener(vad.silence_s)
        self._mode = _Mode.WAKE
        self._pos = 0.0  # audio time: seconds of input consumed
        self._turn = 0
        self._capture: Capture | None = None
        self._answer: asyncio.Future[Pcm | None] | None = None
        self._turn_task: asyncio.Task[None] | None = None
        self._follow_up_until: float | None = None
        self._stop_checks: set[asyncio.Task[None]] = set()
        self._realtime = True
        self._text_mode = False
        self._needs_audio = asyncio.Event()  # a turn waits for an answer (non-real-time input)

    # ---- public ---------------------------------------------------------------------------

    @property
    def handler(self) -> TurnHandler | None:
        return self._answerer.handler

    @handler.setter
    def handler(self, handler: TurnHandler | None) -> None:
        self._answerer.handler = handler

    @property
    def turns(self) -> int:
        """Turns answered so far."""
        return self._answerer.answered

    @property
    def clock_origin(self) -> float:
        """The clock reading that event times count from."""
        return self._t0

    def now(self) -> float:
        return self._clock.monotonic() - self._t0

    def emit(self, event: ev.Event) -> None:
        """Send `event` on, stamped with the clock, the audio time and the turn."""
        audio_s = None if self._text_mode else self._pos
        self._emit_cb(dataclasses.replace(event, t=self.now(), audio_s=audio_s, turn=self._turn))

    async def run(self, source: AudioSource, *, realtime: bool, startup_s: float = 0.0) -> None:
        """Listen to `source` until it ends, answering every turn in it."""
        self._realtime = realtime
        self._listener.restart_wake()  # a new stream
        self.emit(ev.Ready(source=source.name, startup_s=startup_s))
        try:
            async for chunk in source.chunks():
                await self._feed(chunk)
                if not realtime and self._turn_task is not None:
                    await self._wait_turn_or_ask()
            await self._finish_input()
        finally:
            await source.close()
        self.emit(ev.Stopped(reason="end of input"))

    async def run_text(self, text: str) -> None:
        """One turn from typed text: no audio in, straight to the intent."""
        self._text_mode = True
        self._turn += 1
        self.emit(ev.TurnStarted(trigger="text"))
        self.emit(ev.Transcript(text=text, engine="text"))
        await self._answerer.answer(text)
        self.emit(ev.Stopped(reason="done"))

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
        self._start_turn(trigger)
        kept = min(TAP_PRE_ROLL_S, self._vad.pre_roll_s) if pre_roll else 0.0
        self._open_capture("turn", pre_roll_s=kept)

    async def repeat_last(self, trigger: str = "double_tap") -> None:
        """Say the last reply again (a double tap on the glasses). Only while idle: while
        the assistant talks or listens, it does nothing."""
        texts = self._speaker.last_reply
        if self._mode is not _Mode.WAKE or not texts:
            return
        self._start_turn(trigger)
        self._mode = _Mode.BUSY
        self._turn_task = asyncio.create_task(self._repeat(texts))

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
        await self._speaker.aclose()
        self._listener.close()
        self._answerer.close()

    # ---- TurnIO: what handlers call -----------------------------------------------------

    async def say(
        self, text: str, *, remember: bool = True, speech: Awaitable[list[Pcm]] | None = None
    ) -> None:
        """Speak `text`, sentence by sentence, as soon as each sentence is synthesized
        (`speech`: already being synthesized). `repeat_last` says again what the latest turn
        said, unless `remember` is False."""
        await self._speaker.say(text, turn=self._turn, remember=remember, speech=speech)

    async def display(self, text: str) -> None:
        self.emit(ev.Displayed(text=text))

    async def ask(self, question: str) -> str | None:
        """Say `question`, then take the next utterance as its answer (None if none came)."""
        await self.say(question)
        if self._text_mode:
            answer = await self.typed_answers(question) if self.typed_answers else None
            if answer:
                self.emit(ev.Transcript(text=answer, engine="text"))
            return answer or None
        self._answer = asyncio.get_running_loop().create_future()
        self._open_capture("answer", pre_roll_s=self._vad.pre_roll_s)
        self._needs_audio.set()
        try:
            pcm = await self._answer
        finally:
            self._answer = None
            self._needs_audio.clear()
        if pcm is None:
            return None
        text = await self._answerer.transcribe(pcm)
        self.emit(ev.Transcript(text=text, engine=self._answerer.engine))
        return text or None

    # ---- the mode machine ---------------------------------------------------------------

    async def _feed(self, chunk: AudioChunk) -> None:
        pcm = chunk.pcm
        self._pos = chunk.end_s
        self._history.remember(pcm)
        need_vad = (
            self._mode is _Mode.CAPTURE
            or (self._mode is _Mode.WAKE and self._follow_up_until is not None)
            or (self._mode is _Mode.BUSY and self._dialog.barge_in)
        )
        detection, speech = await self._listener.hear(pcm, vad=need_vad)
        if self._mode is _Mode.WAKE:
            await self._on_wake_mode(detection, speech)
        elif self._mode is _Mode.CAPTURE:
            self._on_capture(pcm, speech)
        elif self._dialog.barge_in:
            await self._on_busy(pcm, detection, speech)

    async def _on_wake_mode(self, detection: Detection | None, speech: list[bool]) -> None:
        if detection is not None and detection.doubtful and not await self._confirm(detection):
            detection = None
        if detection is not None:
            self._start_wake_turn(detection)
        elif self._follow_up_until is None:
            return
        elif any(speech):
            self._start_turn("follow_up")
            self._open_capture("turn", pre_roll_s=self._vad.pre_roll_s, follow_up=True)
            self._on_capture(np.zeros(0, dtype=np.int16), speech)
        elif self._pos >= self._follow_up_until:
            self._close_follow_up(emit=True)

    async def _on_busy(self, pcm: Pcm, detection: Detection | None, speech: list[bool]) -> None:
        if detection is not None and not detection.doubtful:  # never checked while we talk
            await self._barge_in("wake")
            self._start_wake_turn(detection)
            return
        heard = self._stop_listener.hear(
            self._pos, pcm, any(speech), lambda: self._history.recent(self._vad.pre_roll_s)
        )
        if heard is not None:  # a short utterance while we talk: "stop"?
            task = asyncio.create_task(self._check_stop(np.concatenate(heard)), name="stop")
            self._stop_checks.add(task)
            task.add_done_callback(self._stop_checks.discard)

    def _on_capture(self, pcm: Pcm, speech: list[bool]) -> None:
        cap = self._capture
        if cap is None:
            return
        if len(pcm):
            cap.audio.append(pcm)
            self._answerer.feed(cap, pcm)
        step = endpoint.step(cap, self._vad, self._pos, speech, self._listener.vad_frame_s)
        if step.started:
            self.emit(ev.SpeechStarted())
        if step.resumed:  # the guess made in the pause is stale
            if cap.speculation is not None:
                cap.speculation.cancel()
                cap.speculation = None
            if cap.rehearsal is not None:
                cap.rehearsal.cancel()
                cap.rehearsal = None
        if step.end is not None:
            self._end_capture(step.end)
        elif step.speculate:
            cap.speculation = asyncio.ensure_future(self._answerer.guess(cap))
            if self._vad.early_endpoint and self._realtime:
                cap.speculation.add_done_callback(lambda task: self._on_guess(cap, task))

    def _on_guess(self, cap: Capture, task: asyncio.Task[str]) -> None:
        """A speculative transcript is in: end the utterance on a clear command, or start
        answering an open question while the rest of the silence is waited out."""
        if self._capture is not cap or cap.speculation is not task or task.cancelled():
            return
        if task.exception() is not None or self.handler is None:
            return
        text = task.result()
        intent = self._answerer.recognize(text) if text.strip() else None
        guess = judge(text, intent) if intent is not None else Guess.WAIT
        if guess is Guess.END:
            self._end_capture(endpoint.UNDERSTOOD)
        elif guess is Guess.REHEARSE and intent is not None and self._dialog.answer_early:
            cap.rehearsal = self._answerer.rehearse(text, intent, self._turn)

    def _end_capture(self, reason: str) -> None:
        cap, self._capture = self._capture, None
        self._mode = _Mode.BUSY
        if cap is None:
            return
        cap.end_reason, cap.ended_at = reason, self._pos
        if reason == NO_SPEECH:
            self._answerer.drop(cap)
            self.emit(ev.NoSpeech())
        elif cap.speech_start is not None:
            self.emit(ev.SpeechEnded(reason=reason, speech_s=self._pos - cap.speech_start))
        if cap.purpose == "answer":
            if self._answer is not None and not self._answer.done():
                self._answer.set_result(cap.pcm() if reason != NO_SPEECH else None)
        elif reason == NO_SPEECH:
            self._mode = _Mode.WAKE
            self.emit(ev.TurnEnded())
        else:
            self._turn_task = asyncio.create_task(self._run_turn(cap), name=f"turn-{self._turn}")

    async def _run_turn(self, cap: Capture) -> None:
        rehearsal, cap.rehearsal = cap.rehearsal, None
        answered = resumed = False
        try:
            text: str | None = None
            if cap.speculation is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    text = await cap.speculation
            speculative = text is not None
            if text is None:
                text = await self._answerer.final(cap)
            else:
                self._answerer.drop(cap)  # the guess stands
            # Only the wake phrase so far (the recognizer may make a word of it: "I", "Hey",
            # "I hate Jarvis"): the same turn goes on.
            # Only turns that may not be for us are checked: the check is a recognition too.
            unsure = cap.follow_up or cap.end_reason == AFTER_PHRASE
            addressed = unsure and bool(text.strip()) and self._answerer.addressed(text, cap)
            if (not addressed if cap.end_reason == AFTER_PHRASE else not text.strip()) and (
                self._listen_on(cap)
            ):
                resumed = True
                return
            engine = self._answerer.engine
            self.emit(ev.Transcript(text=text, engine=engine, speculative=speculative))
            if not text.strip():
                self.emit(ev.NoSpeech())
            elif unsure and not addressed:
                self.emit(ev.NotAddressed(text=text))
            elif rehearsal is not None and rehearsal.text == text:
                await self._answerer.answer_rehearsed(rehearsal, self._turn)
                answered = True
            else:
                await self._answerer.answer(text)
                answered = True
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a failing skill or engine ends the turn, not the assistant
            _LOGGER.exception("turn %d failed", self._turn)
            self.emit(ev.Error(code=getattr(err, "code", "turn_failed"), message=str(err)))
        finally:
            if rehearsal is not None:
                rehearsal.cancel()  # unused, or barged in on: stop the model
            if self._mode is _Mode.BUSY:
                self._mode = _Mode.WAKE
            if not resumed:
                self.emit(ev.TurnEnded())
                release_free_memory()  # a long run would creep up turn by turn
        # Only a real exchange earns a follow-up window: after silence, a cut-off monologue or
        # talk that was not for us, waiting without the wake word only invites false turns
        # (one wake word then 60 s of background talk used to give four more turns).
        if answered and cap.end_reason != MAX_LENGTH:
            self._open_follow_up()

    async def _repeat(self, texts: list[str]) -> None:
        try:
            for text in texts:
                await self.say(text, remember=False)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a failing voice ends the repeat, not the assistant
            _LOGGER.exception("repeating the last reply failed")
            self.emit(ev.Error(code=getattr(err, "code", "turn_failed"), message=str(err)))
        finally:
            if self._mode is _Mode.BUSY:
                self._mode = _Mode.WAKE
            self.emit(ev.TurnEnded())
        self._open_follow_up()

    # ---- transitions ----------------------------------------------------------------------

    def _start_turn(self, trigger: str, detection: Detection | None = None) -> None:
        self._close_follow_up(emit=detection is not None)
        self._turn += 1
        if detection is not None:
            self.emit(ev.WakeDetected(name=detection.name, score=detection.score))
        self.emit(ev.TurnStarted(trigger=trigger))

    def _start_wake_turn(self, detection: Detection) -> None:
        """Record from before the wake phrase: the command may already have begun."""
        self._start_turn("wake", detection)
        self._open_capture("turn", pre_roll_s=WAKE_LOOKBACK_S, wake_phrase=_phrase(detection))

    def _open_capture(
        self,
        purpose: str,
        *,
        pre_roll_s: float,
        wake_phrase: str | None = None,
        follow_up: bool = False,
        audio: list[Pcm] | None = None,
    ) -> None:
        """Start recording an utterance, with the last `pre_roll_s` of audio before now.

        Turns opened by speech (follow-up, answers) keep the VAD's pre-roll, since the VAD
        notices speech a little after it starts; taps keep less (what overtook the tap on the
        link); wake turns keep the phrase and take it out of the transcript.
        """
        self._capture = Capture(
            opened_at=self._pos,
            audio=audio if audio is not None else self._history.recent(pre_roll_s),
            purpose=purpose,
            wake_phrase=wake_phrase,
            follow_up=follow_up,
            resumed=audio is not None,
        )
        if purpose == "turn":
            self._answerer.listen(self._capture)
        self._listener.restart_vad()
        self._mode = _Mode.CAPTURE

    def _listen_on(self, cap: Capture) -> bool:
        """After a wake word, speech that was only the phrase ("hey jarvis ... what time is
        it": the detection fired before the phrase quite ended, or a pause followed it) is
        not the command: listen on for it, once, keeping the audio so far and what came while
        it was transcribed."""
        if not cap.wake_phrase or cap.resumed or self._mode is not _Mode.BUSY:
            return False
        since = self._history.recent(self._pos - cap.ended_at) if self._pos > cap.ended_at else []
        self._open_capture(
            "turn", pre_roll_s=0.0, wake_phrase=cap.wake_phrase, audio=[*cap.audio, *since]
        )
        return True

    async def _confirm(self, detection: Detection) -> bool:
        """Is the name in what was just said? Asked of the recognizer when the wake model
        was unsure; the audio waits in the source's queue meanwhile (~0.1-0.2 s)."""
        pcm = np.concatenate(self._history.recent(WAKE_LOOKBACK_S))
        text = await self._answerer.transcribe(pcm)
        said = says_wake_phrase(text, _phrase(detection))
        _LOGGER.debug("doubtful wake word (%.2f): heard %r, %s", detection.score, text, said)
        return said

    async def _check_stop(self, pcm: Pcm) -> None:
        text = await self._answerer.transcribe(pcm)
        if is_stop_phrase(text) and self._mode is _Mode.BUSY:
            self.emit(ev.Transcript(text=text, engine=self._answerer.engine))
            await self._barge_in("stop")
            self._mode = _Mode.WAKE

    async def _barge_in(self, by: str) -> None:
        self.emit(ev.BargeIn(by=by))
        await self._speaker.stop()
        self._stop_listener.reset()
        task = self._turn_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._turn_task = None

    def _open_follow_up(self) -> None:
        seconds = self._dialog.follow_up_s
        if seconds <= 0 or self._mode is not _Mode.WAKE:
            return
        self._follow_up_until = self._pos + seconds
        self._listener.restart_vad()
        self.emit(ev.FollowUpOpened(seconds=seconds))

    def _close_follow_up(self, *, emit: bool) -> None:
        if self._follow_up_until is None:
            return
        self._follow_up_until = None
        if emit:
            self.emit(ev.FollowUpClosed())

    # ---- input that runs faster than real time ----------------------------------------------

    async def _wait_turn_or_ask(self) -> None:
        """Fast input: let the turn finish before reading on, unless it waits for an answer."""
        task = self._turn_task
        if task is not None and not task.done():
            asking = asyncio.ensure_future(self._needs_audio.wait())
            try:
                await asyncio.wait({task, asking}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                asking.cancel()
        if task is None or task.done():
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
            self._end_capture(endpoint.SILENCE if cap.speech_start is not None else NO_SPEECH)
        await self._wait_turn()
        for task in list(self._stop_checks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._close_follow_up(emit=True)
        await self._speaker.drain()


def _phrase(detection: Detection) -> str:
    """How the detected phrase is spoken (a detector that does not say: from its name)."""
    return detection.phrase or spoken_phrase(detection.name)
