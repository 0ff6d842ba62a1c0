"""WAV files of every common shape in; clear errors for files that are not audio."""

from __future__ import annotations

import logging
import os
import struct
import threading
import tracemalloc
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pytest

from assistant.audio_convert import resample_float
from assistant.audio_io import (
    WavWriter,
    float_to_pcm,
    iter_wav_16k_mono,
    read_wav,
    read_wav_16k_mono,
    to_mono,
    wav_info,
)
from assistant.errors import AudioError, SottovoceError
from models.protocols import SAMPLE_RATE
from tests.audio_signals import dominant_hz, tone, wav_bytes

FORMATS: list[tuple[int, Literal["pcm", "float"]]] = [
    (1, "pcm"),
    (2, "pcm"),
    (3, "pcm"),
    (4, "pcm"),
    (4, "float"),
]


@pytest.mark.parametrize("rate", [8000, 44_100, 48_000])
@pytest.mark.parametrize(("width", "kind"), FORMATS)
def test_any_rate_and_sample_format_becomes_16k_mono(
    tmp_path: Path, rate: int, width: int, kind: Literal["pcm", "float"]
) -> None:
    path = tmp_path / f"tone-{rate}-{kind}{8 * width}.wav"
    path.write_bytes(wav_bytes(tone(440, rate, 0.75), rate, width=width, kind=kind))
    pcm = read_wav_16k_mono(path)
    assert pcm.dtype == np.int16
    assert abs(len(pcm) - 0.75 * SAMPLE_RATE) <= 1
    assert dominant_hz(pcm, SAMPLE_RATE) == pytest.approx(440, abs=3)
    assert np.abs(pcm[2000:-2000]).max() == pytest.approx(0.5 * 32768, rel=0.03)


@pytest.mark.parametrize(("width", "kind"), [(3, "pcm"), (4, "float"), (2, "pcm")])
def test_wave_format_extensible(tmp_path: Path, width: int, kind: Literal["pcm", "float"]) -> None:
    path = tmp_path / "extensible.wav"
    path.write_bytes(
        wav_bytes(tone(1000, 48_000, 0.5), 48_000, width=width, kind=kind, extensible=True)
    )
    audio = read_wav(path)
    assert (audio.sample_rate, audio.channels, len(audio.frames)) == (48_000, 1, 24_000)
    assert dominant_hz(read_wav_16k_mono(path), SAMPLE_RATE) == pytest.approx(1000, abs=3)


def test_stereo_is_averaged(tmp_path: Path) -> None:
    left = tone(500, 44_100, 0.5)
    stereo = np.stack([left, -left], axis=1)  # opposite phase: the mono mix is silence
    path = tmp_path / "stereo.wav"
    path.write_bytes(wav_bytes(stereo, 44_100, kind="float", width=4))
    assert read_wav(path).channels == 2
    assert np.abs(read_wav_16k_mono(path)).max() <= 1


def test_other_chunks_and_odd_sizes_are_skipped(tmp_path: Path) -> None:
    odd_list = b"LIST" + struct.pack("<I", 3) + b"abc" + b"\x00"  # pad byte after an odd chunk
    path = tmp_path / "with-list.wav"
    path.write_bytes(wav_bytes(tone(440, 16_000, 0.5), 16_000, before_data=odd_list))
    assert len(read_wav_16k_mono(path)) == 8000


def test_streaming_writer_size_placeholder_is_read_to_the_end(tmp_path: Path) -> None:
    data = bytearray(wav_bytes(tone(440, 16_000, 0.5), 16_000))
    data_at = data.index(b"data")
    data[data_at + 4 : data_at + 8] = struct.pack("<I", 0xFFFFFFFF)
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(data))
    assert len(read_wav_16k_mono(path)) == 8000


def test_audio_cut_short_is_read_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = wav_bytes(tone(440, 16_000, 1.0), 16_000)
    path = tmp_path / "cut.wav"
    path.write_bytes(whole[: len(whole) // 2 + 1])  # also leaves half a sample behind
    with caplog.at_level(logging.WARNING):
        pcm = read_wav_16k_mono(path)
    assert 7900 < len(pcm) < 8000
    assert "cut short" in caplog.text


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"hello, this is not audio at all\n", "not a WAV file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00", "fmt chunk is too short"),
        (b"RIFF\x04\x00\x00\x00WAVE", "no fmt chunk"),
        (
            b"RIFF\x24\x00\x00\x00WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16),
            "no data chunk",
        ),
        (
            b"RIFF\x24\x00\x00\x00WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 2, 1, 16000, 32000, 2, 4)
            + b"data\x00\x00\x00\x00",
            "unsupported encoding",
        ),
        (
            b"RIFF\x24\x00\x00\x00WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
            + b"data\x00\x00\x00\x00",
            "contains no audio",
        ),
    ],
)
def test_files_that_are_not_usable_audio_name_the_file(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "broken input.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError) as caught:
        read_wav_16k_mono(path)
    assert str(path) in caught.value.message and problem in caught.value.message
    assert "convert" in caught.value.message  # says what to do
    assert caught.value.code == "audio_file_invalid"
    assert isinstance(caught.value, SottovoceError)


def test_truncated_header_of_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "truncated.wav"
    path.write_bytes(wav_bytes(tone(440, 16_000, 0.5), 16_000)[:30])
    with pytest.raises(AudioError, match="truncated"):
        read_wav(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file") as caught:
        read_wav(tmp_path / "nope.wav")
    assert caught.value.code == "audio_file_missing" and "nope.wav" in caught.value.message


def test_writer_leaves_a_valid_file_after_every_write(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "out.wav"
    writer = WavWriter(path, 22_050)
    first = (tone(300, 22_050, 0.2) * 32767).astype(np.int16)
    writer.write(first)
    assert read_wav(path).frames.shape == (len(first), 1)  # readable while still open
    writer.write(first)
    writer.close()
    audio = read_wav(path)
    assert audio.sample_rate == 22_050 and len(audio.frames) == 2 * len(first)
    np.testing.assert_allclose(audio.frames[: len(first), 0] * 32768, first, atol=0.5)


# --- hostile headers, RF64, G.711, streaming (issue 13, defect 9) ------------------------------


def _header_only(rate: int, *, channels: int = 1, size: int = 32 * 1024) -> bytes:
    """A WAV whose header claims `rate`, followed by `size` bytes of 16-bit audio."""
    fmt = struct.pack(
        "<HHIIHH",
        1,
        channels,
        rate,
        (rate * 2 * channels) & 0xFFFFFFFF,
        (2 * channels) & 0xFFFF,
        16,
    )
    data = np.zeros(size // 2, dtype="<i2").tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data


@pytest.mark.parametrize("rate", [1, 100, 3_999, 384_001, 1_000_000, 4_294_967_295])
def test_absurd_sample_rates_are_refused_before_any_work(tmp_path: Path, rate: int) -> None:
    path = tmp_path / f"claims-{rate}.wav"
    path.write_bytes(_header_only(rate))
    tracemalloc.start()
    try:
        with pytest.raises(AudioError) as caught:
            read_wav_16k_mono(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # the header does not decide the memory
    message = caught.value.message
    assert str(path) in message and f"{rate} Hz" in message and "4000-384000 Hz" in message
    assert caught.value.code == "audio_file_invalid"


@pytest.mark.parametrize("rate", [4_000, 8_000, 383_999, 384_000])
def test_rates_at_the_edges_are_read(tmp_path: Path, rate: int) -> None:
    path = tmp_path / "edge.wav"
    path.write_bytes(wav_bytes(tone(440, rate, 0.25), rate))
    pcm = read_wav_16k_mono(path)
    assert abs(len(pcm) - 4000) <= 1
    assert dominant_hz(pcm, SAMPLE_RATE) == pytest.approx(440, abs=5)


@pytest.mark.parametrize("channels", [0, 257, 65_535])
def test_absurd_channel_counts_are_refused(tmp_path: Path, channels: int) -> None:
    path = tmp_path / "channels.wav"
    path.write_bytes(_header_only(16_000, channels=channels))
    with pytest.raises(AudioError, match=f"{channels} channels"):
        read_wav(path)


def _rf64(riff: bytes, *, magic: bytes = b"RF64") -> bytes:
    """The same file as RF64: sizes 0xFFFFFFFF, the real ones in a ds64 chunk."""
    data_at = riff.index(b"data")
    data_size = struct.unpack_from("<I", riff, data_at + 4)[0]
    ds64 = b"ds64" + struct.pack("<IQQQI", 28, len(riff) - 8 + 36, data_size, 0, 0)
    body = riff[12:data_at] + b"data" + struct.pack("<I", 0xFFFFFFFF) + riff[data_at + 8 :]
    return magic + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + ds64 + body


@pytest.mark.parametrize("magic", [b"RF64", b"BW64"])
def test_rf64_is_read_like_riff(tmp_path: Path, magic: bytes) -> None:
    riff = wav_bytes(tone(440, 48_000, 0.5), 48_000, width=3, before_data=b"LIST\x02\x00\x00\x00ab")
    path = tmp_path / "long.wav"
    path.write_bytes(_rf64(riff, magic=magic) + b"trailing chunk after the audio")
    (tmp_path / "short.wav").write_bytes(riff)
    audio = read_wav(path)
    assert (audio.sample_rate, len(audio.frames)) == (48_000, 24_000)
    np.testing.assert_array_equal(
        read_wav_16k_mono(path), read_wav_16k_mono(tmp_path / "short.wav")
    )


def test_rf64_without_ds64_is_a_clear_error(tmp_path: Path) -> None:
    riff = wav_bytes(tone(440, 16_000, 0.1), 16_000)
    data_at = riff.index(b"data")
    rf64 = b"RF64" + riff[4:data_at] + b"data" + struct.pack("<I", 0xFFFFFFFF) + riff[data_at + 8 :]
    path = tmp_path / "bare.wav"
    path.write_bytes(rf64)
    with pytest.raises(AudioError, match="without a ds64 chunk"):
        read_wav(path)


def _g711_wav(
    codes: bytes, rate: int, tag: int, *, channels: int = 1, extensible: bool = False
) -> bytes:
    common = (channels, rate, rate * channels, channels, 8)
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = (
            struct.pack("<HHIIHHHHI", 0xFFFE, *common, 22, 8, 0)
            + struct.pack("<H", tag)
            + guid_tail
        )
    else:
        fmt = struct.pack("<HHIIHHH", tag, *common, 0)  # G.711 fmt chunks carry cbSize
    pad = b"\x00" if len(codes) % 2 else b""
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(codes))
        + codes
        + pad
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _g711_reference(law: str) -> npt.NDArray[np.float64]:
    """G.711 expansion of every code from the standard's segment tables (not the code tested)."""
    out = []
    for code in range(256):
        if law == "mu":
            u = ~code & 0xFF
            segment, step = (u >> 4) & 7, u & 15
            value = ((2 * step + 33) << segment) - 33  # in 14-bit units
            out.append((-value if u & 0x80 else value) * 4)
        else:
            a = code ^ 0x55
            segment, step = (a >> 4) & 7, a & 15
            value = 2 * step + 1 if segment == 0 else (2 * step + 33) << (segment - 1)
            out.append((value if a & 0x80 else -value) * 8)  # in 13-bit units
    return np.array(out, dtype=np.float64) / 32768.0


@pytest.mark.parametrize(("law", "tag"), [("mu", 7), ("a", 6)])
@pytest.mark.parametrize("extensible", [False, True])
def test_mulaw_and_alaw(tmp_path: Path, law: str, tag: int, extensible: bool) -> None:
    codes = bytes(range(256)) * 2
    path = tmp_path / f"{law}law.wav"
    path.write_bytes(_g711_wav(codes, 8000, tag, channels=2, extensible=extensible))
    audio = read_wav(path)
    assert (audio.sample_rate, audio.channels, len(audio.frames)) == (8000, 2, 256)
    expected = np.tile(_g711_reference(law), 2).reshape(-1, 2)
    np.testing.assert_allclose(audio.frames, expected, atol=1e-7)
    assert read_wav_16k_mono(path).dtype == np.int16


def test_a_mulaw_phone_recording_sounds_right(tmp_path: Path) -> None:
    x = tone(440, 8000, 0.5, amplitude=0.4)
    reference = _g711_reference("mu")
    codes = bytes(int(np.abs(reference - v).argmin()) for v in x)  # nearest code: an encoder
    path = tmp_path / "phone.wav"
    path.write_bytes(_g711_wav(codes, 8000, 7))
    pcm = read_wav_16k_mono(path)
    assert len(pcm) == 8000 and dominant_hz(pcm, SAMPLE_RATE) == pytest.approx(440, abs=3)
    assert np.abs(pcm[1000:-1000]).max() == pytest.approx(0.4 * 32768, rel=0.05)


def test_wide_g711_is_refused(tmp_path: Path) -> None:
    data = bytearray(_g711_wav(bytes(64), 8000, 7))
    at = data.index(b"fmt ") + 8
    struct.pack_into("<HH", data, at + 12, 2, 16)  # block align, bits per sample
    path = tmp_path / "wide.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError, match="mu-law"):
        read_wav(path)


def test_streamed_blocks_equal_the_whole_file(tmp_path: Path) -> None:
    stereo = np.stack([tone(440, 44_100, 3.0), tone(1000, 44_100, 3.0)], axis=1)
    path = tmp_path / "stereo.wav"
    path.write_bytes(wav_bytes(stereo, 44_100, kind="float", width=4))
    blocks = list(iter_wav_16k_mono(path, block_bytes=10_000))
    assert len(blocks) > 20 and all(b.dtype == np.int16 for b in blocks)
    whole = float_to_pcm(resample_float(to_mono(read_wav(path).frames), 44_100, SAMPLE_RATE))
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    np.testing.assert_array_equal(read_wav_16k_mono(path), whole)


def test_header_info(tmp_path: Path) -> None:
    path = tmp_path / "info.wav"
    path.write_bytes(wav_bytes(tone(440, 22_050, 2.0), 22_050, width=3))
    info = wav_info(path)
    assert (info.sample_rate, info.channels, info.sample_width, info.frames) == (
        22_050,
        1,
        3,
        44_100,
    )
    assert info.duration_s == pytest.approx(2.0)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def target() -> None:
        with pytest.raises(AudioError) as caught:
            read_wav(fifo)
        outcome.append(caught.value)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a FIFO blocked")
    assert outcome and "not a regular file" in str(outcome[0])


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not a regular file"):
        read_wav(tmp_path)


def test_endless_tiny_chunks_are_refused(tmp_path: Path) -> None:
    junk = b"junk\x00\x00\x00\x00" * 20_000
    path = tmp_path / "junk.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(junk)) + b"WAVE" + junk)
    with pytest.raises(AudioError, match="damaged"):
        read_wav(path)
