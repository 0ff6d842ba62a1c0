"""Framing audio into codec frames, and putting received frames back in order with gaps filled."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from firmware_bridge.codecs import FRAME_SAMPLES, AudioCodec, Pcm
from firmware_bridge.errors import CodecError

_LOGGER = logging.getLogger(__name__)

MAX_GAP_FRAMES = 50  # a longer jump is a restart of the stream, not a gap to fill with silence


def frames_of(pcm: Pcm) -> Iterator[Pcm]:
    """Whole 20 ms frames; the last one is padded with silence."""
    for start in range(0, len(pcm), FRAME_SAMPLES):
        frame = pcm[start : start + FRAME_SAMPLES]
        if len(frame) < FRAME_SAMPLES:
            frame = np.concatenate([frame, np.zeros(FRAME_SAMPLES - len(frame), dtype=np.int16)])
        yield frame


@dataclass(slots=True)
class FrameReceiver:
    """Decodes one audio stream; a missing frame becomes 20 ms of silence, never a resend."""

    codec: AudioCodec
    expected: int | None = None
    gaps: int = 0
    missing_frames: int = 0
    late: int = 0
    bad: int = 0
    _silence: Pcm = field(default_factory=lambda: np.zeros(FRAME_SAMPLES, dtype=np.int16))

    def receive(self, index: int, data: bytes) -> Pcm | None:
        missing = 0 if self.expected is None else (index - self.expected) % 65536
        if missing >= 32768:  # behind us: a late or duplicated frame
            self.late += 1
            return None
        self.expected = (index + 1) % 65536
        try:
            pcm = self.codec.decode(data)
        except CodecError as err:
            self.bad += 1
            _LOGGER.info("audio frame %d does not decode: %s", index, err.message)
            pcm = self._silence
        if 0 < missing <= MAX_GAP_FRAMES:
            self.gaps += 1
            self.missing_frames += missing
            return np.concatenate([np.zeros(missing * FRAME_SAMPLES, dtype=np.int16), pcm])
        return pcm
