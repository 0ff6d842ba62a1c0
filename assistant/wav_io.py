"""WAV files read by walking the RIFF chunks ourselves, and written as 16-bit mono.

Python's `wave` rejects IEEE float, WAVE_FORMAT_EXTENSIBLE, RF64 and G.711 files, which many
recorders, editors and phone systems write, so the reader parses `fmt `, `ds64` and `data`
itself. It is lenient where recorders are sloppy (a `data` size left at 0xFFFFFFFF by a streaming
writer, audio cut short after a good header: what is there is read) and strict where the file
cannot be understood or its header asks for something absurd (a rate outside 4-384 kHz, hundreds
of channels): the header never decides how much memory is used.

Audio is read in blocks of about `BLOCK_BYTES`: `iter_wav_16k_mono` converts a file of any length
to 16 kHz mono with memory independent of its length; `read_wav` and `read_wav_16k_mono` are the
whole-file forms.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import struct
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np

from assistant.audio_convert import (
    Float32,
    Resampler,
    decode_alaw,
    decode_mulaw,
    decode_pcm,
    float_to_pcm,
    to_mono,
)
from assistant.errors import AudioError
from models.protocols import SAMPLE_RATE, Pcm

log = logging.getLogger(__name__)

_PCM: Final = 0x0001
_FLOAT: Final = 0x0003
_ALAW: Final = 0x0006
_MULAW: Final = 0x0007
_EXTENSIBLE: Final = 0xFFFE
_PLACEHOLDER: Final = 0xFFFFFFFF  # a size a streaming writer never came back to fill in

MIN_RATE: Final = 4_000
MAX_RATE: Final = 384_000
MAX_CHANNELS: Final = 256
BLOCK_BYTES: Final = 1 << 20  # raw audio read per step
_MAX_CHUNKS: Final = 10_000  # chunk headers walked before `data`: a damaged file, not a WAV
_MAX_FMT_BYTES: Final = 4096  # the longest fmt chunk is 40 bytes; the rest is never read

_CONVERT_HINT: Final = (
    "Use a PCM, float, mu-law or A-law WAV file, e.g. convert it with "
    "`sox IN -r 16000 -c 1 -b 16 OUT.wav` or `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`."
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


@dataclass(frozen=True, slots=True, kw_only=True)
class WavInfo:
    """What the header says, checked: where the audio is and how to decode it."""

    path: Path
    encoding: int  # _PCM, _FLOAT, _ALAW or _MULAW (an extensible file's sub-format)
    channels: int
    sample_rate: int
    sample_width: int  # bytes per sample as stored
    data_offset: int
    data_bytes: int  # what the file really holds, whole frames only

    @property
    def frame_bytes(self) -> int:
        return self.sample_width * self.channels

    @property
    def frames(self) -> int:
        return self.data_bytes // self.frame_bytes

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def decode(self, data: bytes) -> Float32:
        """Raw bytes of whole frames -> float32 (n, channels) in [-1, 1]."""
        if self.encoding == _MULAW:
            return decode_mulaw(data, self.channels)
        if self.encoding == _ALAW:
            return decode_alaw(data, self.channels)
        return decode_pcm(data, self.sample_width, self.channels, is_float=self.encoding == _FLOAT)


def wav_info(path: str | Path) -> WavInfo:
    """Parse and check the header; raises `AudioError` naming the file and the fix."""
    path = Path(path)
    with _open(path) as file:
        return _parse_header(path, file, os.fstat(file.fileno()).st_size)


def iter_wav_frames(path: str | Path, *, block_bytes: int = BLOCK_BYTES) -> Iterator[Float32]:
    """The audio as float32 (n, channels) blocks of about `block_bytes` of the file each."""
    path = Path(path)
    with _open(path) as file:
        info = _parse_header(path, file, os.fstat(file.fileno()).st_size)
        yield from _blocks(info, file, block_bytes)


def iter_wav_16k_mono(
    path: str | Path, *, block_bytes: int = BLOCK_BYTES
) -> Generator[Pcm, None, None]:
    """A WAV file as the assistant hears it, 16 kHz mono int16, block by block.

    The header is checked before the first block is yielded; memory does not grow with length.
    """
    path = Path(path)
    with _open(path) as file:
        info = _parse_header(path, file, os.fstat(file.fileno()).st_size)
        resampler = (
            None if info.sample_rate == SAMPLE_RATE else Resampler(info.sample_rate, SAMPLE_RATE)
        )
        for block in _blocks(info, file, block_bytes):
            mono = to_mono(block)
            out = mono if resampler is None else resampler.process(mono)
            if len(out):
                yield float_to_pcm(out)
        if resampler is not None:
            tail = resampler.flush()
            if len(tail):
                yield float_to_pcm(tail)


def read_wav(path: str | Path) -> WavAudio:
    """Any PCM (8/16/24/32-bit), float (32/64-bit), mu-law or A-law WAV (RIFF or RF64), any
    rate from 4 to 384 kHz and any channel count up to 256, read whole."""
    path = Path(path)
    with _open(path) as file:
        info = _parse_header(path, file, os.fstat(file.fileno()).st_size)
        blocks = list(_blocks(info, file, BLOCK_BYTES))
    frames = np.concatenate(blocks) if blocks else np.zeros((0, info.channels), np.float32)
    return WavAudio(frames=frames, sample_rate=info.sample_rate)


def read_wav_16k_mono(path: str | Path) -> Pcm:
    """A whole WAV file as the assistant hears it: 16 kHz mono int16."""
    blocks = list(iter_wav_16k_mono(path))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)


def _bad(path: Path, problem: str) -> AudioError:
    return AudioError(f"{path}: {problem}. {_CONVERT_HINT}", code="audio_file_invalid")


class _open:
    """The file opened for reading, refusing what is not a regular file (a FIFO would block)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        path = self._path
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError as err:
            raise AudioError(
                f"{path}: no such file. Check the path.", code="audio_file_missing"
            ) from err
        except OSError as err:
            reason = "a symlink loop" if err.errno == errno.ELOOP else err.strerror
            raise AudioError(f"{path}: cannot read it ({reason}).", code="audio_file") from err
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            kind = "a directory" if stat.S_ISDIR(mode) else "a pipe or device"
            raise AudioError(
                f"{path}: not a regular file ({kind}). Give a WAV file.", code="audio_file"
            )
        self._file = os.fdopen(fd, "rb")
        return self._file

    def __exit__(self, *_exc: object) -> None:
        if self._file is not None:
            self._file.close()


def _read(path: Path, file: BinaryIO, size: int) -> bytes:
    try:
        return file.read(size)
    except OSError as err:
        raise AudioError(f"{path}: cannot read it ({err.strerror}).", code="audio_file") from err


def _parse_header(path: Path, file: BinaryIO, file_size: int) -> WavInfo:
    if file_size == 0:
        raise _bad(path, "the file is empty")
    head = _read(path, file, 12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"BW64") or head[8:12] != b"WAVE":
        raise _bad(path, "not a WAV file (no RIFF/WAVE header)")
    rf64 = head[:4] != b"RIFF"
    ds64_data: int | None = None
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    for _ in range(_MAX_CHUNKS):
        if pos + 8 > file_size:
            break
        file.seek(pos)
        header = _read(path, file, 8)
        if len(header) < 8:
            break
        chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
        body = pos + 8
        if chunk_id == b"ds64":  # RF64: the real 64-bit sizes of the RIFF and data chunks
            if size < 24:
                raise _bad(path, "truncated or damaged: ds64 chunk is too short")
            ds64_data = struct.unpack("<Q", _read(path, file, 24)[8:16].ljust(8, b"\0"))[0]
        elif chunk_id == b"fmt ":
            fmt = _parse_fmt(path, _read(path, file, min(size, _MAX_FMT_BYTES)))
        elif chunk_id == b"data":
            if fmt is None:
                raise _bad(path, "the data chunk comes before the fmt chunk")
            if rf64 and size == _PLACEHOLDER:
                if ds64_data is None:
                    raise _bad(path, "truncated or damaged: RF64 file without a ds64 chunk")
                size = ds64_data
            return _info(path, fmt, body, size, file_size - body)
        pos = body + size + (size & 1)  # chunks are word-aligned
    else:
        raise _bad(path, f"damaged: more than {_MAX_CHUNKS} chunks before the audio")
    if fmt is None:
        raise _bad(path, "truncated or damaged: no fmt chunk")
    raise _bad(path, "truncated or damaged: no data chunk")


def _parse_fmt(path: Path, body: bytes) -> tuple[int, int, int, int]:
    """(encoding, channels, rate, sample width in bytes), checked."""
    if len(body) < 16:
        raise _bad(path, "truncated or damaged: fmt chunk is too short")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE:
        if len(body) < 40:
            raise _bad(path, "truncated or damaged: WAVE_FORMAT_EXTENSIBLE fmt chunk is too short")
        tag = struct.unpack_from("<H", body, 24)[0]  # first two bytes of the sub-format GUID
    if tag not in (_PCM, _FLOAT, _ALAW, _MULAW):
        raise _bad(
            path,
            f"unsupported encoding (format tag {tag:#06x}); PCM, float, mu-law and A-law are read",
        )
    if not MIN_RATE <= rate <= MAX_RATE:
        raise _bad(
            path,
            f"the header claims {rate} Hz, outside the {MIN_RATE}-{MAX_RATE} Hz a recording "
            "can have (a damaged or hand-made header)",
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise _bad(path, f"the header claims {channels} channels (1 to {MAX_CHANNELS} are read)")
    width = (bits + 7) // 8
    if block_align and block_align != width * channels:
        width = block_align // channels  # trust the container size over the valid bits
    if tag in (_ALAW, _MULAW):
        if width != 1:
            law = "A-law" if tag == _ALAW else "mu-law"
            raise _bad(path, f"unsupported sample size: {bits}-bit {law} (8-bit is read)")
    elif (tag == _PCM and width not in (1, 2, 3, 4)) or (tag == _FLOAT and width not in (4, 8)):
        kind = "PCM" if tag == _PCM else "float"
        raise _bad(path, f"unsupported sample size: {bits}-bit {kind}")
    return tag, channels, rate, width


def _info(
    path: Path, fmt: tuple[int, int, int, int], offset: int, size: int, available: int
) -> WavInfo:
    encoding, channels, rate, width = fmt
    if size > available:
        if size != _PLACEHOLDER:
            log.warning("%s is cut short: %d of %d audio bytes", path, available, size)
        size = available
    frame_bytes = width * channels
    info = WavInfo(
        path=path,
        encoding=encoding,
        channels=channels,
        sample_rate=rate,
        sample_width=width,
        data_offset=offset,
        data_bytes=size - size % frame_bytes,
    )
    if info.frames == 0:
        raise _bad(path, "contains no audio (the data chunk is empty)")
    log.debug("%s: %d Hz, %d ch, %d frames", path, rate, channels, info.frames)
    return info


def _blocks(info: WavInfo, file: BinaryIO, block_bytes: int) -> Iterator[Float32]:
    step = max(1, block_bytes // info.frame_bytes) * info.frame_bytes
    file.seek(info.data_offset)
    left = info.data_bytes
    while left > 0:
        data = _read(info.path, file, min(step, left))
        data = data[: len(data) - len(data) % info.frame_bytes]
        if not data:  # the file shrank while being read
            log.warning("%s ended early: %d audio bytes missing", info.path, left)
            return
        left -= len(data)
        yield info.decode(data)


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
