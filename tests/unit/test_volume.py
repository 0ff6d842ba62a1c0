"""Output volume: levels, mute, the sink that applies them, the file that keeps them, the skill."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.volume import OutputVolume, VolumeSink
from skills.intents import IntentRecognizer
from skills.sdk import Intent
from skills.volume import NO_VOLUME, VolumeSkill
from tests.unit.fakes import FakeSkillContext, RecordingSink

TONE = (8000 * np.sin(np.arange(1600) / 3)).astype(np.int16)


def peak(pcm: np.ndarray) -> int:
    return int(np.abs(pcm.astype(np.int32)).max())


async def test_the_sink_plays_at_the_level_and_silent_when_muted(tmp_path: Path) -> None:
    volume = OutputVolume(tmp_path / "volume.json")
    inner = RecordingSink()
    sink = VolumeSink(inner, volume)
    await sink.play(TONE, 16000)  # default: the audio as made
    volume.set(6)  # 6 dB quieter: half the amplitude
    await sink.play(TONE, 16000)
    volume.set(10)  # 6 dB louder, the peaks rounded off rather than clipped
    await sink.play(TONE, 16000)
    volume.mute()
    await sink.play(TONE, 16000)
    made, quieter, louder, muted = inner.played
    assert np.array_equal(made, TONE)
    assert peak(quieter) == pytest.approx(peak(TONE) / 2, rel=0.01)
    assert peak(TONE) < peak(louder) <= 32767
    assert peak(muted) == 0
    assert sink.name == inner.name


def test_must_be_heard_overrides_mute_and_zero() -> None:
    volume = OutputVolume(level=0)
    volume.mute()
    with volume.audible():
        assert volume.gain == 1.0  # level 0 would be silent: the default level instead
    assert volume.gain == 0.0


def test_the_level_survives_a_restart_and_a_bad_file_means_the_default(tmp_path: Path) -> None:
    OutputVolume.load(tmp_path).set(3)
    assert OutputVolume.load(tmp_path).level == 3
    OutputVolume.load(tmp_path).mute()
    assert OutputVolume.load(tmp_path).muted
    (tmp_path / "volume.json").write_text("{not json")
    assert OutputVolume.load(tmp_path).level == 8
    (tmp_path / "volume.json").write_text('{"level": "loud"}')
    assert OutputVolume.load(tmp_path).level == 8
    assert OutputVolume(level=42).level == 10 and OutputVolume(level=-3).level == 0


RECOGNIZER = IntentRecognizer.load()


@pytest.mark.parametrize(
    ("commands", "level", "last_said"),
    [
        (["turn it up"], 10, "Volume 10."),
        (["turn it up", "louder"], 10, "Volume 10 is the loudest."),  # already at the top
        (["turn the volume down"], 6, "Volume 6."),
        (["set the volume to 3"], 3, "Volume 3."),
        (["volume to fifty percent"], 5, "Volume 5."),
        (["max volume"], 10, "Volume 10."),
        (["minimum volume"], 1, "Volume 1."),
        (["volume 3", "mute", "unmute"], 3, "Volume 3."),  # back where it was
    ],
)
async def test_spoken_volume_commands(commands: list[str], level: int, last_said: str) -> None:
    volume = OutputVolume()
    ctx = FakeSkillContext(volume=volume)
    for text in commands:
        intent = RECOGNIZER.recognize(text)
        assert intent.name.startswith("volume."), (text, intent)
        await VolumeSkill().handle(intent, ctx)  # type: ignore[arg-type]
    assert volume.level == level and not volume.muted
    assert ctx.said[-1] == last_said


async def test_asking_for_the_volume() -> None:
    ctx = FakeSkillContext(volume=OutputVolume(level=6))
    intent = RECOGNIZER.recognize("what's the volume")
    await VolumeSkill().handle(intent, ctx)  # type: ignore[arg-type]
    assert ctx.said == ["The volume is 6. Say a level from 0 to 10."]


async def test_mute_is_confirmed_on_the_display_only() -> None:
    volume = OutputVolume()
    ctx = FakeSkillContext(volume=volume)
    await VolumeSkill().handle(Intent("volume.mute"), ctx)  # type: ignore[arg-type]
    assert volume.muted and ctx.said == [] and "Muted" in ctx.shown[0]


async def test_without_a_volume_control_it_says_so() -> None:
    ctx = FakeSkillContext()
    await VolumeSkill().handle(Intent("volume.up"), ctx)  # type: ignore[arg-type]
    assert ctx.said == [NO_VOLUME]
