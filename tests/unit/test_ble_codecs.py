"""Codecs: exact PCM16, bounded error for mu-law and ADPCM, standalone frames, Opus if present."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install hypothesis)")
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from firmware_bridge import codecs
from firmware_bridge.errors import CodecError
from firmware_bridge.profile import Codec

PCM = hnp.arrays(np.int16, st.integers(0, 700))


def _tone(n: int = 16000, freq: float = 440.0) -> codecs.Pcm:
    t = np.arange(n) / codecs.SAMPLE_RATE
    return (9000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def _snr_db(ref: codecs.Pcm, out: codecs.Pcm) -> float:
    noise = np.mean((ref.astype(float) - out.astype(float)) ** 2) + 1e-9
    return float(10 * np.log10(np.mean(ref.astype(float) ** 2) / noise))


@settings(max_examples=200, deadline=None)
@given(PCM)
def test_pcm16_is_exact(pcm: codecs.Pcm) -> None:
    c = codecs.Pcm16Codec()
    assert np.array_equal(c.decode(c.encode(pcm)), pcm)


@settings(max_examples=200, deadline=None)
@given(PCM)
def test_mulaw_error_is_within_its_segment(pcm: codecs.Pcm) -> None:
    c = codecs.MulawCodec()
    out = c.decode(c.encode(pcm))
    err = np.abs(out.astype(np.int32) - pcm.astype(np.int32))
    assert len(c.encode(pcm)) == len(pcm)
    assert np.all(
        err
        <= np.maximum(np.abs(pcm.astype(np.int32)) // 16, 8)
        + 1100 * (np.abs(pcm.astype(np.int32)) > 32000)
    )


@settings(max_examples=100, deadline=None)
@given(PCM)
def test_adpcm_frames_decode_alone_to_the_right_length(pcm: codecs.Pcm) -> None:
    c = codecs.AdpcmCodec()
    data = c.encode(pcm)
    assert len(c.decode(data)) == len(pcm)
    assert len(data) <= 6 + (len(pcm) + 1) // 2


@pytest.mark.parametrize(("codec", "min_snr"), [(Codec.MULAW, 30.0), (Codec.IMA_ADPCM, 20.0)])
def test_speech_band_tone_quality(codec: Codec, min_snr: float) -> None:
    c = codecs.make_codec(codec)
    ref = _tone()
    out = np.concatenate(
        [c.decode(c.encode(ref[i : i + codecs.FRAME_SAMPLES])) for i in range(0, len(ref), 320)]
    )
    assert _snr_db(ref, out) > min_snr


@pytest.mark.parametrize(
    "bad", [b"\x00", b"\x00\x00\x00\x00\x05\x00ab", b"\x00\x00\x5a\x00\x01\x00a"]
)
def test_adpcm_rejects_inconsistent_frames(bad: bytes) -> None:
    with pytest.raises(CodecError):
        codecs.AdpcmCodec().decode(bad)


def test_choose_codec_prefers_the_smallest_shared() -> None:
    ours = frozenset({Codec.PCM16, Codec.MULAW, Codec.IMA_ADPCM})
    assert codecs.choose_codec(ours, frozenset({Codec.PCM16, Codec.MULAW})) == Codec.MULAW
    assert codecs.choose_codec(ours, frozenset({Codec.OPUS})) == Codec.PCM16


def test_opus_round_trip_when_available() -> None:
    if not codecs.opus_available():
        pytest.skip("Opus needs PyAV with libopus (pip install av)")
    c = codecs.OpusCodec()
    ref = _tone(3200)
    packets = [c.encode(ref[i : i + 320]) for i in range(0, 3200, 320)]
    assert sum(map(len, packets)) < 3200  # far smaller than PCM16's 6400 bytes
    out = np.concatenate([c.decode(p) for p in packets])
    assert abs(len(out) - 3200) <= 320
    with pytest.raises(CodecError):
        c.encode(ref[:100])
