"""Sample decoding, down-mixing and the resampler."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from assistant.audio_io import (
    Resampler,
    convert_to_16k_mono,
    decode_pcm,
    float_to_pcm,
    resample,
)
from tests.audio_signals import dominant_hz, encode, rms, tone


@pytest.mark.parametrize(
    ("width", "kind"), [(1, "pcm"), (2, "pcm"), (3, "pcm"), (4, "pcm"), (4, "float"), (8, "float")]
)
def test_decode_round_trips_every_width(width: int, kind: Literal["pcm", "float"]) -> None:
    frames = tone(440, 8000, 0.05).reshape(-1, 1)
    decoded = decode_pcm(encode(frames, width, kind), width, 1, is_float=kind == "float")
    assert decoded.shape == frames.shape
    assert np.abs(decoded - frames).max() < (1 / 100 if width == 1 else 1e-4)


def test_decode_known_values() -> None:
    assert decode_pcm(bytes([0, 128, 255]), 1, 1)[:, 0].tolist() == [-1.0, 0.0, 127 / 128]
    minus_one_24 = (-1).to_bytes(3, "little", signed=True)
    most_negative_24 = (-(2**23)).to_bytes(3, "little", signed=True)
    assert decode_pcm(minus_one_24 + most_negative_24, 3, 1)[:, 0].tolist() == [-(2.0**-23), -1.0]


def test_decode_ignores_a_partial_last_frame_and_nan() -> None:
    data = np.array([0.5, -0.5, np.nan, 0.25], dtype="<f4").tobytes() + b"\x01"
    decoded = decode_pcm(data, 4, 2, is_float=True)
    assert decoded.tolist() == [[0.5, -0.5], [0.0, 0.25]]


@pytest.mark.parametrize(
    ("from_rate", "to_rate"),
    [(44100, 16000), (48000, 16000), (8000, 16000), (22050, 48000), (11025, 16000)],
)
def test_resample_keeps_length_frequency_and_level(from_rate: int, to_rate: int) -> None:
    pcm = float_to_pcm(tone(1000, from_rate, 1.0))
    out = resample(pcm, from_rate, to_rate)
    assert len(out) == to_rate
    assert dominant_hz(out, to_rate) == pytest.approx(1000, abs=2)
    middle = out[to_rate // 4 : -to_rate // 4] / 32768
    assert rms(middle) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)


def test_downsampling_removes_what_would_alias() -> None:
    # 10 kHz at 48 kHz would fold to 6 kHz at 16 kHz without the low-pass.
    out = resample(float_to_pcm(tone(10_000, 48_000, 1.0)), 48_000, 16_000)
    assert rms(out[1000:-1000] / 32768) < 1e-3


def test_streaming_matches_one_shot() -> None:
    signal = tone(440, 44_100, 1.3).astype(np.float32)
    resampler = Resampler(44_100, 16_000)
    pieces = [resampler.process(signal[i : i + 999]) for i in range(0, len(signal), 999)]
    streamed = np.concatenate([*pieces, resampler.flush()])
    whole = Resampler(44_100, 16_000)
    one_shot = np.concatenate([whole.process(signal), whole.flush()])
    np.testing.assert_allclose(streamed, one_shot, atol=1e-6)


def test_same_rate_is_a_copy_and_bad_rates_are_refused() -> None:
    pcm = np.arange(10, dtype=np.int16)
    out = resample(pcm, 16_000, 16_000)
    assert out is not pcm and out.tolist() == pcm.tolist()
    with pytest.raises(ValueError, match="positive"):
        Resampler(0, 16_000)


def test_convert_averages_channels_and_lands_at_16k() -> None:
    left, right = tone(300, 48_000, 0.5), tone(3000, 48_000, 0.5)
    stereo = np.stack([left, right], axis=1)
    out = convert_to_16k_mono(encode(stereo, 2, "pcm"), 48_000, 2, 2)
    assert out.dtype == np.int16 and len(out) == 8000
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(out), 1 / 16_000)
    both = [spectrum[np.argmin(np.abs(freqs - hz))] for hz in (300, 3000)]
    assert both[0] == pytest.approx(both[1], rel=0.05)  # equal weight from each channel
