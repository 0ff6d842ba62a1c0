"""`sottovoce bench pipeline`: latency, CPU and memory of the voice loop, paced in real time.

Spoken commands are synthesized with the configured Piper voice (three speaking rates), framed as
"<wake phrase>. <command>" with known phrase boundaries, and fed through the real pipeline at
real-time pace. Latencies are measured from where the speech really ends in the audio to the
event on the pipeline's clock.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from assistant import audio_io
from assistant import events as ev
from assistant.app import bundled_sample
from assistant.assembly import Assistant, load_language_model
from assistant.audio import CHUNK_SAMPLES, AudioChunk
from assistant.audio_convert import loud_span
from assistant.config import IntentSettings, Settings, replace
from assistant.engines import build_engines, load_intents, speak_16k
from assistant.pipeline import Engines
from assistant.progress import Progress, Steps, quiet
from models.protocols import SAMPLE_RATE, Pcm
from skills.intents import IntentRecognizer
from skills.sdk import LanguageModel

COMMANDS = ("What time is it?", "What's the time?", "Tell me the time, please.")
QUESTIONS = ("What is the capital of France?", "Who wrote Romeo and Juliet?")
RATES = (0.9, 1.0, 1.1)
IDLE_TEXT = (
    "The committee met on Tuesday to discuss the budget for next year. Several members raised "
    "concerns about the cost of the new library, while others argued that the town had waited "
    "long enough. In the end they agreed to meet again after the holidays."
)


@dataclass(frozen=True, slots=True)
class Spoken:
    pcm: Pcm
    wake_end_s: float  # where the wake phrase's sound ends
    speech_end_s: float  # where the command's sound ends


def _trim(pcm: Pcm) -> Pcm:
    start, end = loud_span(pcm)
    return pcm[start:end]


def _speak(engines: Engines, text: str) -> Pcm:
    return _trim(speak_16k(engines.tts, text))


def spoken_command(engines: Engines, wake_phrase: str, command: str) -> Spoken:
    lead = np.zeros(int(0.6 * SAMPLE_RATE), dtype=np.int16)
    wake = _speak(engines, wake_phrase)
    gap = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.int16)
    cmd = _speak(engines, command)
    tail = np.zeros(int(2.0 * SAMPLE_RATE), dtype=np.int16)
    wake_end = (len(lead) + len(wake)) / SAMPLE_RATE
    speech_end = wake_end + (len(gap) + len(cmd)) / SAMPLE_RATE
    return Spoken(np.concatenate([lead, wake, gap, cmd, tail]), wake_end, speech_end)


class PacedArray:
    """A source that releases each chunk when it would have been captured."""

    name = "paced benchmark audio"

    def __init__(self, pcm: Pcm) -> None:
        self.pcm = pcm
        self.started = 0.0

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        self.started = time.monotonic()
        for i in range(0, len(self.pcm), CHUNK_SAMPLES):
            chunk = self.pcm[i : i + CHUNK_SAMPLES]
            due = self.started + (i + len(chunk)) / SAMPLE_RATE
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            yield AudioChunk(chunk, i / SAMPLE_RATE)

    async def close(self) -> None:
        pass


@functools.lru_cache(maxsize=2)
def _intents(cfg: IntentSettings) -> IntentRecognizer:
    """The recognizer `run` uses, loaded once for every turn of the benchmark."""
    return load_intents(Settings(intent=cfg))


def _assistant(
    settings: Settings,
    engines: Engines,
    home: Path,
    emit: Callable[[ev.Event], None],
    lm: LanguageModel | None = None,
) -> Assistant:
    """The assistant `run` builds, on the engines and intents loaded once, with no voice out and
    a fresh home. The language model is handed in where a step uses it, never loaded per turn."""
    return Assistant(
        replace(settings, "lm", enabled=False),
        sink=audio_io.NullSink(),
        emit=emit,
        home=home,
        engines=engines,
        intents=_intents(settings.intent),
        lm=lm,
    )


async def _one_turn(
    engines: Engines,
    settings: Settings,
    spoken: Spoken,
    *,
    lm: LanguageModel | None = None,
    intent: str = "time.query",
) -> dict[str, float]:
    events: list[ev.Event] = []
    source = PacedArray(spoken.pcm)
    with tempfile.TemporaryDirectory() as tmp:
        async with _assistant(
            replace(settings, "dialog", follow_up_s=0.0), engines, Path(tmp), events.append, lm
        ) as assistant:
            await assistant.pipeline.run(source, realtime=True)
    # stream position 0 on the pipeline clock
    origin = source.started - assistant.pipeline.clock_origin

    def at(kind: type[ev.Event]) -> float | None:
        found = [e.t for e in events if isinstance(e, kind)]
        return found[0] - origin if found else None

    out: dict[str, float] = {}
    marks = {
        "wake_event_ms": (ev.WakeDetected, spoken.wake_end_s),
        "endpoint_ms": (ev.SpeechEnded, spoken.speech_end_s),
        "transcript_ms": (ev.Transcript, spoken.speech_end_s),
        "first_reply_audio_ms": (ev.AudioOutStarted, spoken.speech_end_s),
    }
    for name, (kind, ref) in marks.items():
        t = at(kind)
        if t is not None:
            out[name] = (t - ref) * 1000
    reply, first_audio = at(ev.Reply), at(ev.AudioOutStarted)
    if reply is not None and first_audio is not None:
        out["tts_first_audio_ms"] = (first_audio - reply) * 1000
    intents = [e for e in events if isinstance(e, ev.IntentRecognized)]
    out["correct"] = float(bool(intents) and intents[0].name == intent)
    return out


def _open_questions(
    engines: Engines, settings: Settings, wake_phrase: str, repeat: int
) -> dict[str, object]:
    """End of an open question -> first audio of the model's answer, with the model started
    during the final silence ([dialog] answer_early) and without, alternately."""
    lm = load_language_model(settings)
    if lm is None:
        return {"open_question": "skipped: no language model (`sottovoce models prepare`)"}
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for text in QUESTIONS:
            spoken = spoken_command(engines, wake_phrase, text)
            for _ in range(repeat):
                for early in (False, True):
                    variant = replace(settings, "dialog", answer_early=early)
                    turn = asyncio.run(_one_turn(engines, variant, spoken, lm=lm, intent="answer"))
                    if "first_reply_audio_ms" in turn:
                        times[early].append(turn["first_reply_audio_ms"])
    finally:
        lm.close()
    return {
        "open_question_first_audio_ms": stats(times[True]),
        "open_question_first_audio_ms_answer_early_off": stats(times[False]),
    }


async def _idle_cpu(engines: Engines, settings: Settings, seconds: float) -> float:
    """CPU share of one core while hearing speech without the wake word."""
    speech = _speak(engines, IDLE_TEXT)
    reps = int(np.ceil(seconds * SAMPLE_RATE / len(speech)))
    pcm = np.tile(speech, reps)[: int(seconds * SAMPLE_RATE)]
    with tempfile.TemporaryDirectory() as tmp:
        async with _assistant(settings, engines, Path(tmp), lambda _e: None) as assistant:
            cpu0, wall0 = time.process_time(), time.monotonic()
            await assistant.pipeline.run(PacedArray(pcm), realtime=True)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    return cpu / wall


def _startup_and_rss() -> tuple[float, float]:
    """Process start to Ready, and peak RSS (MB), of `sottovoce run` on the bundled sample."""
    cmd = [
        sys.executable,
        "-m",
        "assistant.cli",
        "run",
        "--input",
        str(bundled_sample()),
        "--output",
        "null",
        "--json",
    ]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = float("nan")
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line).get("event") == "ready":
            ready = time.monotonic() - start
    _pid, _status, usage = os.wait4(proc.pid, 0)
    return ready, usage.ru_maxrss / 1024


def stats(values: list[float]) -> dict[str, float]:
    """Median and p95 (nearest rank), rounded to 0.1, and the count."""
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(values), 1), "p95": round(p95, 1), "n": len(values)}


STEPS: Final = 4 + len(RATES)


def run_bench(settings: Settings, repeat: int, *, on_step: Progress = quiet) -> dict[str, object]:
    """`on_step` hears each of the `STEPS` steps' names as it starts."""
    # First, while this process is small: a forked child's peak RSS counts the parent's pages.
    # Three runs: start-up is the median (one sample swings with the shared machine's load).
    on_step("start-up time and memory of 3 runs")
    runs = [_startup_and_rss() for _ in range(3)]
    startup = statistics.median(r[0] for r in runs)
    rss_mb = max(r[1] for r in runs)
    on_step("loading the engines")
    t0 = time.perf_counter()
    engines = build_engines(settings)
    load_s = time.perf_counter() - t0
    wake_phrase = settings.wake.model.replace("_", " ").title() + "."
    turns: list[dict[str, float]] = []
    for rate in RATES:
        on_step(f"{len(COMMANDS) * repeat} spoken turns at length scale {rate}")
        voice_settings = replace(settings, "tts", length_scale=rate)
        from assistant.engines import load_synthesizer

        speaker = Engines(engines.wake, engines.vad, engines.asr, load_synthesizer(voice_settings))
        for text in COMMANDS:
            spoken = spoken_command(speaker, wake_phrase, text)
            for _ in range(repeat):
                turns.append(asyncio.run(_one_turn(engines, settings, spoken)))
    on_step("open questions to the language model")
    questions = _open_questions(engines, settings, wake_phrase, repeat)
    on_step("CPU of 15 s idle listening")
    idle = asyncio.run(_idle_cpu(engines, settings, seconds=15.0))
    keys = [
        "wake_event_ms",
        "endpoint_ms",
        "transcript_ms",
        "first_reply_audio_ms",
        "tts_first_audio_ms",
    ]
    result: dict[str, object] = {
        "machine": machine(),
        "turns": len(turns),
        "understood": sum(t.get("correct", 0.0) for t in turns),
        "wake_detected": sum("wake_event_ms" in t for t in turns),
        **{k: stats([t[k] for t in turns if k in t]) for k in keys},
        **questions,
        "idle_listening_cpu_pct_of_one_core": round(idle * 100, 1),
        "engine_load_s": round(load_s, 2),
        "startup_to_ready_s_median_of_3": round(startup, 2),
        "peak_rss_mb_of_a_run": round(rss_mb, 1),
        "peak_rss_mb_of_this_benchmark": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
    }
    return result


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count() or 0} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def main(settings: Settings, *, as_json: bool, repeat: int) -> int:
    steps = Steps(STEPS)
    result = run_bench(settings, repeat, on_step=steps)
    steps.finish()
    print_result(result, as_json=as_json)
    return 0


def print_result(result: dict[str, object], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))  # one object, one line
        return
    print(f"machine: {result.pop('machine')}")
    width = max(36, *(len(key) + 1 for key in result))
    for key, value in result.items():
        if isinstance(value, dict):
            print(
                f"{key:{width}} median {value.get('median', '-'):>7}  "
                f"p95 {value.get('p95', '-'):>7}  (n={value.get('n', 0)})"
            )
        else:
            print(f"{key:{width}} {value}")
