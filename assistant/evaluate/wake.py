"""`eval wake`: false rejects, false accepts per hour and detection latency of wake words.

A set is a folder with `labels.tsv` holding `file` and `wake_words` (a JSON list of the phrases
spoken in the clip, or one phrase). Each bundled model is scored on every clip: clips whose
`wake_words` hold its phrase are positives, all others negatives. Phrases with no bundled model
("porcupine") are listed as skipped; their clips still serve as negatives for the other models.
`negatives` adds long speech without wake words: an ASR set (its transcripts are checked for
the phrase) or a folder of WAV files.

Each positive clip is heard after a reset, with 1 s of silence before and after it, so a
phrase that ends the clip is scored in full; negatives are heard as one stream, 1 s of silence
between clips, as a day of listening would hear them. Latency is measured from the end of
speech (Silero VAD) to the end of the 80 ms step in which the detector fired.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from assistant.evaluate import asr as asr_eval
from assistant.evaluate.asr import Skipped
from assistant.evaluate.data import (
    EvalError,
    Problem,
    audio_rows,
    in_order,
    percentile,
    read_audio,
    rounded,
)
from assistant.evaluate.wer import normalize_words
from models.catalog import WAKE_WORD_MODELS
from models.errors import ModelError
from models.protocols import SAMPLE_RATE, Pcm, VoiceActivityDetector, WakeWordDetector
from models.vad import load_vad
from models.wake import FRAME_SAMPLES, load_wake_word, resolve_wake_word

_LOGGER = logging.getLogger(__name__)

PAD_S: Final = 1.0
_SPEECH: Final = 0.5  # VAD probability that counts as speech


@dataclass(frozen=True, slots=True, kw_only=True)
class Clip:
    file: Path
    wake_words: tuple[str, ...]  # as written in the set
    models: frozenset[str]  # bundled models whose phrase is in the clip
    transcript: str  # "" when unknown
    pcm: Pcm
    speech_end_s: float  # within the clip

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / SAMPLE_RATE


@dataclass(frozen=True, slots=True, kw_only=True)
class ClipResult:
    file: str
    positive: bool
    detections_s: list[float]  # where it fired, seconds into the clip
    latency_ms: float | None  # positives: first detection after the end of speech


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelScore:
    model: str
    positives: int
    false_rejects: int
    false_reject_rate: float
    negative_s: float
    false_accepts: int
    false_accepts_per_hour: float
    latency_ms_median: float | None
    latency_ms_p95: float | None
    cpu_ms_per_second: float
    clips: list[ClipResult]


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeReport:
    dataset: str
    negatives: list[str]
    threshold: float
    models: list[ModelScore]
    positives: int
    false_rejects: int
    false_reject_rate: float
    negative_hours: float  # summed over models
    false_accepts: int
    false_accepts_per_hour: float
    latencies_ms: list[float]
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def model_for(phrase: str) -> str | None:
    """The bundled model that listens for `phrase`, if there is one."""
    try:
        name, path = resolve_wake_word(phrase)
    except ModelError:
        return None
    return name if path is None else None


def _phrases(cell: str) -> tuple[str, ...]:
    text = cell.strip()
    if text.startswith("["):
        value = json.loads(text)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("wake_words must be a JSON list of strings")
        return tuple(v.strip() for v in value if v.strip())
    return (text,) if text else ()


def load_clips(
    path: Path, vad: VoiceActivityDetector
) -> tuple[Path, list[Clip], list[Skipped], list[Problem]]:
    table, rows, problems = audio_rows(path, ("labels.tsv",), required=("file",))
    clips: list[Clip] = []
    skipped: dict[str, Skipped] = {}
    for row, wav in rows:
        try:
            phrases = _phrases(row.get("wake_words"))
        except ValueError as err:  # json.JSONDecodeError is a ValueError
            problems.append(Problem(path=str(table), line=row.line, message=f"wake_words: {err}"))
            continue
        models = set()
        for phrase in phrases:
            model = model_for(phrase)
            if model is None:
                skipped.setdefault(
                    phrase,
                    Skipped(name=phrase, reason="no bundled wake-word model: negatives only"),
                )
            else:
                models.add(model)
        clip = _clip(table, row.line, wav, vad, phrases, frozenset(models))
        if isinstance(clip, Problem):
            problems.append(clip)
        else:
            clips.append(clip)
    return table, clips, list(skipped.values()), in_order(problems)


def load_negatives(path: Path, vad: VoiceActivityDetector) -> tuple[list[Clip], list[Problem]]:
    """Speech without wake words: an ASR set, or every WAV file under a folder."""
    if path.is_dir() and not any((path / n).is_file() for n in ("transcripts.tsv", "labels.tsv")):
        wavs = sorted(path.rglob("*.wav"))
        if not wavs:
            raise EvalError(f"{path} holds no WAV files.")
        found = [_clip(path, 0, wav, vad, (), frozenset()) for wav in wavs]
        return [c for c in found if isinstance(c, Clip)], [
            c for c in found if isinstance(c, Problem)
        ]
    table, items, problems = asr_eval.load_set(path)
    clips: list[Clip] = []
    for item in items:
        clip = _clip(table, item.line, item.file, vad, (), frozenset(), transcript=item.text)
        if isinstance(clip, Problem):
            problems.append(clip)
        else:
            clips.append(clip)
    return clips, problems


def _clip(
    table: Path,
    line: int,
    wav: Path,
    vad: VoiceActivityDetector,
    phrases: tuple[str, ...],
    models: frozenset[str],
    *,
    transcript: str = "",
) -> Clip | Problem:
    pcm = read_audio(table, line, wav)
    if isinstance(pcm, Problem):
        return pcm
    return Clip(
        file=wav,
        wake_words=phrases,
        models=models,
        transcript=transcript,
        pcm=pcm,
        speech_end_s=_speech_end(pcm, vad),
    )


def _speech_end(pcm: Pcm, vad: VoiceActivityDetector) -> float:
    vad.reset()
    size = vad.frame_samples
    last = 0
    for start in range(0, len(pcm) - size + 1, size):
        if vad.probability(pcm[start : start + size]) >= _SPEECH:
            last = start + size
    return (last or len(pcm)) / SAMPLE_RATE


def _says(transcript: str, model: str) -> bool:
    phrase = " ".join(normalize_words(model.replace("_", " ")))
    return f" {phrase} " in f" {' '.join(normalize_words(transcript))} "


def run_stream(detector: WakeWordDetector, pcm: Pcm) -> tuple[list[float], float]:
    """Seconds into `pcm` at which the detector fired (after a reset), and the CPU it took."""
    detector.reset()
    fired: list[float] = []
    cpu0 = time.process_time()
    for start in range(0, len(pcm), FRAME_SAMPLES):
        chunk = pcm[start : start + FRAME_SAMPLES]
        if detector.process(chunk) is not None:
            fired.append((start + len(chunk)) / SAMPLE_RATE)
    return fired, time.process_time() - cpu0


def _padded(clips: Sequence[Clip]) -> tuple[Pcm, list[float]]:
    """The clips one after another, each with PAD_S of silence before it (and one at the end),
    and where each clip starts in the stream."""
    pad = np.zeros(round(PAD_S * SAMPLE_RATE), dtype=np.int16)
    parts: list[Pcm] = []
    starts: list[float] = []
    position = 0
    for clip in clips:
        parts.extend((pad, clip.pcm))
        starts.append((position + len(pad)) / SAMPLE_RATE)
        position += len(pad) + len(clip.pcm)
    parts.append(pad)
    return np.concatenate(parts), starts


def evaluate(
    path: Path,
    *,
    negatives: Sequence[Path] = (),
    models: Sequence[str] = WAKE_WORD_MODELS,
    threshold: float = 0.5,
    refractory_s: float = 2.0,
) -> WakeReport:
    vad = load_vad()
    table, clips, skipped, problems = load_clips(path, vad)
    extra: list[Clip] = []
    for folder in negatives:
        found, trouble = load_negatives(folder, vad)
        extra.extend(found)
        problems.extend(trouble)
    scores: list[ModelScore] = []
    for model in models:
        try:
            detector = load_wake_word(model, threshold=threshold, refractory_s=refractory_s)
        except ModelError as err:
            skipped.append(Skipped(name=model, reason=err.message))
            continue
        scores.append(_score(detector, clips, extra))
    positives = sum(s.positives for s in scores)
    rejects = sum(s.false_rejects for s in scores)
    hours = sum(s.negative_s for s in scores) / 3600
    accepts = sum(s.false_accepts for s in scores)
    latencies = [
        c.latency_ms for s in scores for c in s.clips if c.positive and c.latency_ms is not None
    ]
    return WakeReport(
        dataset=str(table),
        negatives=[str(p) for p in negatives],
        threshold=threshold,
        models=scores,
        positives=positives,
        false_rejects=rejects,
        false_reject_rate=rounded(rejects / positives) if positives else 0.0,
        negative_hours=rounded(hours, 5),
        false_accepts=accepts,
        false_accepts_per_hour=rounded(accepts / hours, 2) if hours else 0.0,
        latencies_ms=latencies,
        skipped=skipped,
        problems=problems,
    )


def _score(detector: WakeWordDetector, clips: list[Clip], negatives: list[Clip]) -> ModelScore:
    """Positives one by one after a reset; negatives as one long stream, as a day of listening
    would be, each detection charged to the clip it fell in (or after)."""
    model = detector.name
    positives = [c for c in clips if model in c.models]
    # A transcript that holds the phrase makes a clip neither positive nor negative.
    quiet = [c for c in [*clips, *negatives] if model not in c.models]
    quiet = [c for c in quiet if not _says(c.transcript, model)]
    results: list[ClipResult] = []
    cpu = heard_s = 0.0
    for clip in positives:
        stream, (start,) = _padded([clip])
        fired, used = run_stream(detector, stream)
        cpu, heard_s = cpu + used, heard_s + len(stream) / SAMPLE_RATE
        after = [t - start for t in fired]
        latency = rounded((after[0] - clip.speech_end_s) * 1000, 1) if after else None
        results.append(
            ClipResult(
                file=clip.file.name,
                positive=True,
                detections_s=[rounded(t, 2) for t in after],
                latency_ms=latency,
            )
        )
    if quiet:
        stream, starts = _padded(quiet)
        fired, used = run_stream(detector, stream)
        cpu, heard_s = cpu + used, heard_s + len(stream) / SAMPLE_RATE
        for i, clip in enumerate(quiet):
            end = starts[i + 1] if i + 1 < len(starts) else len(stream) / SAMPLE_RATE
            begin = starts[i] if i else 0.0  # the lead-in silence belongs to the first clip
            mine = [t - starts[i] for t in fired if begin <= t < end]
            results.append(
                ClipResult(
                    file=clip.file.name,
                    positive=False,
                    detections_s=[rounded(t, 2) for t in mine],
                    latency_ms=None,
                )
            )
    negative_s = sum(c.duration_s for c in quiet)
    rejects = sum(1 for r in results if r.positive and not r.detections_s)
    accepts = sum(len(r.detections_s) for r in results if not r.positive)
    latencies = [r.latency_ms for r in results if r.latency_ms is not None]
    return ModelScore(
        model=model,
        positives=len(positives),
        false_rejects=rejects,
        false_reject_rate=rounded(rejects / len(positives)) if positives else 0.0,
        negative_s=rounded(negative_s, 3),
        false_accepts=accepts,
        false_accepts_per_hour=rounded(accepts / (negative_s / 3600), 2) if negative_s else 0.0,
        latency_ms_median=rounded(percentile(latencies, 50), 1) if latencies else None,
        latency_ms_p95=rounded(percentile(latencies, 95), 1) if latencies else None,
        cpu_ms_per_second=rounded(cpu * 1000 / heard_s, 2) if heard_s else 0.0,
        clips=results,
    )


def render(report: WakeReport) -> list[str]:
    lines = [
        f"wake word: {report.dataset}"
        + (f" + negatives {', '.join(report.negatives)}" if report.negatives else ""),
        f"threshold {report.threshold}: false rejects {report.false_rejects}/{report.positives}"
        f" ({report.false_reject_rate:.1%}), false accepts {report.false_accepts} in "
        f"{report.negative_hours * 60:.2f} min of negatives ({report.false_accepts_per_hour:.1f}"
        " per hour)",
        f"{'model':<12}{'FRR':>10}{'FA':>5}{'neg min':>9}{'FA/h':>9}{'lat p50':>9}{'lat p95':>9}"
        f"{'CPU ms/s':>10}",
    ]
    for s in report.models:
        p50 = f"{s.latency_ms_median:.0f}" if s.latency_ms_median is not None else "-"
        p95 = f"{s.latency_ms_p95:.0f}" if s.latency_ms_p95 is not None else "-"
        lines.append(
            f"{s.model:<12}{s.false_rejects:>5}/{s.positives:<4}{s.false_accepts:>5}"
            f"{s.negative_s / 60:>9.2f}{s.false_accepts_per_hour:>9.1f}{p50:>9}{p95:>9}"
            f"{s.cpu_ms_per_second:>10.1f}"
        )
        for c in s.clips:
            if c.positive or c.detections_s:
                kind = "positive" if c.positive else "NEGATIVE"
                fired = ", ".join(f"{t:.2f}s" for t in c.detections_s) or "missed"
                lines.append(f"    {kind} {c.file}: {fired}")
    lines.extend(f"skipped {s.name}: {s.reason}" for s in report.skipped)
    lines.extend(f"problem {p.describe()}" for p in report.problems)
    return lines
