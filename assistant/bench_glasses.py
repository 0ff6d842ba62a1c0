"""Tap-to-talk latency on the virtual glasses: `sottovoce bench glasses`.

Each run is one `glasses simulate` turn (a tap, a spoken `time.query` in the assistant's own voice,
the reply on the glasses' speaker), with the engines loaded once. Figures are in milliseconds:

- tap -> first reply frame: what the target names; it includes the spoken command itself.
- end of the spoken command -> first reply frame: the part the assistant can make faster.
- endpoint -> first reply frame: transcript, intent, skill, TTS and the link.

Both sides of the link run in this process on bumble, so the glasses' side costs host CPU that
real glasses would spend themselves.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from assistant import bench
from assistant.audio_convert import loud_span
from assistant.config import Settings
from assistant.engines import build_engines, speak_16k
from assistant.glasses import MIC_MODES
from assistant.glasses_cli import simulate
from assistant.progress import Progress, Steps, quiet
from models.protocols import SAMPLE_RATE

PHRASES = ("What time is it?", "What time?")


def steps(mics: tuple[str, ...]) -> int:
    return 1 + len(PHRASES) * len(mics)


def run_bench(
    settings: Settings, repeat: int, mics: tuple[str, ...], *, on_step: Progress = quiet
) -> dict[str, object]:
    """`on_step` hears each of the `steps(mics)` steps' names as it starts."""
    on_step("loading the engines")
    engines = build_engines(settings)
    result: dict[str, object] = {"machine": bench.machine()}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reply.wav"
        for phrase in PHRASES:
            speech = speak_16k(engines.tts, phrase)  # one take: Piper samples noise
            key = phrase.lower().rstrip("?").replace(" ", "_")
            start, end = loud_span(speech)
            result[f"{key}_spoken_s"] = round((end - start) / SAMPLE_RATE, 2)
            for mic in mics:
                on_step(f"{repeat} simulated turns: {phrase!r}, glasses mic {mic}")
                taps: list[float] = []
                ends: list[float] = []
                endpoints: list[float] = []
                answered = 0
                for _ in range(repeat):
                    r = asyncio.run(
                        simulate(
                            settings,
                            engines,
                            timeline=lambda _e: None,
                            speech=speech,
                            output=out,
                            mic=mic,
                        )
                    )
                    answered += r.turns
                    for values, seconds in (
                        (taps, r.tap_to_first_audio_s),
                        (ends, r.speech_end_to_first_audio_s),
                        (endpoints, r.endpoint_to_first_audio_s),
                    ):
                        if seconds is not None:
                            values.append(seconds * 1000)
                result[f"{key}_{mic}_answered"] = f"{answered}/{repeat}"
                result[f"{key}_{mic}_tap_to_first_frame_ms"] = bench.stats(taps)
                result[f"{key}_{mic}_speech_end_to_first_frame_ms"] = bench.stats(ends)
                result[f"{key}_{mic}_endpoint_to_first_frame_ms"] = bench.stats(endpoints)
    return result


def main(settings: Settings, *, as_json: bool, repeat: int, mic: str | None) -> int:
    mics = (mic,) if mic else MIC_MODES
    progress = Steps(steps(mics))
    result = run_bench(settings, repeat, mics, on_step=progress)
    progress.finish()
    bench.print_result(result, as_json=as_json)
    return 0
