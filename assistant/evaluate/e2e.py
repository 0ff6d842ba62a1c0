"""`eval e2e`: spoken commands from audio to intent, as the assistant would take them.

A set is a folder with `labels.tsv` holding at least `file`, `text` and `intent` (and optionally
`wake_word`). Each row goes audio -> wake word (when the row names one) -> transcript -> intent:
- a row with a wake word the bundled models know is heard by that model; the command is the
  audio after the detection. A miss ends the turn there (the intent counts as wrong);
- a row with a wake word no bundled model knows is transcribed whole, and reported;
- a row without one is heard by `wake_model` to count false triggers, then transcribed whole.
Transcripts match exactly when their normalised words (see `wer.py`) are equal. Intent labels
outside our label space (the source project's, e.g. `orderBeverage`) are not scored: they are
counted apart, with what our recognizer made of the row.

Engines are composed directly, not through the turn pipeline, so VAD endpointing is not part
of this figure (`sottovoce bench pipeline` measures the live loop).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from assistant.evaluate import wake as wake_eval
from assistant.evaluate.asr import Skipped, engine_names
from assistant.evaluate.data import Problem, audio_rows, in_order, read_audio, rounded
from assistant.evaluate.intents import default_recognizer, known_labels
from assistant.evaluate.wer import normalize_words, word_errors
from models.asr import load_recognizer
from models.catalog import DEFAULT_WAKE_WORD
from models.errors import ModelError
from models.protocols import SAMPLE_RATE, Pcm, Recognizer, WakeWordDetector
from models.wake import load_wake_word
from skills.intents import IntentRecognizer

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    line: int
    file: Path
    text: str
    intent: str
    wake_word: str
    pcm: Pcm


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeOutcome:
    status: str
    at_s: float | None  # where the wake word fired
    false_triggers: int  # rows without a wake word: detections of `wake_model`


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
            )
        )
    return table, commands, in_order(problems)


def hear_wake(
    command: Command, detectors: dict[str, WakeWordDetector | None], default: str
) -> tuple[WakeOutcome, Pcm]:
    """The wake outcome of one row, and the audio left for the recognizer."""
    if not command.wake_word:
        detector = detectors[default]
        fired = _fire(detector, command.pcm) if detector is not None else []
        return WakeOutcome(status=WAKE_NONE, at_s=None, false_triggers=len(fired)), command.pcm
    model = wake_eval.model_for(command.wake_word)
    detector = detectors.get(model) if model else None
    if detector is None:
        return WakeOutcome(status=WAKE_NO_MODEL, at_s=None, false_triggers=0), command.pcm
    fired = _fire(detector, command.pcm)
    if not fired:
        return WakeOutcome(status=WAKE_MISSED, at_s=None, false_triggers=0), command.pcm[:0]
    at = fired[0]
    rest = command.pcm[min(len(command.pcm), round(at * SAMPLE_RATE)) :]
    return WakeOutcome(status=WAKE_DETECTED, at_s=rounded(at, 2), false_triggers=0), rest


def _fire(detector: WakeWordDetector, pcm: Pcm) -> list[float]:
    pad = np.zeros(round(wake_eval.PAD_S * SAMPLE_RATE), dtype=np.int16)
    fired, _cpu = wake_eval.run_stream(detector, np.concatenate([pad, pcm, pad]))
    return [t - wake_eval.PAD_S for t in fired]


def evaluate(
    path: Path,
    engines: Sequence[str] = ("whisper",),
    *,
    models: dict[str, str] | None = None,
    language: str = "en",
    wake_model: str = DEFAULT_WAKE_WORD,
    threshold: float = 0.5,
    intent_recognizer: IntentRecognizer | None = None,
) -> E2eReport:
    models = models or {}
    table, commands, problems = load_commands(path)
    intents = intent_recognizer or default_recognizer()
    labels = known_labels(intents)
    skipped: list[Skipped] = []
    detectors: dict[str, WakeWordDetector | None] = {}
    wanted = {wake_model} | {
        m for c in commands if c.wake_word and (m := wake_eval.model_for(c.wake_word))
    }
    for name in sorted(wanted):
        try:
            detectors[name] = load_wake_word(name, threshold=threshold)
        except ModelError as err:
            detectors[name] = None
            skipped.append(Skipped(name=name, reason=err.message))
    for c in commands:
        if c.wake_word and wake_eval.model_for(c.wake_word) is None:
            skipped.append(
                Skipped(name=c.wake_word, reason=f"line {c.line}: no bundled wake-word model")
            )
    heard = [(c, *hear_wake(c, detectors, wake_model)) for c in commands]
    names, not_run = engine_names(engines, models, language)
    skipped.extend(not_run)
    runs: list[EngineRun] = []
    for name in names:
        try:
            recognizer = load_recognizer(name, models.get(name), language)
        except ModelError as err:
            skipped.append(Skipped(name=name, reason=err.message))
            continue
        runs.append(_run(recognizer, heard, intents, labels))
    outcomes = [w for _c, w, _p in heard]
    wake_rows = sum(1 for w in outcomes if w.status in (WAKE_DETECTED, WAKE_MISSED))
    detected = sum(1 for w in outcomes if w.status == WAKE_DETECTED)
    return E2eReport(
        dataset=str(table),
        wake_model=wake_model,
        rows=len(commands),
        wake_rows=wake_rows,
        wake_detected=detected,
        wake_detection_rate=rounded(detected / wake_rows) if wake_rows else 0.0,
        wake_without_model=sum(1 for w in outcomes if w.status == WAKE_NO_MODEL),
        rows_without_wake=sum(1 for w in outcomes if w.status == WAKE_NONE),
        false_triggers=sum(w.false_triggers for w in outcomes),
        engines=runs,
        skipped=skipped,
        problems=problems,
    )


def _run(
    recognizer: Recognizer,
    heard: list[tuple[Command, WakeOutcome, Pcm]],
    intents: IntentRecognizer,
    labels: frozenset[str],
) -> EngineRun:
    recognizer.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.int16))  # lazy set-up
    rows: list[RowResult] = []
    words = wrong_words = 0
    for command, wake, pcm in heard:
        start = time.perf_counter()
        transcript = recognizer.transcribe(pcm).strip() if len(pcm) else ""
        asr_ms = (time.perf_counter() - start) * 1000
        exact: bool | None = None
        errors = 0
        if command.text:
            exact = normalize_words(command.text) == normalize_words(transcript)
            counted = word_errors(command.text, transcript)
            errors = counted.errors
            words += counted.reference_words
            wrong_words += errors
        got = intents.recognize(transcript).name if wake.status != WAKE_MISSED else "(no turn)"
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
                wake=wake.status,
                wake_at_s=wake.at_s,
                false_triggers=wake.false_triggers,
                transcript=transcript,
                exact_match=exact,
                word_errors=errors,
                got_intent=got,
                intent=outcome,
                asr_ms=rounded(asr_ms, 1),
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
    )


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
