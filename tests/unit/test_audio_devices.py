"""Device lookup, MicrophoneSource and SpeakerSink against a fake sounddevice module.

The fake streams call their callbacks from their own threads, at the pace of real audio, the
way PortAudio does, so the thread-to-loop handoff is the one that ships.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from assistant import audio_speaker
from assistant.audio_devices import resolve_device
from assistant.audio_io import MicrophoneSource, SpeakerSink, float_to_pcm, list_devices
from assistant.errors import AudioError
from models.protocols import SAMPLE_RATE
from tests.audio_signals import dominant_hz, rms, tone

DEVICES = [
    ("HDA Intel PCH: ALC3246 Analog (hw:0,0)", 2, 2),
    ("USB Headset: Audio (hw:1,0)", 1, 2),
    ("pulse", 32, 32),
    ("default", 32, 32),
    ("HDMI 0 (hw:0,3)", 0, 8),
]


class FakeStream:
    def __init__(
        self, *, samplerate: int, channels: int, callback: Any, blocksize: int = 0, **_: Any
    ) -> None:
        self.samplerate, self.channels, self.callback = samplerate, channels, callback
        self.blocksize = blocksize or samplerate // 100
        self.active = False
        self.closed = False
        self.latency = 0.01
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.active = True
        self._thread.start()

    def stop(self) -> None:
        self.active = False
        self._thread.join()

    def close(self) -> None:
        self.closed = True

    def _run(self) -> None:
        raise NotImplementedError


class FakeInput(FakeStream):
    """A microphone hearing a 1 kHz tone, delivered `speed` times faster than real time."""

    speed = 4.0

    def _run(self) -> None:
        done = 0
        while self.active:
            t = (done + np.arange(self.blocksize)) / self.samplerate
            block = np.repeat((0.5 * np.sin(2 * np.pi * 1000 * t))[:, None], self.channels, axis=1)
            self.callback(block.astype(np.float32), self.blocksize, None, None)
            done += self.blocksize
            time.sleep(self.blocksize / self.samplerate / self.speed)


class FakeOutput(FakeStream):
    """A speaker that keeps every block it was handed, in real time."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.played: list[np.ndarray[Any, Any]] = []

    def _run(self) -> None:
        while self.active:
            out = np.full((self.blocksize, self.channels), np.nan, dtype=np.float32)
            self.callback(out, self.blocksize, None, None)
            self.played.append(out[:, 0].copy())
            time.sleep(self.blocksize / self.samplerate)


class FakeSoundDevice:
    def __init__(
        self,
        devices: list[tuple[str, int, int]] = DEVICES,
        *,
        default: tuple[int, int] = (3, 3),
        rates: tuple[int, ...] = (16_000, 22_050, 44_100, 48_000),
    ) -> None:
        self._devices = devices
        self.default = SimpleNamespace(device=default)
        self.rates = rates
        self.streams: list[FakeStream] = []

    def query_devices(self) -> list[dict[str, Any]]:
        return [
            {
                "index": i,
                "name": name,
                "max_input_channels": ins,
                "max_output_channels": outs,
                "default_samplerate": float(self.rates[-1]),
            }
            for i, (name, ins, outs) in enumerate(self._devices)
        ]

    def check_input_settings(self, *, samplerate: int, **_: Any) -> None:
        if samplerate not in self.rates:
            raise ValueError("Invalid sample rate")

    check_output_settings = check_input_settings

    def InputStream(self, **kwargs: Any) -> FakeInput:
        self.streams.append(FakeInput(**kwargs))
        return self.streams[-1]  # type: ignore[return-value]

    def OutputStream(self, **kwargs: Any) -> FakeOutput:
        self.streams.append(FakeOutput(**kwargs))
        return self.streams[-1]  # type: ignore[return-value]


@pytest.fixture
def fake_sd(monkeypatch: pytest.MonkeyPatch) -> FakeSoundDevice:
    fake = FakeSoundDevice()
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    return fake


@pytest.mark.parametrize(
    ("spec", "direction", "index"),
    [
        (None, "input", 3),
        (1, "input", 1),
        ("1", "output", 1),
        ("usb", "input", 1),
        ("Pulse", "output", 2),  # an exact name wins over names containing it
        ("hdmi", "output", 4),
    ],
)
def test_devices_by_index_name_or_default(
    fake_sd: FakeSoundDevice, spec: str | int | None, direction: Any, index: int
) -> None:
    assert resolve_device(fake_sd, spec, direction).index == index


@pytest.mark.parametrize(
    ("spec", "problem"), [("hw:", "matches several"), ("hdmi", "matches no"), (4, "matches no")]
)
def test_unknown_or_ambiguous_device_lists_the_choices(
    fake_sd: FakeSoundDevice, spec: str | int, problem: str
) -> None:
    with pytest.raises(AudioError) as caught:
        resolve_device(fake_sd, spec, "input")
    assert problem in caught.value.message and "--input FILE.wav" in caught.value.message
    assert "USB Headset" in caught.value.message


def test_no_microphone_points_to_a_wav_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        sys.modules, "sounddevice", FakeSoundDevice([("HDMI", 0, 2)], default=(-1, 0))
    )
    with pytest.raises(AudioError, match=r"--input FILE\.wav") as caught:
        MicrophoneSource()
    assert caught.value.code == "no_input_device"


def test_list_devices_marks_defaults(fake_sd: FakeSoundDevice) -> None:
    listing = list_devices()
    assert listing.problem is None and len(listing.devices) == len(DEVICES)
    default = listing.devices[3]
    assert default.is_default_input and default.is_default_output and default.is_default
    assert not listing.devices[0].is_default
    assert listing.devices[4].to_json()["max_output_channels"] == 8
    assert "HDMI 0" in listing.devices[4].describe()


def test_list_devices_with_no_devices_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice([], default=(-1, -1)))
    listing = list_devices()
    assert listing.devices == () and listing.problem and "--input FILE.wav" in listing.problem


def test_missing_portaudio_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What sounddevice itself does at import when libportaudio2 is not installed.
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    listing = list_devices()
    assert listing.devices == () and listing.problem and "libportaudio2" in listing.problem
    with pytest.raises(AudioError, match=r"libportaudio2`\), or use --input FILE\.wav") as caught:
        MicrophoneSource()
    assert caught.value.code == "portaudio_missing"
    with pytest.raises(AudioError, match="libportaudio2"):
        SpeakerSink("pulse")


async def test_microphone_resamples_to_16k_chunks(
    fake_sd: FakeSoundDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_sd, "rates", (44_100,))  # the device refuses 16 kHz
    mic = MicrophoneSource("usb")
    assert (mic.rate, mic.channels, mic.name) == (44_100, 1, "mic:USB Headset: Audio (hw:1,0)")
    chunks = []
    async for chunk in mic.chunks():
        chunks.append(chunk)
        if len(chunks) == 8:
            break
    await mic.close()
    stream = fake_sd.streams[0]
    assert not stream.active and stream.closed
    assert all(len(c.pcm) == 1280 and c.pcm.dtype == np.int16 for c in chunks)
    assert [c.start_s for c in chunks] == [i * 0.08 for i in range(8)]
    audio = np.concatenate([c.pcm for c in chunks])
    assert dominant_hz(audio, SAMPLE_RATE) == pytest.approx(1000, abs=8)
    assert rms(audio[1000:] / 32768) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


async def test_microphone_prefers_16k_and_stops_on_close(fake_sd: FakeSoundDevice) -> None:
    mic = MicrophoneSource()
    assert mic.rate == SAMPLE_RATE

    async def consume() -> int:
        return len([chunk async for chunk in mic.chunks()])

    reader = asyncio.create_task(consume(), name="mic-reader")
    await asyncio.sleep(0.2)
    await mic.close()
    assert await asyncio.wait_for(reader, 1.0) > 0
    assert not fake_sd.streams[0].active


async def test_microphone_drops_the_oldest_audio_when_the_loop_falls_behind(
    fake_sd: FakeSoundDevice, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(FakeInput, "speed", 100.0)  # 2 s of audio in 20 ms
    mic = MicrophoneSource()
    with caplog.at_level(logging.WARNING):
        async for chunk in mic.chunks():
            if chunk.start_s == 0:
                await asyncio.sleep(0.3)  # a slow consumer: the queue overflows meanwhile
            else:
                break
    await mic.close()
    assert "fell behind" in caplog.text


async def test_speaker_resamples_when_the_device_refuses_the_rate(
    fake_sd: FakeSoundDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_sd, "rates", (48_000,))
    sink = SpeakerSink()
    await sink.play(float_to_pcm(tone(440, 22_050, 0.3)), 22_050)
    await sink.drain()
    assert sink.rate == 48_000
    played = np.concatenate(fake_sd.streams[0].played)  # type: ignore[attr-defined]
    assert not np.isnan(played).any()  # every callback filled its whole buffer
    heard = played[np.abs(played) > 1e-3]
    assert len(heard) == pytest.approx(0.3 * 48_000, rel=0.05)
    assert dominant_hz(heard, 48_000) == pytest.approx(440, abs=5)
    await sink.close()
    assert fake_sd.streams[0].closed


async def test_speaker_stop_silences_at_once(fake_sd: FakeSoundDevice) -> None:
    sink = SpeakerSink()
    stream_rate = 22_050
    playing = asyncio.create_task(sink.play(float_to_pcm(tone(440, stream_rate, 3.0)), stream_rate))
    await asyncio.sleep(0.3)
    assert not playing.done()  # a speaker paces: 3 s are not accepted at once
    await sink.stop()
    await asyncio.wait_for(playing, 0.5)
    output: FakeOutput = fake_sd.streams[0]  # type: ignore[assignment]
    blocks_at_stop = len(output.played)
    await asyncio.sleep(0.3)
    after = output.played[blocks_at_stop + 1 :]  # the block being filled at the stop may finish
    assert after and all(not block.any() for block in after)
    started = time.perf_counter()
    await sink.drain()  # nothing left to hear
    assert time.perf_counter() - started < 0.5
    await sink.close()


async def test_speaker_reports_a_stream_that_died(
    fake_sd: FakeSoundDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audio_speaker, "_STALL_S", 0.2)
    sink = SpeakerSink()
    await sink.play(np.zeros(100, dtype=np.int16), 16_000)
    fake_sd.streams[0].stop()  # the device went away: no more callbacks
    with pytest.raises(AudioError, match="stopped playing"):
        await sink.play(np.zeros(16_000 * 2, dtype=np.int16), 16_000)
