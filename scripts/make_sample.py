"""Regenerate the bundled sample assistant/data/hey_jarvis_what_time.wav with Piper.

Run: .venv/bin/python scripts/make_sample.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.audio_convert import resample
from assistant.wav_io import WavWriter
from models.tts import load_synthesizer

OUT = Path(__file__).resolve().parents[1] / "assistant" / "data" / "hey_jarvis_what_time.wav"


def main() -> None:
    voice = load_synthesizer(None)
    parts: list[np.ndarray] = [np.zeros(8000, dtype=np.int16)]
    for text, gap_s in (("Hey Jarvis.", 0.3), ("What time is it?", 1.5)):
        for pcm in voice.synthesize(text):
            parts.append(resample(pcm, voice.sample_rate, 16_000))
        parts.append(np.zeros(int(gap_s * 16_000), dtype=np.int16))
    writer = WavWriter(OUT, 16_000)
    writer.write(np.concatenate(parts))
    writer.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
