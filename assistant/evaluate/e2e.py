"""`eval e2e`: spoken commands from audio to intent, through the turn pipeline.

A set is a folder with `labels.tsv` holding at least `file`, `text` and `intent` (and optionally
`wake_word`, and `style` or `tts` columns that the report breaks the figures down by). Each row
is played into the same `Pipeline` that `sottovoce run --input FILE.wav` runs, the same way (80 ms
chunks from its `WavFileSource`, as fast as they are taken, default settings): the wake word is
heard in the audio, the VAD ends the utterance, the recognizer transcribes it, and the intent the
pipeline recognizes is scored. Skills are not run (a timer would really be set): the turn handler
recognizes and records. Nothing is added to the audio, so a clip should open with a moment of
silence before its wake phrase, as a microphone's stream would (the wake models need about half a
second of audio before it); the pipeline's chunking and timing decide what it hears: padding
a clip by half a chunk changed one turn's transcript from the command to the wake phrase alone.
- a row with a wake word a bundled model knows is heard by that model; if it never fires there
  is no turn (the intent counts as wrong);
- a row with a wake word no bundled model knows is transcribed whole, and reported;
- a row without one is heard by `wake_model` to count false triggers (each detection is one),
  then transcribed whole.
Transcripts match exactly when their normalised words (see `wer.py`) are equal. Intent labels
outside our label space (the source project's, e.g. `orderBeverage`) are not scored: they are
counted apart, with what our recognizer made of the row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar

import numpy as np

from assistant import events as ev
from assistant.assembly import Assistant
from assistant.audio_files import NullSink, WavFileSource
from assistant.config import Settings, load_settings
from assistant.engines import doubt_threshold
from assistant.evaluate import wake as wake_eval
from assistant.evaluate.asr import Skipped, engine_names
from assistant.evaluate.data import Problem, audio_rows, in_order, read_audio, rounded
from assistant.evaluate.intents import default_recognizer, known_labels
from assistant.evaluate.wer import normalize_words, word_errors
from assistant.pipeline import Engines
from models.asr import load_recognizer
from models.catalog import DEFAULT_WAKE_WORD
from models.errors import ModelError
from models.protocols import (
    SAMPLE_RATE,
    Pcm,
    Recognizer,
    RecognizerStream,
    VoiceActivityDetector,
    WakeWordDetector,
)
from models.vad import load_vad
from models.wake import load_wake_word
from skills.intents import IntentRecognizer
from skills.sdk import Intent

_LOGGER = logging.getLogger(__name__)

# How each row's wake word fared.
WAKE_DETECTED: Final = "detected"
WAKE_MISSED: Final = "missed"
WAKE_NO_MODEL: Final = "no model"
WAKE_NONE: Final = "none"
# How each row's intent fared.
INTENT_CORRECT: Final = "correct"
INTENT_WRONG: Final = "wrong"
INTENT_FOREIGN: Final = "label not in our label space"
INTENT_UNLABELLED: Final = "unlabelled"
# What a row got when no turn recognized an intent.
NO_TURN: Final = "(no turn)"
NO_SPEECH: Final = "(no speech)"
# Columns whose values the report scores apart ("straight"/"pause"; "espeak-ng"/"flite"...).
BREAKDOWN_COLUMNS: Final = ("style", "tts")


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    line: int
    file: Path
    text: str
    intent: str
    wake_word: str
    pcm: Pcm
    groups: dict[str, str] = field(default_factory=dict)  # BREAKDOWN_COLUMNS present


@dataclass(frozen=True, slots=True, kw_only=True)
class RowResult:
    line: int
    file: str
    reference: str
    expected_intent: str
    wake_word: str
    wake: str
    wake_at_s: float | None
    false_triggers: int
    transcript: str
    exact_match: bool | None  # None: no reference text
    word_errors: int
    got_intent: str
    intent: str  # one of the INTENT_* outcomes
    asr_ms: float
    groups: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupScore:
    column: str
    value: str
    intents_scored: int
    intents_correct: int
    intent_accuracy: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineRun:
    engine: str
    rows: list[RowResult]
    transcripts: int  # rows with reference text
    exact_matches: int
    exact_match_rate: float
    wer: float
    intents_scored: int
    intents_correct: int
    intent_accuracy: float
    foreign_labels: int
    unlabelled: int
    groups: list[GroupScore] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class E2eReport:
    dataset: str
    wake_model: str
    rows: int
    wake_rows: int  # rows with a wake word a bundled model knows
    wake_detected: int
    wake_detection_rate: float
    wake_without_model: int
    rows_without_wake: int
    false_triggers: int
    engines: list[EngineRun]
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def load_commands(path: Path) -> tuple[Path, list[Command], list[Problem]]:
    table, rows, problems = audio_rows(path, ("labels.tsv",), required=("file",))
    commands: list[Command] = []
    for row, wav in rows:
        pcm = read_audio(table, row.line, wav)
        if isinstance(pcm, Problem):
            problems.append(pcm)
            continue
        commands.append(
            Command(
                line=row.line,
                file=wav,
                text=row.get("text"),
                intent=row.get("intent"),
                wake_word=row.get("wake_word"),
                pcm=pcm,
                groups={c: v for c in BREAKDOWN_COLUMNS if (v := row.get(c))},
            )
        )
    return table, commands, in_order(problems)


# --- one row through the pipeline ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Heard:
    """What the pipeline made of one clip: its first turn, and every wake detection."""

    wake_at_s: list[float]  # within the clip
    transcript: str | None  # None: no turn got as far as a transcript
    intent: str | None  # None: no turn recognized one


class _Listener:
    """The turn handler: recognizes as the skill host does, runs no skill."""

    def __init__(self, intents: IntentRecognizer) -> None:
        self._intents = intents

    def recognize(self, text: str) -> Intent:
        return self._intents.recognize(text)

    async def handle(self, intent: Intent) -> None:
        return None


class _Mute:
    """No voice: the listener never speaks."""

    sample_rate = SAMPLE_RATE

    def synthesize(self, text: str) -> Iterator[Pcm]:
        return iter(())


_T = TypeVar("_T")


class _TimedRecognizer:
    """The recognizer, with the time its calls took (speculative ones included)."""

    def __init__(self, recognizer: Recognizer) -> None:
        self._recognizer = recognizer
        self.seconds = 0.0

    @property
    def name(self) -> str:
        return self._recognizer.name

    def start(self, *, prefix: str = "") -> RecognizerStream:
        return _TimedStream(self.timed(self._recognizer.start, prefix=prefix), self)

    def transcribe(self, audio: Pcm, *, prefix: str = "") -> str:
        return self.timed(self._recognizer.transcribe, audio, prefix=prefix)

    def timed(self, call: Callable[..., _T], *args: object, **kwargs: object) -> _T:
        start = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


class _TimedStream:
    """A stream of the timed recognizer: its calls count in the recognizer's time."""

    def __init__(self, stream: RecognizerStream, timed: _TimedRecognizer) -> None:
        self._stream = stream
        self._timed = timed

    def feed(self, chunk: Pcm) -> None:
        self._timed.timed(self._stream.feed, chunk)

    def partial(self) -> str:
        return self._timed.timed(self._stream.partial)

    def finish(self) -> str:
        return self._timed.timed(self._stream.finish)

    def close(self) -> None:
        self._timed.timed(self._stream.close)


async def hear(
    wav: Path,
    engines: Engines,
    intents: IntentRecognizer,
    settings: Settings,
) -> Heard:
    """Play the file into a fresh pipeline (the engines reset), as `sottovoce run` does."""
    engines.wake.reset()
    engines.vad.reset()
    events: list[ev.Event] = []
    listener = Assistant(
        settings, sink=NullSink(), emit=events.append, engines=engines, handler=_Listener(intents)
    )
    async with listener as assistant:
        await assistant.pipeline.run(WavFileSource(wav, paced=False), realtime=False)
    wakes = [e for e in events if isinstance(e, ev.WakeDetected)]
    transcript = intent = None
    for event in events:
        if isinstance(event, ev.Transcript):
            transcript = event.text
        elif isinstance(event, ev.IntentRecognized):
            intent = event.name
            break
    return Heard(
        wake_at_s=[e.audio_s or 0.0 for e in wakes],
        transcript=transcript,
        intent=intent,
    )


# --- the evaluation ----------------------------------------------------------------------------


def evaluate(
    path: Path,
    engines: Sequence[str] = ("whisper",),
    *,
    models: dict[str, str] | None = None,
    language: str = "en",
    wake_model: str = DEFAULT_WAKE_WORD,
    threshold: float = 0.5,
    intent_recognizer: IntentRecognizer | None = None,
    settings: Settings | None = None,
) -> E2eReport:
    """Score every row of the set at `path` with each engine. `settings` are the pipeline's
    (VAD endpointing, dialog, wake refractory time and front end): by default the config's, as
    `sottovoce run` reads them."""
    models = models or {}
    settings = settings or load_settings()[0]
    table, commands, problems = load_commands(path)
    intents = intent_recognizer or default_recognizer()
    labels = known_labels(intents)
    skipped: list[Skipped] = []
    detectors: dict[str, WakeWordDetector] = {}
    wanted = {wake_model} | {
        m for c in commands if c.wake_word and (m := wake_eval.model_for(c.wake_word))
    }
    for name in sorted(wanted):
        try:
            detectors[name] = load_wake_word(
                name,
                threshold=threshold,
                refractory_s=settings.wake.refractory_s,
                front_end=settings.wake.front_end,
                doubt_threshold=doubt_threshold(settings, threshold),  # checked, as in `run`
            )
        except ModelError as err:
            skipped.append(Skipped(name=name, reason=err.message))
    for c in commands:
        if c.wake_word and wake_eval.model_for(c.wake_word) is None:
            skipped.append(
                Skipped(name=c.wake_word, reason=f"line {c.line}: no bundled wake-word model")
            )
    names, not_run = engine_names(engines, models, language)
    skipped.extend(not_run)
    runs: list[EngineRun] = []
    vad: VoiceActivityDetector | None = None
    for name in names:
        try:
            recognizer = load_recognizer(name, models.get(name), language)
            vad = vad or load_vad()
        except ModelError as err:
            skipped.append(Skipped(name=name, reason=err.message))
            continue
        runs.append(
            asyncio.run(
                _run(recognizer, vad, detectors, wake_model, commands, intents, labels, settings)
            )
        )
    rows = runs[0].rows if runs else []
    wake_rows = sum(1 for r in rows if r.wake in (WAKE_DETECTED, WAKE_MISSED))
    detected = sum(1 for r in rows if r.wake == WAKE_DETECTED)
    return E2eReport(
        dataset=str(table),
        wake_model=wake_model,
        rows=len(commands),
        wake_rows=wake_rows,
        wake_detected=detected,
        wake_detection_rate=rounded(detected / wake_rows) if wake_rows else 0.0,
        wake_without_model=sum(1 for r in rows if r.wake == WAKE_NO_MODEL),
        rows_without_wake=sum(1 for r in rows if r.wake == WAKE_NONE),
        false_triggers=sum(r.false_triggers for r in rows),
        engines=runs,
        skipped=skipped,
        problems=problems,
    )


async def _run(
    recognizer: Recognizer,
    vad: VoiceActivityDetector,
    detectors: dict[str, WakeWordDetector],
    wake_model: str,
    commands: list[Command],
    intents: IntentRecognizer,
    labels: frozenset[str],
    settings: Settings,
) -> EngineRun:
    recognizer.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.int16))  # lazy set-up
    timed = _TimedRecognizer(recognizer)
    rows: list[RowResult] = []
    words = wrong_words = 0
    for command in commands:
        timed.seconds = 0.0
        model = wake_eval.model_for(command.wake_word) if command.wake_word else wake_model
        detector = detectors.get(model) if model else None
        false_triggers, wake_at = 0, None
        if detector is None:  # no model for the row's wake word (or the listening one failed)
            wake = WAKE_NO_MODEL if command.wake_word else WAKE_NONE
            transcript = timed.transcribe(command.pcm).strip() if len(command.pcm) else ""
            got = intents.recognize(transcript).name
        else:
            engines = Engines(wake=detector, vad=vad, asr=timed, tts=_Mute())
            heard = await hear(command.file, engines, intents, settings)
            if not command.wake_word:
                wake, false_triggers = WAKE_NONE, len(heard.wake_at_s)
                transcript = timed.transcribe(command.pcm).strip() if len(command.pcm) else ""
                got = intents.recognize(transcript).name
            elif not heard.wake_at_s:
                wake, transcript, got = WAKE_MISSED, "", NO_TURN
            else:
                wake, wake_at = WAKE_DETECTED, rounded(heard.wake_at_s[0], 2)
                transcript = heard.transcript or ""
                got = heard.intent or NO_SPEECH
        exact: bool | None = None
        errors = 0
        if command.text:
            exact = normalize_words(command.text) == normalize_words(transcript)
            counted = word_errors(command.text, transcript)
            errors = counted.errors
            words += counted.reference_words
            wrong_words += errors
        if not command.intent:
            outcome = INTENT_UNLABELLED
        elif command.intent not in labels:
            outcome = INTENT_FOREIGN
        else:
            outcome = INTENT_CORRECT if got == command.intent else INTENT_WRONG
        rows.append(
            RowResult(
                line=command.line,
                file=command.file.name,
                reference=command.text,
                expected_intent=command.intent,
                wake_word=command.wake_word,
                wake=wake,
                wake_at_s=wake_at,
                false_triggers=false_triggers,
                transcript=transcript,
                exact_match=exact,
                word_errors=errors,
                got_intent=got,
                intent=outcome,
                asr_ms=rounded(timed.seconds * 1000, 1),
                groups=command.groups,
            )
        )
    with_text = [r for r in rows if r.exact_match is not None]
    exact_count = sum(1 for r in with_text if r.exact_match)
    scored = [r for r in rows if r.intent in (INTENT_CORRECT, INTENT_WRONG)]
    correct = sum(1 for r in scored if r.intent == INTENT_CORRECT)
    return EngineRun(
        engine=recognizer.name,
        rows=rows,
        transcripts=len(with_text),
        exact_matches=exact_count,
        exact_match_rate=rounded(exact_count / len(with_text)) if with_text else 0.0,
        wer=rounded(wrong_words / words) if words else 0.0,
        intents_scored=len(scored),
        intents_correct=correct,
        intent_accuracy=rounded(correct / len(scored)) if scored else 0.0,
        foreign_labels=sum(1 for r in rows if r.intent == INTENT_FOREIGN),
        unlabelled=sum(1 for r in rows if r.intent == INTENT_UNLABELLED),
        groups=_group_scores(scored),
    )


def _group_scores(scored: list[RowResult]) -> list[GroupScore]:
    tally: dict[tuple[str, str], list[int]] = {}
    for row in scored:
        for column, value in row.groups.items():
            counts = tally.setdefault((column, value), [0, 0])
            counts[0] += 1
            counts[1] += row.intent == INTENT_CORRECT
    return [
        GroupScore(
            column=column,
            value=value,
            intents_scored=n,
            intents_correct=ok,
            intent_accuracy=rounded(ok / n),
        )
        for (column, value), (n, ok) in sorted(tally.items())
    ]


def render(report: E2eReport) -> list[str]:
    lines = [
        f"spoken commands: {report.dataset} ({report.rows} rows)",
        f"wake word: detected {report.wake_detected}/{report.wake_rows} "
        f"({report.wake_detection_rate:.0%}); {report.wake_without_model} rows name a wake word "
        f"with no bundled model; false triggers of {report.wake_model} on the "
        f"{report.rows_without_wake} rows without one: {report.false_triggers}",
    ]
    for run in report.engines:
        lines.append(
            f"{run.engine:<10} transcripts exact {run.exact_matches}/{run.transcripts} "
            f"(WER {run.wer:.1%})  intents {run.intents_correct}/{run.intents_scored} in our "
            f"label space; {run.foreign_labels} with a label outside it, {run.unlabelled} "
            "unlabelled"
        )
        lines.extend(
            f"    {g.column} {g.value}: intents {g.intents_correct}/{g.intents_scored} "
            f"({g.intent_accuracy:.1%})"
            for g in run.groups
        )
        for r in run.rows:
            wake = f" wake {r.wake}" + (
                f" at {r.wake_at_s:.2f}s" if r.wake_at_s is not None else ""
            )
            lines.append(
                f"    line {r.line} {r.file}:{wake}; heard {r.transcript!r}; "
                f"intent {r.got_intent} (expected {r.expected_intent or '-'}: {r.intent})"
            )
    lines.extend(f"skipped {s.name}: {s.reason}" for s in report.skipped)
    lines.extend(f"problem {p.describe()}" for p in report.problems)
    return lines
