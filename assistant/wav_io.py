"""WAV files read by walking the RIFF chunks ourselves, and written as 16-bit mono.

Python's `wave` rejects IEEE float and WAVE_FORMAT_EXTENSIBLE files, which many recorders and
editors write, so the reader parses `fmt ` and `data` itself. It is lenient where recorders are
sloppy (a `data` size left at 0xFFFFFFFF by a streaming writer, audio cut short after a good
header: what is there is read) and strict where the file cannot be understood.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np

from assistant.audio_convert import Float32, decode_pcm, float_to_pcm, resample_float, to_mono
from assistant.errors import AudioError
from models.protocols import SAMPLE_RATE, Pcm

log = logging.getLogger(__name__)

_PCM: Final = 0x0001
_FLOAT: Final = 0x0003
_EXTENSIBLE: Final = 0xFFFE
_CONVERT_HINT: Final = (
    "Use a PCM or float WAV file, e.g. convert it with `sox IN -r 16000 -c 1 -b 16 OUT.wav` "
    "or `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WavAudio:
    frames: Float32  # shape (n, channels), in [-1, 1]
    sample_rate: int

    @property
    def channels(self) -> int:
        return int(self.frames.shape[1])

    @property
    def duration_s(self) -> float:
        return len(self.frames) / self.sample_rate


@dataclass(frozen=True, slots=True)
class _Format:
    tag: int
    channels: int
    sample_rate: int
    sample_width: int


def read_wav(path: str | Path) -> WavAudio:
    """Any PCM (8/16/24/32-bit) or float (32/64-bit) WAV, any rate and channel count."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise AudioError(
            f"{path}: no such file. Check the path.", code="audio_file_missing"
        ) from err
    except OSError as err:
        raise AudioError(f"{path}: cannot read it ({err.strerror}).", code="audio_file") from err
    return _parse(path, data)


def read_wav_16k_mono(path: str | Path) -> Pcm:
    """A WAV file as the assistant hears it: 16 kHz mono int16."""
    audio = read_wav(path)
    return float_to_pcm(resample_float(to_mono(audio.frames), audio.sample_rate, SAMPLE_RATE))


def _bad(path: Path, problem: str) -> AudioError:
    return AudioError(f"{path}: {problem}. {_CONVERT_HINT}", code="audio_file_invalid")


def _parse(path: Path, data: bytes) -> WavAudio:
    if not data:
        raise _bad(path, "the file is empty")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise _bad(path, "not a WAV file (no RIFF/WAVE header)")
    fmt: _Format | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(path, data[body : body + size])
        elif chunk_id == b"data":
            if fmt is None:
                raise _bad(path, "the data chunk comes before the fmt chunk")
            available = len(data) - body
            if size > available:  # 0xFFFFFFFF: a streaming writer never came back to fix it
                if size != 0xFFFFFFFF:
                    log.warning("%s is cut short: %d of %d audio bytes", path, available, size)
                size = available
            return _decode(path, data[body : body + size], fmt)
        pos = body + size + (size & 1)  # chunks are word-aligned
    if fmt is None:
        raise _bad(path, "truncated or damaged: no fmt chunk")
    raise _bad(path, "truncated or damaged: no data chunk")


def _parse_fmt(path: Path, body: bytes) -> _Format:
    if len(body) < 16:
        raise _bad(path, "truncated or damaged: fmt chunk is too short")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE:
        if len(body) < 40:
            raise _bad(path, "truncated or damaged: WAVE_FORMAT_EXTENSIBLE fmt chunk is too short")
        tag = struct.unpack_from("<H", body, 24)[0]  # first two bytes of the sub-format GUID
    if tag not in (_PCM, _FLOAT):
        raise _bad(
            path, f"unsupported encoding (format tag {tag:#06x}); only PCM and float are read"
        )
    if channels < 1 or rate < 1:
        raise _bad(path, f"impossible format: {channels} channels at {rate} Hz")
    width = (bits + 7) // 8
    if block_align and block_align != width * channels:
        width = block_align // channels  # trust the container size over the valid bits
    if (tag == _PCM and width not in (1, 2, 3, 4)) or (tag == _FLOAT and width not in (4, 8)):
        kind = "PCM" if tag == _PCM else "float"
        raise _bad(path, f"unsupported sample size: {bits}-bit {kind}")
    return _Format(tag=tag, channels=channels, sample_rate=rate, sample_width=width)


def _decode(path: Path, body: bytes, fmt: _Format) -> WavAudio:
    frames = decode_pcm(body, fmt.sample_width, fmt.channels, is_float=fmt.tag == _FLOAT)
    if len(frames) == 0:
        raise _bad(path, "contains no audio (the data chunk is empty)")
    log.debug("%s: %d Hz, %d ch, %d frames", path, fmt.sample_rate, fmt.channels, len(frames))
    return WavAudio(frames=frames, sample_rate=fmt.sample_rate)


class WavWriter:
    """16-bit mono WAV written incrementally; the header is valid after every `write`."""

    def __init__(self, path: str | Path, sample_rate: int) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = self.path.open("wb")
        self._data_bytes = 0
        self._file.write(_header(sample_rate, 0))

    def write(self, pcm: Pcm) -> None:
        payload = np.asarray(pcm, dtype="<i2").tobytes()
        self._file.seek(0, 2)
        self._file.write(payload)
        self._data_bytes += len(payload)
        self._file.seek(0)
        self._file.write(_header(self.sample_rate, self._data_bytes))
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def _header(sample_rate: int, data_bytes: int) -> bytes:
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        _PCM,
        1,
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        data_bytes,
    )
