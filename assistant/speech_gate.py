"""Is there speech in this audio at all? Asked before recognition, because Whisper, given
silence or noise, hallucinates a word ("you", "Thank you.") rather than return nothing.

The Silero VAD (the pipeline's endpointer) scores 32 ms frames; audio counts as speech once
`MIN_SPEECH_S` of frames score at or above the threshold. It stops at the first speech found, so
a spoken file costs a few frames; frames of digital silence skip the model.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from models.protocols import SAMPLE_RATE, Pcm, VoiceActivityDetector

MIN_SPEECH_S: Final = 0.1  # a short word has several times this; a click or a cough rarely does
_SILENT_PEAK: Final = 64  # int16 peak below -54 dBFS: nothing to hear, skip the model


def speech_seconds(
    pcm: Pcm, vad: VoiceActivityDetector, *, threshold: float, stop_at_s: float | None = None
) -> float:
    """Seconds of frames the VAD scores as speech (counting stops once `stop_at_s` is reached)."""
    frame = vad.frame_samples
    frame_s = frame / SAMPLE_RATE
    samples = np.asarray(pcm, dtype=np.int16).reshape(-1)
    heard = 0.0
    vad.reset()
    try:
        for first in range(0, len(samples) - frame + 1, frame):
            window = samples[first : first + frame]
            if int(np.abs(window.astype(np.int32)).max()) < _SILENT_PEAK:
                continue
            if vad.probability(window) >= threshold:
                heard += frame_s
                if stop_at_s is not None and heard >= stop_at_s:
                    break
    finally:
        vad.reset()
    return heard


def has_speech(
    pcm: Pcm, vad: VoiceActivityDetector, *, threshold: float, min_speech_s: float = MIN_SPEECH_S
) -> bool:
    return (
        speech_seconds(pcm, vad, threshold=threshold, stop_at_s=min_speech_s) >= min_speech_s - 1e-9
    )
