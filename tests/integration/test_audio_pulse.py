"""Real record/playback through PortAudio -> ALSA pulse plugin -> a PulseAudio null sink.

scripts/test.sh starts a private PulseAudio server whose default sink is the null sink
`sottovoce_null` and whose default source is that sink's monitor: what is played, is heard.
Without that server these tests skip (they never touch a desktop's real speakers).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from assistant.audio_io import MicrophoneSource, SpeakerSink, WavWriter, float_to_pcm, list_devices
from models.protocols import SAMPLE_RATE
from tests.audio_signals import dominant_hz, rms, tone

pytestmark = [pytest.mark.integration, pytest.mark.audio]

NULL_SINK = "sottovoce_null"


def _pactl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10, check=False)


@pytest.fixture(scope="module", autouse=True)
def null_sink() -> Iterator[None]:
    if shutil.which("pactl") is None:
        pytest.skip("pactl is not installed (Debian pulseaudio-utils); scripts/test.sh installs it")
    if _pactl("info").returncode != 0:
        pytest.skip(
            "no PulseAudio server reachable (`pactl info` failed); scripts/test.sh starts one"
        )
    if NULL_SINK not in _pactl("list", "short", "sinks").stdout:
        pytest.skip(f"the PulseAudio server has no {NULL_SINK} sink; run scripts/test.sh")
    listing = list_devices()
    if not any(d.max_input_channels for d in listing.devices):
        pytest.skip(
            f"PortAudio sees no device through PulseAudio ({listing.problem}); "
            "install libasound2-plugins"
        )
    with pytest.MonkeyPatch.context() as env:  # the ALSA pulse plugin reads these per stream
        env.setenv("PULSE_SINK", NULL_SINK)
        env.setenv("PULSE_SOURCE", f"{NULL_SINK}.monitor")
        yield


class Recorder:
    """Records from a microphone in a task; `started` is set once audio flows."""

    def __init__(self, mic: MicrophoneSource, seconds: float) -> None:
        self.mic, self.seconds = mic, seconds
        self.started = asyncio.Event()
        self.task = asyncio.create_task(self._record(), name="recorder")

    async def _record(self) -> npt.NDArray[np.int16]:
        pieces = []
        async for chunk in self.mic.chunks():
            self.started.set()
            pieces.append(chunk.pcm)
            if chunk.end_s >= self.seconds:
                break
        await self.mic.close()
        return np.concatenate(pieces)

    async def result(self) -> npt.NDArray[np.int16]:
        return await asyncio.wait_for(self.task, self.seconds + 10)


async def start_recording(seconds: float, **mic_options: int) -> Recorder:
    recorder = Recorder(MicrophoneSource(None, **mic_options), seconds)
    await asyncio.wait_for(recorder.started.wait(), 10)
    return recorder


def first_sound(audio: npt.NDArray[np.int16], seconds: float) -> npt.NDArray[np.int16]:
    """`seconds` of the recording starting 0.1 s after the first clearly audible sample."""
    loud = np.flatnonzero(np.abs(audio) > 0.05 * 32768)
    assert loud.size, "the recording is silent"
    start = int(loud[0]) + SAMPLE_RATE // 10
    return audio[start : start + int(seconds * SAMPLE_RATE)]


async def test_microphone_hears_what_paplay_plays(tmp_path: Path) -> None:
    if shutil.which("paplay") is None:
        pytest.skip("paplay is not installed (Debian pulseaudio-utils)")
    wav = tmp_path / "tone.wav"
    writer = WavWriter(wav, 44_100)
    writer.write(float_to_pcm(tone(880, 44_100, 1.0)))
    writer.close()
    recorder = await start_recording(2.5)
    player = await asyncio.create_subprocess_exec("paplay", f"--device={NULL_SINK}", str(wav))
    assert await asyncio.wait_for(player.wait(), 10) == 0
    audio = await recorder.result()
    heard = first_sound(audio, 0.5)
    assert dominant_hz(heard, SAMPLE_RATE) == pytest.approx(880, abs=10)
    assert rms(heard / 32768) > 0.1  # the tone's level is 0.35 rms; not a faint leak


async def test_speaker_plays_to_the_microphone_and_stop_silences() -> None:
    # The microphone at 48 kHz exercises its resampler; the voice at 22.05 kHz the speaker's.
    recorder = await start_recording(3.5, sample_rate=48_000)
    sink = SpeakerSink(None)
    try:
        await sink.play(float_to_pcm(tone(660, 22_050, 0.8)), 22_050)
        await sink.drain()
        long_tone = asyncio.create_task(sink.play(float_to_pcm(tone(440, 22_050, 5.0)), 22_050))
        await asyncio.sleep(0.8)
        await sink.stop()
        await asyncio.wait_for(long_tone, 1.0)
    finally:
        await sink.close()
    audio = await recorder.result()
    assert recorder.mic.rate == 48_000
    first = first_sound(audio, 0.4)  # the 0.8 s tone at 660 Hz, before the 440 Hz one
    assert dominant_hz(first, SAMPLE_RATE) == pytest.approx(660, abs=10)
    assert rms(first / 32768) > 0.1
    assert rms(audio[-SAMPLE_RATE // 2 :] / 32768) < 0.01  # well after the stop: silence
