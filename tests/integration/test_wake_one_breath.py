"""Commands said in one breath after the wake word keep their first word, on the real models.

Every bundled wake model hears its phrase run straight into a command (and with a comma), in
Piper's voice and in espeak-ng's; the turn's transcript must start at the command.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant import events as ev
from assistant.assembly import Assistant
from assistant.audio import CHUNK_SAMPLES
from assistant.audio_convert import resample
from assistant.config import Settings, replace
from assistant.engines import Engines, build_engines, doubt_threshold, speak_16k
from models.catalog import WAKE_WORD_MODELS
from models.protocols import SAMPLE_RATE, Pcm
from models.wake import load_wake_word
from models.wake_phrase import GREETINGS, spoken_phrase
from skills.intents import IntentRecognizer
from skills.sdk import Intent
from tests.unit.fakes import ListSource, RecordingSink

pytestmark = pytest.mark.integration


class _Recognize:
    def __init__(self) -> None:
        self._intents = IntentRecognizer.load()

    def recognize(self, text: str) -> Intent:
        return self._intents.recognize(text)

    async def handle(self, intent: Intent) -> None:
        pass


def _turn(engines: Engines, settings: Settings, pcm: Pcm) -> tuple[list[str], list[str]]:
    """(transcripts, intents) of the audio run through the live pipeline."""
    pad = np.zeros(SAMPLE_RATE // 2, dtype=np.int16)
    audio = np.concatenate([pad, pcm, pad, pad, pad])
    chunks = [
        audio[i : i + CHUNK_SAMPLES]
        for i in range(0, len(audio) - CHUNK_SAMPLES + 1, CHUNK_SAMPLES)
    ]
    events: list[ev.Event] = []
    listener = Assistant(
        replace(settings, "dialog", follow_up_s=0.0),
        sink=RecordingSink(),
        emit=events.append,
        engines=engines,
        handler=_Recognize(),
    )

    async def listen() -> None:
        async with listener as assistant:
            await assistant.pipeline.run(ListSource(chunks), realtime=False)

    asyncio.run(listen())
    transcripts = [e.text for e in events if isinstance(e, ev.Transcript)]
    intents = [e.name for e in events if isinstance(e, ev.IntentRecognized)]
    return transcripts, intents


def _espeak(text: str, tmp: Path) -> Pcm:
    out = tmp / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(out), text], check=True)
    with wave.open(str(out)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        return resample(pcm, w.getframerate(), SAMPLE_RATE)


@pytest.fixture(scope="module")
def engines() -> Engines:
    return build_engines(Settings())


def test_the_issue_example_in_piper_and_espeak(engines: Engines, tmp_path: Path) -> None:
    settings = Settings()
    said = "hey jarvis start a timer for twenty minutes"
    voices = {"piper": speak_16k(engines.tts, said)}
    if shutil.which("espeak-ng"):
        voices["espeak-ng"] = _espeak(said, tmp_path)
    for voice, pcm in voices.items():
        transcripts, intents = _turn(engines, settings, pcm)
        assert intents == ["timer.start"], (voice, transcripts)
        assert transcripts[0].lower().startswith("start"), (voice, transcripts)


@pytest.mark.parametrize("model", WAKE_WORD_MODELS)
def test_every_bundled_wake_model_in_one_breath(engines: Engines, model: str) -> None:
    settings = replace(Settings(), "wake", model=model)
    # Loaded as `run` loads it: doubtful detections are confirmed by the recognizer.
    wake = load_wake_word(model, doubt_threshold=doubt_threshold(settings))
    engines = dataclasses.replace(engines, wake=wake)
    phrase = " ".join(w.capitalize() for w in spoken_phrase(model).split())
    names = set(spoken_phrase(model).split()) - GREETINGS
    results = []
    for _ in range(2):  # Piper's voice varies from one synthesis to the next
        for joint in (" ", ", "):
            for command, intent in (
                ("start a timer for twenty minutes", "timer.start"),
                ("what time is it", "time.query"),
            ):
                pcm = speak_16k(engines.tts, f"{phrase}{joint}{command}")
                transcripts, intents = _turn(engines, settings, pcm)
                results.append((transcripts, intents, intent))
    # A wake model may miss its phrase in this one voice: hey_mycroft heard "Hey Mycroft what
    # time is it" 5 times in 12 (its score stays under the doubt threshold), the rest 17-20
    # in 20. What is heard must start at the command.
    heard = [r for r in results if r[0]]
    assert len(heard) >= 3, (model, results)
    for transcripts, _, _ in heard:
        first = transcripts[0].lower().split()
        assert first and first[0] not in names | GREETINGS, (model, transcripts)
    right = [r for r in heard if r[1] == [r[2]]]
    assert len(right) >= len(heard) - 1, (model, results)
