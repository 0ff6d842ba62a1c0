"""The turn's parts on their own: endpointing, speculation's judgement, "stop" while speaking,
the audio history and the listener's one thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from assistant.config import VadSettings
from assistant.turn import endpoint
from assistant.turn.endpoint import Capture, step
from assistant.turn.history import AudioHistory
from assistant.turn.listener import Listener
from assistant.turn.speaking import STOP_MAX_S, StopListener
from assistant.turn.speculation import Guess, judge
from models.protocols import Detection, Pcm
from skills.sdk import Intent

VAD = VadSettings(silence_s=0.4, no_speech_s=2.0, max_utterance_s=5.0, speculate_s=0.1)
FRAME_S = 0.032


def _cap(**fields: object) -> Capture:
    return Capture(opened_at=0.0, audio=[], purpose="turn", **fields)  # type: ignore[arg-type]


def _run(cap: Capture, pattern: list[tuple[float, bool]]) -> list[tuple[float, endpoint.Step]]:
    """Feed one 80 ms chunk at a time: (seconds, speech?) spans."""
    pos, steps = 0.0, []
    for seconds, speech in pattern:
        for _ in range(round(seconds / 0.08)):
            pos = round(pos + 0.08, 3)
            steps.append((pos, step(cap, VAD, pos, [speech] * 2, FRAME_S)))
    return steps


def _ends(steps: list[tuple[float, endpoint.Step]]) -> list[tuple[float, str]]:
    return [(pos, s.end) for pos, s in steps if s.end is not None]


def test_speech_then_silence_ends_on_silence() -> None:
    steps = _run(_cap(), [(0.4, False), (1.0, True), (0.8, False)])
    assert [pos for pos, s in steps if s.started] == [0.48]
    assert _ends(steps)[0] == (pytest.approx(1.4 + 0.4, abs=0.09), endpoint.SILENCE)


def test_no_speech_ends_after_the_wait() -> None:
    steps = _run(_cap(), [(3.0, False)])
    assert _ends(steps)[0] == (pytest.approx(2.0, abs=0.09), endpoint.NO_SPEECH)


def test_a_monologue_is_cut_off() -> None:
    steps = _run(_cap(), [(7.0, True)])
    assert _ends(steps)[0] == (pytest.approx(5.0 + 0.08, abs=0.09), endpoint.MAX_LENGTH)


def test_a_wake_turn_with_quiet_after_the_phrase_looks_back() -> None:
    steps = _run(_cap(wake_phrase="hey jarvis"), [(2.0, False)])
    when = endpoint.WAKE_TAIL_S + VAD.silence_s
    assert _ends(steps)[0] == (pytest.approx(when, abs=0.09), endpoint.AFTER_PHRASE)
    # Listening on after that, the full wait for speech applies.
    steps = _run(_cap(wake_phrase="hey jarvis", resumed=True), [(3.0, False)])
    assert _ends(steps)[0][1] == endpoint.NO_SPEECH


def test_the_phrase_tail_is_not_the_command() -> None:
    cap = _cap(wake_phrase="hey jarvis")
    steps = _run(cap, [(0.24, True), (0.24, False), (1.0, True), (0.5, False)])
    assert [pos for pos, s in steps if s.started] == [0.56]


def test_speculation_once_per_pause_and_stale_when_speech_resumes() -> None:
    cap = _cap()
    steps = _run(cap, [(0.5, True), (0.16, False)])
    assert [s.speculate for _, s in steps].count(True) >= 1
    cap.speculation = object()  # type: ignore[assignment]  # the pipeline started one
    more = _run(cap, [(0.08, False)])
    assert not more[0][1].speculate
    resumed = step(cap, VAD, 0.8, [True], FRAME_S)
    assert resumed.resumed


def test_answers_to_ask_are_not_speculated_on() -> None:
    cap = Capture(opened_at=0.0, audio=[], purpose="answer")
    steps = _run(cap, [(0.5, True), (0.3, False)])
    assert not any(s.speculate for _, s in steps)


@pytest.mark.parametrize(
    ("text", "intent", "guess"),
    [
        ("what time is it", Intent("time.query", confidence=1.0), Guess.END),
        ("set a timer for", Intent("timer.start", confidence=1.0), Guess.WAIT),
        ("what time is it", Intent("time.query", confidence=0.5), Guess.WAIT),
        ("what is the capital of france", Intent("answer", confidence=1.0), Guess.REHEARSE),
        ("", Intent("answer", confidence=1.0), Guess.WAIT),
    ],
)
def test_judging_a_guess(text: str, intent: Intent, guess: Guess) -> None:
    assert judge(text, intent) is guess


def _chunk(value: int) -> Pcm:
    return np.full(1280, value, dtype=np.int16)


def test_a_short_stop_is_checked_and_talk_is_not() -> None:
    listener = StopListener(silence_s=0.4)
    before = [_chunk(1)]
    got, pos = [], 0.0
    for speech in [True] * 5 + [False] * 6:
        pos = round(pos + 0.08, 3)
        got.append(listener.hear(pos, _chunk(2 if speech else 0), speech, lambda: list(before)))
    heard = [g for g in got if g is not None]
    assert len(heard) == 1 and heard[0][0] is before[0]  # it starts with what came before
    assert sum(len(c) for c in heard[0]) == 1280 * (1 + 4 + 5)
    long_talk = StopListener(silence_s=0.4)
    pos = 0.0
    for _ in range(round((STOP_MAX_S + 1.0) / 0.08)):
        pos += 0.08
        assert long_talk.hear(pos, _chunk(2), True, lambda: []) is None


def test_the_history_keeps_what_it_was_asked_to() -> None:
    history = AudioHistory(0.25)
    for value in range(10):
        history.remember(_chunk(value))  # 80 ms each
    recent = np.concatenate(history.recent(0.2))
    assert len(recent) == 3200 and recent[-1] == 9 and recent[0] == 7
    assert sum(len(c) for c in history.recent(10.0)) >= 4000


class _ThreadWake:
    name = "thread"

    def __init__(self) -> None:
        self.threads: set[str] = set()

    def process(self, chunk: Pcm) -> Detection | None:
        self.threads.add(threading.current_thread().name)
        return None

    def reset(self) -> None:
        self.threads.add(threading.current_thread().name)


class _ThreadVad:
    frame_samples = 512

    def __init__(self) -> None:
        self.threads: set[str] = set()

    def probability(self, frame: Pcm) -> float:
        self.threads.add(threading.current_thread().name)
        return 1.0

    def reset(self) -> None:
        self.threads.add(threading.current_thread().name)


async def test_the_listener_touches_its_engines_on_one_thread_only() -> None:
    wake, vad = _ThreadWake(), _ThreadVad()
    listener = Listener(wake, vad, threshold=0.5)
    try:
        _, speech = await listener.hear(_chunk(1), vad=True)
        assert speech == [True, True]  # 1280 samples: two whole frames, 256 kept
        listener.restart_vad()
        listener.restart_wake()
        _, speech = await listener.hear(_chunk(1)[:768], vad=True)
        assert speech == [True]  # the remainder was dropped with the restart
        _, speech = await listener.hear(_chunk(1), vad=False)
        assert speech == []
    finally:
        listener.close()
    assert len(wake.threads | vad.threads) == 1
    assert threading.current_thread().name not in wake.threads
