"""WAV files of every common shape in; clear errors for files that are not audio."""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from assistant.audio_io import WavWriter, read_wav, read_wav_16k_mono
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
