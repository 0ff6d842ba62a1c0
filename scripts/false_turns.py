"""False turns after one wake word: a command, then minutes of people talking nearby.

The talk is synthesized in voices the assistant never uses (espeak-ng variants, flite voices
when installed) from conversational sentences written for this script: mostly statements,
some questions people ask each other. The real engines run the live pipeline with the default
settings (follow-up window on); the recognizer's intents decide, and each reply is a short
fixed sentence so the language model's speed does not matter. Prints the turns opened without
the wake word, what was answered, what was set aside as talk, and false wake-word detections.

Run: .venv/bin/python scripts/false_turns.py [--minutes 10] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from assistant import events as ev
from assistant.audio import AudioChunk
from assistant.audio_convert import resample
from assistant.config import Settings
from assistant.engines import build_engines, speak_16k
from assistant.pipeline import Pipeline
from models.protocols import SAMPLE_RATE, Pcm
from skills.intents import IntentRecognizer
from skills.sdk import Intent

TALK = [
    "I think the train was late again this morning",
    "she said she would call back after lunch",
    "we should paint the kitchen before the winter",
    "the meeting moved to thursday because of the holiday",
    "my brother bought a new bike last week",
    "that restaurant on the corner closed down",
    "did you see the game last night",
    "the kids have a school trip on friday",
    "I left my umbrella at the office",
    "it was raining the whole weekend",
    "he keeps forgetting his keys",
    "we ran out of milk again",
    "the report is almost finished",
    "can you believe how expensive the tickets were",
    "my phone battery dies so quickly now",
    "they are building a new bridge downtown",
    "I need to get a haircut soon",
    "the dog was barking all night",
    "we watched a documentary about whales",
    "her flight lands at nine",
    "the printer is broken again",
    "where did you park the car",
    "I have never been to Portugal",
    "the soup needs more salt",
    "he finally fixed the fence",
    "our neighbours are moving to the coast",
    "you should try the new bakery",
    "I fell asleep during the movie",
    "what did the doctor say",
    "the garden looks great this year",
    "they cancelled the concert",
    "I am going to the gym after work",
    "the bus was completely full",
    "my sister started a new job",
    "it is cold in here",
    "we are out of coffee",
    "how was your trip",
    "the price of petrol went up again",
    "I lost track of the time",
    "that book was better than the film",
]
ESPEAK_VOICES = ["en-us", "en-gb", "en-us+m3", "en-gb+f2", "en-us+f4", "en-gb-x-rp+m7"]
FLITE_VOICES = ["slt", "rms", "awb", "kal"]


def _read_wav(path: Path) -> Pcm:
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        if w.getnchannels() > 1:
            pcm = pcm.reshape(-1, w.getnchannels())[:, 0].copy()
        return resample(pcm, w.getframerate(), SAMPLE_RATE)


def _say(text: str, rng: random.Random, tmp: Path) -> Pcm:
    out = tmp / "talk.wav"
    if shutil.which("flite") and rng.random() < 0.4:
        cmd = ["flite", "-voice", rng.choice(FLITE_VOICES), "-t", text, "-o", str(out)]
    else:
        speed = str(rng.randint(140, 190))
        cmd = ["espeak-ng", "-v", rng.choice(ESPEAK_VOICES), "-s", speed, "-w", str(out), text]
    subprocess.run(cmd, check=True, capture_output=True)
    return _read_wav(out)


def _talk(minutes: float, rng: random.Random) -> Pcm:
    parts: list[Pcm] = []
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        while total < minutes * 60 * SAMPLE_RATE:
            speech = _say(rng.choice(TALK), rng, Path(tmp))
            gap = np.zeros(int(rng.uniform(0.2, 1.5) * SAMPLE_RATE), dtype=np.int16)
            parts += [speech, gap]
            total += len(speech) + len(gap)
    return np.concatenate(parts)


class _Source:
    name = "talk"

    def __init__(self, pcm: Pcm) -> None:
        self._pcm = pcm

    async def chunks(self):  # type: ignore[no-untyped-def]
        step = 1280
        for i in range(0, len(self._pcm) - step + 1, step):
            yield AudioChunk(self._pcm[i : i + step], i / SAMPLE_RATE)

    async def close(self) -> None:
        pass


class _Sink:
    name = "null"

    async def play(self, pcm: Pcm, sample_rate: int) -> None:
        pass

    async def drain(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def close(self) -> None:
        pass


class _Handler:
    def __init__(self, pipeline: Pipeline, recognizer: IntentRecognizer) -> None:
        self._pipeline = pipeline
        self._recognizer = recognizer

    def recognize(self, text: str) -> Intent:
        return self._recognizer.recognize(text)

    async def handle(self, intent: Intent) -> None:
        await self._pipeline.say("All right.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("needs espeak-ng: apt-get install espeak-ng")
    rng = random.Random(args.seed)
    settings = Settings()
    engines = build_engines(settings)
    wake = speak_16k(engines.tts, "Hey Jarvis, what time is it?")
    talk = _talk(args.minutes, rng)
    pause = np.zeros(int(0.4 * SAMPLE_RATE), dtype=np.int16)
    audio = np.concatenate([pause, wake, pause, talk, np.zeros(SAMPLE_RATE, dtype=np.int16)])
    events: list[ev.Event] = []
    pipeline = Pipeline(
        engines, _Sink(), vad=settings.vad, dialog=settings.dialog, emit=events.append
    )  # type: ignore[arg-type]
    pipeline.handler = _Handler(pipeline, IntentRecognizer.load())
    asyncio.run(pipeline.run(_Source(audio), realtime=False))
    starts = [e for e in events if isinstance(e, ev.TurnStarted)]
    answered = {e.turn for e in events if isinstance(e, ev.IntentRecognized)}
    follow = [s for s in starts if s.trigger == "follow_up"]
    false_answered = [s for s in follow if s.turn in answered]
    wakes = [e for e in events if isinstance(e, ev.WakeDetected)]
    print(f"talk: {len(talk) / SAMPLE_RATE / 60:.1f} min after one wake word (seed {args.seed})")
    print(f"wake-word detections: {len(wakes)} (1 expected: the command)")
    print(f"turns opened by the follow-up window: {len(follow)}")
    print(f"  answered (false turns): {len(false_answered)}")
    print(f"  set aside as talk: {sum(isinstance(e, ev.NotAddressed) for e in events)}")
    print(f"follow-up windows opened: {sum(isinstance(e, ev.FollowUpOpened) for e in events)}")
    texts = {e.turn: e.text for e in events if isinstance(e, ev.Transcript)}
    for s in false_answered:
        print(f"  false turn {s.turn}: {texts.get(s.turn, '')!r}")


if __name__ == "__main__":
    main()
