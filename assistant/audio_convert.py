"""Sample-format decoding, down-mixing and resampling, in numpy alone.

The resampler is a windowed-sinc (Kaiser) polyphase filter for any rational rate ratio. It is
streaming, so a microphone or a speaker can feed it block by block without clicks at the block
edges; `resample` is the one-shot form of the same filter.
"""

from __future__ import annotations

import functools
import math
from typing import Final

import numpy as np
import numpy.typing as npt

from models.protocols import SAMPLE_RATE, Pcm

Float32 = npt.NDArray[np.float32]

_ZERO_CROSSINGS: Final = 16  # filter half-length, in zero crossings of the lowest cutoff
_KAISER_BETA: Final = 8.6  # about 90 dB stop band
_ROLLOFF: Final = 0.92  # cutoff as a fraction of the lower Nyquist, leaves room for the transition
_BLOCK: Final = 2048  # outputs computed per numpy step, bounds temporary memory (~2 MB)


def decode_pcm(data: bytes, sample_width: int, channels: int, *, is_float: bool = False) -> Float32:
    """Interleaved little-endian samples -> float32 frames of shape (n, channels) in [-1, 1].

    Integer widths 1 (unsigned, as WAV stores 8-bit), 2, 3 and 4 bytes; float widths 4 and 8.
    A trailing partial frame is ignored.
    """
    if channels < 1:
        raise ValueError(f"channels must be at least 1, not {channels}")
    frame_bytes = sample_width * channels
    data = data[: len(data) - len(data) % frame_bytes] if frame_bytes else b""
    if is_float:
        if sample_width not in (4, 8):
            raise ValueError(f"float samples must be 4 or 8 bytes wide, not {sample_width}")
        flat = np.frombuffer(data, dtype=f"<f{sample_width}").astype(np.float32)
        flat = np.nan_to_num(np.clip(flat, -1.0, 1.0), nan=0.0)
    elif sample_width == 1:
        flat = (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif sample_width == 2:
        flat = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    elif sample_width == 3:
        raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        packed = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        signed = (packed << 8) >> 8  # sign-extend bit 23 through an arithmetic shift
        flat = signed.astype(np.float32) / float(1 << 23)
    elif sample_width == 4:
        flat = (np.frombuffer(data, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(
            np.float32
        )
    else:
        raise ValueError(f"integer samples must be 1 to 4 bytes wide, not {sample_width}")
    return flat.reshape(-1, channels)


def _g711_tables() -> tuple[Float32, Float32]:
    """ITU-T G.711 expansion of every 8-bit code, as float in [-1, 1] (16-bit scale)."""
    codes = np.arange(256, dtype=np.int32)
    u = ~codes & 0xFF  # mu-law stores the complement
    magnitude = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)
    mulaw = np.where(u & 0x80, 0x84 - magnitude, magnitude - 0x84)
    a = codes ^ 0x55  # A-law inverts the even bits
    exponent, mantissa = (a >> 4) & 0x07, a & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    alaw = np.where(a & 0x80, magnitude, -magnitude)
    return (mulaw / 32768.0).astype(np.float32), (alaw / 32768.0).astype(np.float32)


_MULAW_TABLE, _ALAW_TABLE = _g711_tables()


def decode_mulaw(data: bytes, channels: int) -> Float32:
    """G.711 mu-law bytes (8-bit, interleaved) -> float32 frames of shape (n, channels)."""
    return _expand(_MULAW_TABLE, data, channels)


def decode_alaw(data: bytes, channels: int) -> Float32:
    """G.711 A-law bytes (8-bit, interleaved) -> float32 frames of shape (n, channels)."""
    return _expand(_ALAW_TABLE, data, channels)


def _expand(table: Float32, data: bytes, channels: int) -> Float32:
    if channels < 1:
        raise ValueError(f"channels must be at least 1, not {channels}")
    codes = np.frombuffer(data[: len(data) - len(data) % channels], dtype=np.uint8)
    return table[codes].reshape(-1, channels)


def to_mono(frames: npt.NDArray[np.floating] | npt.NDArray[np.integer]) -> Float32:
    """Average every channel of (n, channels) frames (or pass a 1-D signal through) as float32."""
    samples = np.asarray(frames, dtype=np.float32)
    return samples if samples.ndim == 1 else samples.mean(axis=1, dtype=np.float32)


def float_to_pcm(samples: npt.NDArray[np.floating]) -> Pcm:
    """Float samples in [-1, 1] -> int16, clipped rather than wrapped."""
    scaled = np.clip(np.rint(np.asarray(samples, dtype=np.float64) * 32768.0), -32768, 32767)
    return scaled.astype(np.int16)


def pcm_to_float(pcm: Pcm) -> Float32:
    return np.asarray(pcm, dtype=np.float32) / 32768.0


def convert_to_16k_mono(
    data: bytes, sample_rate: int, channels: int, sample_width: int, *, is_float: bool = False
) -> Pcm:
    """Raw interleaved PCM of any rate, width and channel count -> 16 kHz mono int16."""
    mono = to_mono(decode_pcm(data, sample_width, channels, is_float=is_float))
    return float_to_pcm(resample_float(mono, sample_rate, SAMPLE_RATE))


def loud_span(pcm: Pcm, floor: int = 300) -> tuple[int, int]:
    """[first, last + 1) of the samples louder than `floor`; (0, 0) when none is."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > floor)
    return (int(loud[0]), int(loud[-1]) + 1) if len(loud) else (0, 0)


def resample(pcm: Pcm, from_rate: int, to_rate: int) -> Pcm:
    """Mono int16 from one rate to another (one shot; use `Resampler` for a stream)."""
    if from_rate == to_rate:
        return np.array(pcm, dtype=np.int16)
    return float_to_pcm(resample_float(pcm_to_float(pcm), from_rate, to_rate))


def resample_float(samples: Float32, from_rate: int, to_rate: int) -> Float32:
    if from_rate == to_rate:
        return np.array(samples, dtype=np.float32)
    resampler = Resampler(from_rate, to_rate)
    return np.concatenate([resampler.process(samples), resampler.flush()])


class Resampler:
    """Streaming mono resampler: `process` blocks as they come, then `flush` once at the end.

    Output sample n sits at input position n * from_rate / to_rate; it is the input convolved
    with a Kaiser-windowed sinc whose cutoff is below both Nyquist frequencies, so downsampling
    does not alias and upsampling does not image. The output is delayed by nothing: the filter
    is centred, so process() holds back the last few input samples until their future arrives.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        if from_rate <= 0 or to_rate <= 0:
            raise ValueError(f"sample rates must be positive, not {from_rate} -> {to_rate}")
        g = math.gcd(from_rate, to_rate)
        self.from_rate, self.to_rate = from_rate, to_rate
        self._up, self._down = to_rate // g, from_rate // g
        self._table = _filter_table(self._up, self._down)
        self._half = self._table.shape[1] // 2  # taps reach input b-half+1 .. b+half for base b
        self.reset()

    def reset(self) -> None:
        """Forget the stream so far (after a gap, or a barge-in)."""
        self._buf: Float32 = np.zeros(self._half, dtype=np.float32)  # silence before the start
        self._buf_start = -self._half  # absolute input index of _buf[0]
        self._next_out = 0
        self._consumed = 0  # real input samples seen

    def process(self, samples: npt.NDArray[np.floating]) -> Float32:
        block = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._consumed += len(block)
        self._buf = np.concatenate([self._buf, block])
        return self._emit(self._buf_start + len(self._buf))

    def flush(self) -> Float32:
        """The outputs still held back, computed against trailing silence; then reset."""
        total = -(-self._consumed * self._up // self._down)  # ceil: every input gets its share
        self._buf = np.concatenate([self._buf, np.zeros(2 * self._half + 1, dtype=np.float32)])
        out = self._emit(self._buf_start + len(self._buf), limit=total)
        self.reset()
        return out

    def _emit(self, available: int, limit: int | None = None) -> Float32:
        # Output n needs input up to base(n) + half; base(n) = n * down // up.
        last = ((available - self._half) * self._up - 1) // self._down  # last n fully covered
        stop = last + 1 if limit is None else min(last + 1, limit)
        pieces: list[Float32] = []
        taps = np.arange(-self._half + 1, self._half + 1)
        for first in range(self._next_out, max(stop, self._next_out), _BLOCK):
            n = np.arange(first, min(first + _BLOCK, stop), dtype=np.int64)
            scaled = n * self._down
            base, phase = scaled // self._up, scaled % self._up
            window = self._buf[(base - self._buf_start)[:, None] + taps[None, :]]
            pieces.append(np.einsum("ij,ij->i", window, self._table[phase]).astype(np.float32))
        self._next_out = max(stop, self._next_out)
        keep_from = self._next_out * self._down // self._up - self._half + 1 - self._buf_start
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._buf_start += keep_from
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


@functools.lru_cache(maxsize=16)
def _filter_table(up: int, down: int) -> Float32:
    """Row p holds the taps for outputs whose position is a fraction p/up past an input sample.

    Built a few rows at a time, so that an awkward rate pair (up to 16000 phases of ~800 taps
    for 383,999 Hz -> 16 kHz) costs the table itself and not five float64 copies of it.
    """
    cutoff = _ROLLOFF * min(1.0, up / down)  # relative to the input Nyquist frequency
    half = math.ceil(_ZERO_CROSSINGS / cutoff)
    offsets = np.arange(-half + 1, half + 1, dtype=np.float64)  # input index minus base
    table = np.empty((up, len(offsets)), dtype=np.float32)
    rows = max(1, _BLOCK * 8 // len(offsets))
    for first in range(0, up, rows):
        phases = np.arange(first, min(first + rows, up), dtype=np.float64)
        tau = phases[:, None] / up - offsets[None, :]  # time to each tap
        window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1.0 - (tau / half) ** 2, 0.0, None)))
        taps = cutoff * np.sinc(cutoff * tau) * window / np.i0(_KAISER_BETA)
        taps /= taps.sum(axis=1, keepdims=True)  # unity gain at DC for every phase
        table[first : first + len(phases)] = taps
    return table
