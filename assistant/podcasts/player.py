"""The episode player: PyAV decodes MP3, AAC/M4A, Ogg and more; the audio goes to an `AudioSink`.

Decoding runs in a single-worker executor a quarter second at a time, so the event loop never
blocks and pause, seek or stop take effect within one chunk. The player knows nothing of the
library: it reports positions through `on_position`, which the media controller stores.
Ducking scales the samples it sends while the assistant listens or speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import av
import numpy as np

from assistant.audio import AudioSink
from assistant.podcasts.errors import DamagedFileError, PlaybackError
from models.protocols import Pcm

_LOGGER = logging.getLogger(__name__)

State = Literal["stopped", "playing", "paused"]
# (key, position in seconds, finished): called on pause, stop, seek, the end, and periodically.
PositionListener = Callable[[int, float, bool], None]
CHUNK_S: Final = 0.25


class Decoder:
    """One open audio file: mono int16 at the file's own rate, from any position."""

    def __init__(self, path: Path) -> None:
        try:
            self._container: Any = av.open(str(path))
        except (av.FFmpegError, OSError) as err:
            raise DamagedFileError(f"Cannot open {path.name} for playback: {err}.") from err
        if not self._container.streams.audio:
            self._container.close()
            raise DamagedFileError(f"{path.name} holds no audio stream.")
        self._stream: Any = self._container.streams.audio[0]
        self.sample_rate = int(self._stream.rate or 44_100)
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=self.sample_rate)
        self.duration_s = (
            float(self._container.duration) / 1_000_000 if self._container.duration else 0.0
        )
        self.path = path
        self._frames: Any = None
        self._pending = np.zeros(0, dtype=np.int16)
        self._target_s = 0.0  # samples before this (after a seek) are dropped
        self.position_s = 0.0  # of the next sample `read` returns

    def seek(self, seconds: float) -> None:
        seconds = max(0.0, min(seconds, self.duration_s or seconds))
        try:
            self._container.seek(int(seconds / self._stream.time_base), stream=self._stream)
        except av.FFmpegError as err:
            raise PlaybackError(f"Cannot seek in {self.path.name}: {err}.") from err
        self._frames = None
        self._pending = np.zeros(0, dtype=np.int16)
        self._target_s = seconds
        self.position_s = seconds

    def read(self, seconds: float) -> Pcm:
        """Up to `seconds` of audio; empty at the end of the file."""
        want = int(seconds * self.sample_rate)
        parts = [self._pending]
        have = len(self._pending)
        if self._frames is None:
            self._frames = self._container.decode(self._stream)
        try:
            while have < want:
                frame = next(self._frames, None)
                if frame is None:
                    break
                start = frame.time
                for out in self._resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                    if start is not None and start < self._target_s:
                        drop = int((self._target_s - start) * self.sample_rate)
                        pcm = pcm[drop:]
                    parts.append(pcm)
                    have += len(pcm)
        except av.FFmpegError as err:
            _LOGGER.warning("decode error in %s: %s; stopping there", self.path.name, err)
        self._target_s = 0.0
        joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
        chunk, self._pending = joined[:want], joined[want:]
        self.position_s += len(chunk) / self.sample_rate
        return chunk

    def close(self) -> None:
        self._container.close()


@dataclass(frozen=True, slots=True)
class Loaded:
    key: int
    path: Path
    duration_s: float


class Player:
    """Plays one file at a time. Call from the event loop only."""

    def __init__(
        self,
        sink: AudioSink,
        *,
        on_position: PositionListener | None = None,
        save_every_s: float = 15.0,
        duck_gain: float = 0.2,
        chunk_s: float = CHUNK_S,
    ) -> None:
        self._sink = sink
        self._on_position = on_position
        self._save_every_s = save_every_s
        self._duck_gain = duck_gain
        self._chunk_s = chunk_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="podcast-decode")
        self._decoder: Decoder | None = None
        self._loaded: Loaded | None = None
        self._task: asyncio.Task[None] | None = None
        self._position_s = 0.0
        self._ducked = False
        self._first_audio: asyncio.Event = asyncio.Event()
        self.state: State = "stopped"

    @property
    def loaded(self) -> Loaded | None:
        return self._loaded

    @property
    def position_s(self) -> float:
        return self._position_s

    @property
    def ducked(self) -> bool:
        return self._ducked

    def duck(self, on: bool = True) -> None:
        """Lower (or restore) the episode's volume from the next chunk on."""
        self._ducked = on

    async def play(self, path: Path, *, key: int, start_s: float = 0.0) -> None:
        """Start `path` at `start_s`; returns once its first audio has reached the sink."""
        await self.stop()
        loop = asyncio.get_running_loop()
        decoder = await loop.run_in_executor(self._executor, Decoder, path)
        if decoder.duration_s and start_s >= decoder.duration_s - 1.0:
            start_s = 0.0  # finished last time: start over
        if start_s > 0:
            await loop.run_in_executor(self._executor, decoder.seek, start_s)
        self._decoder = decoder
        self._loaded = Loaded(key=key, path=path, duration_s=decoder.duration_s)
        self._position_s = start_s
        self._start()
        await self._wait_first_audio()

    async def pause(self) -> bool:
        if self.state != "playing":
            return False
        await self._halt()
        self.state = "paused"
        self._report(finished=False)
        return True

    async def resume(self) -> bool:
        if self.state != "paused" or self._decoder is None:
            return False
        await self._reposition(self._position_s)
        self._start()
        await self._wait_first_audio()
        return True

    async def seek(self, seconds: float) -> float:
        """Jump to `seconds` (clamped to the episode); keeps playing or paused as it was."""
        if self._decoder is None or self._loaded is None:
            return 0.0
        end = self._loaded.duration_s or float("inf")
        target = max(0.0, min(seconds, max(0.0, end - 0.5)))
        playing = self.state == "playing"
        if playing:
            await self._halt()
        await self._reposition(target)
        self._report(finished=False)
        if playing:
            self._start()
        return target

    async def skip(self, delta_s: float) -> float:
        return await self.seek(self._position_s + delta_s)

    async def stop(self) -> None:
        if self._decoder is None:
            return
        if self.state != "stopped":
            await self._halt()
            self._report(finished=False)
        decoder, self._decoder = self._decoder, None
        await asyncio.get_running_loop().run_in_executor(self._executor, decoder.close)
        self.state = "stopped"
        self._loaded = None

    async def close(self) -> None:
        await self.stop()
        self._executor.shutdown(wait=True)

    async def wait(self) -> None:
        """Until the current episode ends or is stopped or paused (tests, the CLI)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    # --- internals ----------------------------------------------------------------------------

    def _start(self) -> None:
        self.state = "playing"
        self._first_audio = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="podcast-player")

    async def _wait_first_audio(self) -> None:
        task = self._task
        if task is None:
            return
        waiter = asyncio.ensure_future(self._first_audio.wait())
        await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise PlaybackError(f"Playback failed: {task.exception()}.")

    async def _reposition(self, seconds: float) -> None:
        decoder = self._decoder
        if decoder is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, decoder.seek, seconds)
            self._position_s = seconds

    async def _halt(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._sink.stop()

    async def _run(self) -> None:
        decoder = self._decoder
        if decoder is None:
            return
        loop = asyncio.get_running_loop()
        since_save = 0.0
        while True:
            pcm = await loop.run_in_executor(self._executor, decoder.read, self._chunk_s)
            if not len(pcm):
                break
            if self._ducked:
                pcm = (pcm.astype(np.float32) * self._duck_gain).astype(np.int16)
            await self._sink.play(pcm, decoder.sample_rate)
            self._first_audio.set()
            seconds = len(pcm) / decoder.sample_rate
            self._position_s += seconds
            since_save += seconds
            if since_save >= self._save_every_s:
                since_save = 0.0
                self._report(finished=False)
        await self._sink.drain()
        self._first_audio.set()
        self.state = "stopped"
        self._report(finished=True)
        _LOGGER.info("finished %s", decoder.path.name)

    def _report(self, *, finished: bool) -> None:
        if self._on_position is not None and self._loaded is not None:
            try:
                self._on_position(self._loaded.key, self._position_s, finished)
            except Exception:
                _LOGGER.exception("saving the position of %s failed", self._loaded.path.name)
