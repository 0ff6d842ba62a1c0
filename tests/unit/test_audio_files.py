"""WavFileSource, WavFileSink and NullSink."""

from __future__ import annotations

import asyncio
import itertools
import struct
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import AudioChunk
from assistant.audio_io import (
    NullSink,
    WavFileSink,
    WavFileSource,
    float_to_pcm,
    read_wav,
    read_wav_16k_mono,
)
from assistant.errors import AudioError
from models.protocols import SAMPLE_RATE
from tests.audio_signals import dominant_hz, tone, wav_bytes


def write_tone(path: Path, seconds: float, rate: int = 44_100, hz: float = 440) -> Path:
    path.write_bytes(wav_bytes(tone(hz, rate, seconds), rate))
    return path


async def collect(source: WavFileSource) -> list[AudioChunk]:
    return [chunk async for chunk in source.chunks()]


async def test_fast_source_yields_contiguous_16k_chunks(tmp_path: Path) -> None:
    source = WavFileSource(write_tone(tmp_path / "a.wav", 3.0), paced=False, chunk_samples=1280)
    started = time.perf_counter()
    chunks = await collect(source)
    assert time.perf_counter() - started < 1.0  # 3 s of audio, not paced
    assert [len(c.pcm) for c in chunks[:-1]] == [1280] * (len(chunks) - 1)
    assert sum(len(c.pcm) for c in chunks) == 3 * SAMPLE_RATE
    for before, after in itertools.pairwise(chunks):
        assert after.start_s == pytest.approx(before.end_s)
    assert dominant_hz(np.concatenate([c.pcm for c in chunks]), SAMPLE_RATE) == pytest.approx(
        440, abs=2
    )
    assert source.name.endswith("a.wav")


async def test_paced_source_takes_about_real_time(tmp_path: Path) -> None:
    source = WavFileSource(write_tone(tmp_path / "b.wav", 0.8, rate=16_000), paced=True)
    started = time.perf_counter()
    chunks = await collect(source)
    elapsed = time.perf_counter() - started
    assert 0.7 <= elapsed < 2.0
    assert chunks[-1].end_s == pytest.approx(0.8)


async def test_close_ends_the_stream(tmp_path: Path) -> None:
    source = WavFileSource(write_tone(tmp_path / "c.wav", 2.0), paced=False)
    seen = 0
    async for _ in source.chunks():
        seen += 1
        if seen == 3:
            await source.close()
    assert seen == 3


async def test_source_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt.wav"
    path.write_text("not audio")
    with pytest.raises(AudioError, match=r"notes\.txt\.wav"):
        await collect(WavFileSource(path, paced=False))


async def test_wav_sink_round_trip_at_the_first_rate(tmp_path: Path) -> None:
    path = tmp_path / "out" / "nested" / "reply.wav"
    sink = WavFileSink(path)
    first = float_to_pcm(tone(500, 22_050, 0.5))
    await sink.play(first, 22_050)
    await sink.play(float_to_pcm(tone(500, 16_000, 0.5)), 16_000)  # resampled to 22.05 kHz
    await sink.drain()
    await sink.close()
    audio = read_wav(path)
    assert audio.sample_rate == 22_050 and audio.channels == 1
    assert len(audio.frames) == len(first) + 11_025
    np.testing.assert_allclose(audio.frames[: len(first), 0] * 32768, first, atol=0.5)
    assert dominant_hz(audio.frames[:, 0], 22_050) == pytest.approx(500, abs=3)


async def test_wav_sink_is_valid_after_a_stop(tmp_path: Path) -> None:
    path = tmp_path / "stopped.wav"
    sink = WavFileSink(path)
    await sink.play(float_to_pcm(tone(500, 16_000, 0.25)), 16_000)
    await sink.stop()
    await sink.close()
    await sink.close()  # a second close is harmless
    assert len(read_wav(path).frames) == 4000


async def test_wav_sink_that_got_nothing_leaves_an_empty_16k_file(tmp_path: Path) -> None:
    path = tmp_path / "silent.wav"
    sink = WavFileSink(path)
    await sink.close()
    header = path.read_bytes()
    assert (
        len(header) == 44
        and header[:4] == b"RIFF"
        and header[24:28] == (16_000).to_bytes(4, "little")
    )


async def test_null_sink_discards_at_once_when_not_paced() -> None:
    sink = NullSink()
    started = time.perf_counter()
    await sink.play(np.zeros(10 * SAMPLE_RATE, dtype=np.int16), SAMPLE_RATE)
    await sink.drain()
    assert time.perf_counter() - started < 0.1
    assert sink.received_s == pytest.approx(10.0)


async def test_paced_null_sink_takes_as_long_as_the_audio() -> None:
    sink = NullSink(paced=True)
    started = time.perf_counter()
    await sink.play(np.zeros(SAMPLE_RATE * 6 // 10, dtype=np.int16), SAMPLE_RATE)
    accepted = time.perf_counter() - started
    await sink.drain()
    drained = time.perf_counter() - started
    assert accepted < 0.45  # accepted while the rest "plays", like a speaker's buffer
    assert 0.55 <= drained < 1.5


async def test_paced_null_sink_stop_wakes_play_and_drain() -> None:
    sink = NullSink(paced=True)
    playing = asyncio.create_task(sink.play(np.zeros(5 * SAMPLE_RATE, np.int16), SAMPLE_RATE))
    draining = asyncio.create_task(sink.drain())
    await asyncio.sleep(0.05)
    assert not playing.done() and not draining.done()
    started = time.perf_counter()
    await sink.stop()
    await asyncio.wait_for(asyncio.gather(playing, draining), 1.0)
    assert time.perf_counter() - started < 0.5  # not the 5 s the audio lasts


def _write_long_wav(path: Path, seconds: int, rate: int = 48_000, channels: int = 2) -> Path:
    """A float32 WAV written a second at a time, so the test itself stays small."""
    data_bytes = seconds * rate * channels * 4
    fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * channels * 4, channels * 4, 32)
    with path.open("wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt ")
        f.write(struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_bytes))
        second = np.repeat(tone(440, rate, 1.0, amplitude=0.3)[:, None], channels, axis=1)
        for _ in range(seconds):
            f.write(second.astype("<f4").tobytes())
    return path


async def _peak_while_reading(source: WavFileSource) -> tuple[int, int]:
    """(peak traced bytes while every chunk is taken, samples taken)."""
    samples = 0
    tracemalloc.start()
    try:
        async for chunk in source.chunks():
            samples += len(chunk.pcm)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, samples


async def test_long_files_are_streamed_in_constant_memory(tmp_path: Path) -> None:
    short = _write_long_wav(tmp_path / "short.wav", 3)
    long = _write_long_wav(tmp_path / "long.wav", 120)  # 46 MB of 48 kHz stereo float
    short_peak, short_samples = await _peak_while_reading(WavFileSource(short, paced=False))
    long_peak, long_samples = await _peak_while_reading(WavFileSource(long, paced=False))
    assert (short_samples, long_samples) == (3 * SAMPLE_RATE, 120 * SAMPLE_RATE)
    assert long_peak < 12_000_000  # the file's 46 MB (or its 3.8 MB at 16 kHz) is never held
    assert long_peak < short_peak * 1.5 + 1_000_000  # independent of the length


async def test_streamed_chunks_match_the_whole_file(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "t.wav", 2.3, rate=44_100)
    source = WavFileSource(path, paced=False, chunk_samples=1000)
    source.block_bytes = 7_000  # many blocks, none a multiple of the chunk size
    chunks = await collect(source)
    assert [c.start_s for c in chunks] == [i * 1000 / SAMPLE_RATE for i in range(len(chunks))]
    assert all(len(c.pcm) == 1000 for c in chunks[:-1])
    np.testing.assert_array_equal(np.concatenate([c.pcm for c in chunks]), read_wav_16k_mono(path))


async def test_an_absurd_header_fails_when_chunks_start(tmp_path: Path) -> None:
    data = bytearray(wav_bytes(tone(440, 16_000, 0.5), 16_000))
    struct.pack_into("<I", data, 24, 0xFFFFFFFF)  # the sample rate
    path = tmp_path / "absurd.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError, match="4294967295 Hz"):
        await collect(WavFileSource(path, paced=False))
