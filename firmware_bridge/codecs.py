"""Audio codecs for the link: PCM16, G.711 mu-law and IMA-ADPCM built in, Opus through PyAV.

Every encoded frame decodes on its own (ADPCM frames carry their predictor state in a 4-byte
header), because audio is never resent: a lost frame is a gap, not a corrupted stream.
All audio here is mono int16.
"""

from __future__ import annotations

import importlib.util
import logging
import struct
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from firmware_bridge.errors import CodecError
from firmware_bridge.profile import Codec

_LOGGER = logging.getLogger(__name__)

Pcm = npt.NDArray[np.int16]

SAMPLE_RATE: Final = 16_000
FRAME_SAMPLES: Final = 320  # 20 ms: the frame size every codec here accepts (Opus needs it)

# Preference when both sides support several: smallest on air first.
PREFERENCE: Final = (Codec.OPUS, Codec.IMA_ADPCM, Codec.MULAW, Codec.PCM16)


class AudioCodec(Protocol):
    @property
    def codec(self) -> Codec: ...

    def encode(self, pcm: Pcm) -> bytes: ...

    def decode(self, data: bytes) -> Pcm: ...


class Pcm16Codec:
    codec = Codec.PCM16

    def encode(self, pcm: Pcm) -> bytes:
        return pcm.astype("<i2").tobytes()

    def decode(self, data: bytes) -> Pcm:
        if len(data) % 2:
            raise CodecError(f"PCM16 frame of odd length {len(data)}")
        return np.frombuffer(data, dtype="<i2").astype(np.int16)


_MULAW_BIAS: Final = 0x84
_MULAW_CLIP: Final = 32635
# Segment (exponent) of a biased magnitude, indexed by magnitude >> 7.
_SEGMENT: Final = np.array([max(0, int(v).bit_length() - 1) for v in range(256)], dtype=np.int32)


def _mulaw_table() -> npt.NDArray[np.int16]:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    magnitude = (((codes & 0x0F) << 3) + _MULAW_BIAS) << exponent
    values = np.where(codes & 0x80, -(magnitude - _MULAW_BIAS), magnitude - _MULAW_BIAS)
    return values.astype(np.int16)


_MULAW_DECODE: Final = _mulaw_table()


class MulawCodec:
    codec = Codec.MULAW

    def encode(self, pcm: Pcm) -> bytes:
        x = pcm.astype(np.int32)
        sign = np.where(x < 0, 0x80, 0)
        magnitude = np.minimum(np.abs(x), _MULAW_CLIP) + _MULAW_BIAS
        exponent = _SEGMENT[magnitude >> 7]
        mantissa = (magnitude >> (exponent + 3)) & 0x0F
        codes = ~(sign | (exponent << 4) | mantissa) & 0xFF
        return bytes(np.asarray(codes, dtype=np.uint8).tobytes())

    def decode(self, data: bytes) -> Pcm:
        return _MULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


_STEPS: Final = (
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60,
    66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371,
    408, 449, 494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878,
    2066, 2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845,
    8630, 9493, 10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086,
    29794, 32767,
)  # fmt: skip
_INDEX_SHIFT: Final = (-1, -1, -1, -1, 2, 4, 6, 8)
_ADPCM_HEADER: Final = struct.Struct("<hBx")  # predictor, step index, pad
# Reconstructed difference for each (step index, 4-bit code): decoding becomes table look-ups.
_DIFF: Final = [
    [
        (-1 if code & 8 else 1)
        * ((step >> 3) + (step if code & 4 else 0) + (step >> 1 if code & 2 else 0)
           + (step >> 2 if code & 1 else 0))
        for code in range(16)
    ]
    for step in _STEPS
]  # fmt: skip
_NEXT_INDEX: Final = [
    [min(88, max(0, index + _INDEX_SHIFT[code & 7])) for code in range(16)] for index in range(89)
]


class AdpcmCodec:
    """IMA-ADPCM, 4 bits a sample, low nibble first; 4-byte state header per frame."""

    codec = Codec.IMA_ADPCM

    def encode(self, pcm: Pcm) -> bytes:
        samples = pcm.tolist()
        if not samples:
            return b""
        predictor = samples[0]
        index = 0
        if len(samples) > 1:  # start from a step near the first difference, not the smallest
            first = abs(samples[1] - samples[0])
            while index < 88 and _STEPS[index] < first:
                index += 1
        header = _ADPCM_HEADER.pack(predictor, index)
        codes = bytearray()
        steps, diffs, nexts = _STEPS, _DIFF, _NEXT_INDEX
        for sample in samples:
            step = steps[index]
            delta = sample - predictor
            code = 0
            if delta < 0:
                code = 8
                delta = -delta
            if delta >= step:
                code |= 4
                delta -= step
            if delta >= step >> 1:
                code |= 2
                delta -= step >> 1
            if delta >= step >> 2:
                code |= 1
            predictor += diffs[index][code]
            if predictor > 32767:
                predictor = 32767
            elif predictor < -32768:
                predictor = -32768
            index = nexts[index][code]
            codes.append(code)
        if len(codes) % 2:
            codes.append(0)
        packed = bytes(codes[i] | (codes[i + 1] << 4) for i in range(0, len(codes), 2))
        return header + struct.pack("<H", len(samples)) + packed

    def decode(self, data: bytes) -> Pcm:
        if not data:
            return np.zeros(0, dtype=np.int16)
        if len(data) < _ADPCM_HEADER.size + 2:
            raise CodecError(f"ADPCM frame of {len(data)} bytes is shorter than its header")
        predictor, index = _ADPCM_HEADER.unpack_from(data)
        (count,) = struct.unpack_from("<H", data, _ADPCM_HEADER.size)
        body = data[_ADPCM_HEADER.size + 2 :]
        if index > 88 or (count + 1) // 2 != len(body):
            raise CodecError(f"ADPCM frame header does not match its {len(body)} data bytes")
        out = [0] * count
        diffs, nexts = _DIFF, _NEXT_INDEX
        for n in range(count):
            code = (body[n >> 1] >> ((n & 1) << 2)) & 0x0F
            predictor += diffs[index][code]
            if predictor > 32767:
                predictor = 32767
            elif predictor < -32768:
                predictor = -32768
            index = nexts[index][code]
            out[n] = predictor
        return np.array(out, dtype=np.int16)


class OpusCodec:
    """Opus through the libopus that PyAV's wheels bundle; 20 ms frames at 16 kHz."""

    codec = Codec.OPUS

    def __init__(self, bitrate: int = 24_000) -> None:
        import av  # PyAV (faster-whisper already depends on it)

        self._av: Any = av
        self._encoder: Any = av.CodecContext.create("libopus", "w")
        self._encoder.sample_rate = SAMPLE_RATE
        self._encoder.layout = "mono"
        self._encoder.format = "s16"
        self._encoder.bit_rate = bitrate
        self._encoder.open()
        self._decoder: Any = av.CodecContext.create("libopus", "r")
        self._decoder.sample_rate = SAMPLE_RATE
        self._decoder.layout = "mono"
        self._decoder.format = "s16"
        # libopus decodes at 48 kHz whatever is asked; the resampler brings it back to 16 kHz.
        self._resampler: Any = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._pts = 0

    def encode(self, pcm: Pcm) -> bytes:
        if len(pcm) != FRAME_SAMPLES:
            raise CodecError(f"Opus frames are {FRAME_SAMPLES} samples, not {len(pcm)}")
        frame = self._av.AudioFrame.from_ndarray(
            pcm.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        self._pts += len(pcm)
        return b"".join(bytes(packet) for packet in self._encoder.encode(frame))

    def decode(self, data: bytes) -> Pcm:
        if not data:
            return np.zeros(0, dtype=np.int16)
        try:
            frames = self._decoder.decode(self._av.Packet(data))
        except self._av.error.FFmpegError as err:
            raise CodecError(f"Opus packet does not decode: {err}") from err
        parts = [
            out.to_ndarray().reshape(-1).astype(np.int16)
            for frame in frames
            for out in self._resampler.resample(frame)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def opus_available() -> bool:
    if importlib.util.find_spec("av") is None:
        return False
    try:
        OpusCodec()
    except Exception as err:  # a PyAV build without libopus, or a broken install
        _LOGGER.info("Opus unavailable: %s", err)
        return False
    return True


def available_codecs() -> frozenset[Codec]:
    built_in = {Codec.PCM16, Codec.MULAW, Codec.IMA_ADPCM}
    return frozenset(built_in | ({Codec.OPUS} if opus_available() else set()))


def choose_codec(ours: frozenset[Codec], theirs: frozenset[Codec]) -> Codec:
    """The codec both sides pick from HELLO: the first shared one in `PREFERENCE`."""
    for codec in PREFERENCE:
        if codec in ours and codec in theirs:
            return codec
    return Codec.PCM16  # every implementation must support it


def make_codec(codec: Codec) -> AudioCodec:
    match codec:
        case Codec.PCM16:
            return Pcm16Codec()
        case Codec.MULAW:
            return MulawCodec()
        case Codec.IMA_ADPCM:
            return AdpcmCodec()
        case Codec.OPUS:
            return OpusCodec()
