"""The assistant's output volume, and the sink wrapper that applies it.

One `OutputVolume` scales everything the assistant plays, replies and podcast episodes alike,
wherever they go (speaker, WAV, glasses). It is kept in `volume.json` in the data dir, so a
restart keeps the level; an unreadable file means the default level, with a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np

from assistant.audio import AudioSink
from models.protocols import Pcm

_LOGGER = logging.getLogger(__name__)

VOLUME_FILE: Final = "volume.json"
DEFAULT_LEVEL: Final = 8  # the audio as made
MAX_LEVEL: Final = 10
DB_PER_LEVEL: Final = 3.0  # each step is 3 dB: 9 and 10 are louder than made, softly limited


class OutputVolume:
    """Level 0-10 (8 is the audio as made) and mute (`skills.sdk.VolumeControl`), saved on
    every change."""

    def __init__(self, path: Path | None = None, level: int = DEFAULT_LEVEL) -> None:
        self.path = path
        self._level = _clamp(level)
        self._muted = False
        self._must_be_heard = 0  # alarms and reminders in progress: mute does not apply

    @classmethod
    def load(cls, folder: Path) -> OutputVolume:
        path = folder / VOLUME_FILE
        volume = cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            volume._level = _clamp(int(data["level"]))
            volume._muted = bool(data.get("muted", False))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError) as err:
            _LOGGER.warning("ignoring unreadable %s (%s): volume %d", path, err, volume._level)
        return volume

    @property
    def level(self) -> int:
        return self._level

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def gain(self) -> float:
        level = self._level
        if self._must_be_heard:
            level = level or DEFAULT_LEVEL
        elif self._muted or level == 0:
            return 0.0
        return float(10 ** ((level - DEFAULT_LEVEL) * DB_PER_LEVEL / 20))

    @contextlib.contextmanager
    def audible(self) -> Iterator[None]:
        """While inside, play even if muted (at the default level if the level is 0): an
        alarm must ring through "mute" the way a phone's does."""
        self._must_be_heard += 1
        try:
            yield
        finally:
            self._must_be_heard -= 1

    def set(self, level: int) -> int:
        self._level = _clamp(level)
        self._muted = False
        self._save()
        return self._level

    def mute(self, on: bool = True) -> None:
        self._muted = on
        self._save()

    def apply(self, pcm: Pcm) -> Pcm:
        gain = self.gain
        if gain == 1.0:
            return pcm
        scaled = pcm.astype(np.float32) * (gain / 32768.0)
        if gain > 1.0:  # louder than made: round off the peaks instead of clipping them
            scaled = np.tanh(scaled)
        out: Pcm = np.clip(np.rint(scaled * 32767.0), -32768, 32767).astype(np.int16)
        return out

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"level": self._level, "muted": self._muted}), "utf-8")
            tmp.replace(self.path)  # atomic: a crash never leaves half a file
        except OSError as err:
            _LOGGER.warning("could not save the volume to %s: %s", self.path, err)


def _clamp(level: int) -> int:
    return max(0, min(MAX_LEVEL, int(level)))


class VolumeSink:
    """An `AudioSink` that plays through `inner` at `volume`'s level."""

    def __init__(self, inner: AudioSink, volume: OutputVolume) -> None:
        self.inner = inner
        self.volume = volume

    @property
    def name(self) -> str:
        return self.inner.name

    async def play(self, pcm: Pcm, sample_rate: int) -> None:
        await self.inner.play(self.volume.apply(pcm), sample_rate)

    async def drain(self) -> None:
        await self.inner.drain()

    async def stop(self) -> None:
        await self.inner.stop()

    async def close(self) -> None:
        await self.inner.close()
