"""Test signals, and a WAV encoder independent of the one under test."""

from __future__ import annotations

import struct
from typing import Literal

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def tone(hz: float, rate: int, seconds: float, amplitude: float = 0.5) -> Floats:
    t = np.arange(round(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * hz * t)


def dominant_hz(samples: npt.ArrayLike, rate: int) -> float:
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(spectrum.argmax())])


def rms(samples: npt.ArrayLike) -> float:
    x = np.asarray(samples, dtype=np.float64)
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def encode(frames: Floats, width: int, kind: Literal["pcm", "float"]) -> bytes:
    """Frames in [-1, 1] of shape (n, channels) -> interleaved little-endian sample bytes."""
    x = np.clip(frames, -1.0, 1.0 - 1e-9).reshape(-1)
    if kind == "float":
        return x.astype(f"<f{width}").tobytes()
    if width == 1:
        return np.round(x * 127 + 128).astype(np.uint8).tobytes()
    scaled = np.round(x * (2 ** (8 * width - 1) - 1)).astype(np.int64)
    if width == 3:  # the low three bytes of each little-endian int32
        little: npt.NDArray[np.uint8] = scaled.astype("<i4").view(np.uint8).reshape(-1, 4)
        return little[:, :3].tobytes()
    return np.asarray(scaled, dtype=f"<i{width}").tobytes()


def wav_bytes(
    frames: Floats,
    rate: int,
    *,
    width: int = 2,
    kind: Literal["pcm", "float"] = "pcm",
    extensible: bool = False,
    before_data: bytes = b"",
) -> bytes:
    """A complete WAV file; `before_data` is inserted as raw chunks between fmt and data."""
    frames = frames.reshape(len(frames), -1)
    channels = frames.shape[1]
    tag = 3 if kind == "float" else 1
    common = (channels, rate, rate * channels * width, channels * width, 8 * width)
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = (
            struct.pack("<HHIIHHHHI", 0xFFFE, *common, 22, 8 * width, 0)
            + struct.pack("<H", tag)
            + guid_tail
        )
    else:
        fmt = struct.pack("<HHIIHH", tag, *common)
    data = encode(frames, width, kind)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + before_data + _chunk(b"data", data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(chunk_id: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return chunk_id + struct.pack("<I", len(payload)) + payload + pad
