"""The speaker as an `AudioSink`: a sounddevice output stream fed from a queue we can empty.

The stream pulls audio in PortAudio's callback thread, so `stop()` only has to empty the queue
for the next callback to play silence: no blocking call stands between a barge-in and quiet.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import numpy as np

from assistant.audio_convert import Float32, pcm_to_float, resample_float
from assistant.audio_devices import (
    DeviceInfo,
    device_error,
    import_sounddevice,
    pick_settings,
    resolve_device,
)
from assistant.audio_files import AHEAD_S
from assistant.errors import AudioError
from models.protocols import Pcm

log = logging.getLogger(__name__)

_STALL_S: Final = 2.0  # no progress for this long: check that the stream is still running


class SpeakerSink:
    """Plays int16 audio on an output device (index, part of a name, or None for the default).

    The device is looked up here, so a missing PortAudio or speaker raises `AudioError` at
    once. The stream opens at the first audio's rate if the device takes it, else at the
    device's default rate, and audio at any other rate is resampled to the stream's.
    """

    def __init__(self, device: str | int | None = None) -> None:
        self._sd = import_sounddevice()
        self.device: DeviceInfo = resolve_device(self._sd, device, "output")
        self.rate: int | None = None  # the stream's, once open
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speaker")
        self._stream: Any = None
        self._opening = asyncio.Lock()
        self._lock = threading.Lock()  # guards _queue and _queued, shared with the callback
        self._queue: collections.deque[Float32] = collections.deque()
        self._queued = 0  # frames waiting in _queue
        self._progress = asyncio.Event()
        self._stops = 0  # bumped by stop(), so a drain() in progress knows to give up

    @property
    def name(self) -> str:
        return f"speaker:{self.device.name}"

    async def play(self, pcm: Pcm, sample_rate: int) -> None:
        async with self._opening:  # two first plays at once must not open two streams
            rate = self.rate or await self._open(sample_rate)
        samples = pcm_to_float(pcm)
        if sample_rate != rate:
            samples = resample_float(samples, sample_rate, rate)
        with self._lock:
            self._queue.append(samples)
            self._queued += len(samples)
        await self._wait_for(lambda: self._queued <= AHEAD_S * rate)

    async def drain(self) -> None:
        stops = self._stops
        await self._wait_for(lambda: self._queued == 0 or self._stops != stops)
        if self._stream is not None and self._stops == stops:
            # The last callback has handed its audio over; wait until the device has played it.
            await self._wait_for(lambda: self._stops != stops, at_most=self._latency())

    async def stop(self) -> None:
        with self._lock:
            self._queue.clear()
            self._queued = 0
        self._stops += 1
        self._notify()

    async def close(self) -> None:
        await self.stop()
        stream, self._stream = self._stream, None
        self.rate = None
        if stream is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, _stop, stream)
        self._executor.shutdown(wait=False)

    async def _open(self, sample_rate: int) -> int:
        loop = asyncio.get_running_loop()
        self._stream, rate = await loop.run_in_executor(
            self._executor, self._start, sample_rate, loop
        )
        self.rate = rate
        return rate

    def _start(self, sample_rate: int, loop: asyncio.AbstractEventLoop) -> tuple[Any, int]:
        rate, channels = self._settings(sample_rate)

        def callback(outdata: Any, frames: int, time: Any, status: Any) -> None:
            if status:
                log.debug("speaker: %s", status)
            played = self._take(outdata, frames)
            if played:
                with contextlib.suppress(RuntimeError):  # the loop closed under the stream
                    loop.call_soon_threadsafe(self._notify)

        try:
            stream = self._sd.OutputStream(
                device=self.device.index,
                samplerate=rate,
                channels=channels,
                dtype="float32",
                callback=callback,
            )
            stream.start()
        except Exception as err:  # PortAudioError, or ValueError for settings it refuses
            raise device_error(self.device, "output", err) from err
        log.info("speaker %s open at %d Hz, %d channel(s)", self.name, rate, channels)
        return stream, rate

    def _take(self, outdata: Any, frames: int) -> int:
        """Fill the callback's buffer from the queue, silence for the rest; frames taken."""
        out = np.zeros(frames, dtype=np.float32)
        filled = 0
        with self._lock:
            while filled < frames and self._queue:
                head = self._queue[0]
                n = min(frames - filled, len(head))
                out[filled : filled + n] = head[:n]
                filled += n
                if n == len(head):
                    self._queue.popleft()
                else:
                    self._queue[0] = head[n:]
            self._queued -= filled
        outdata[:] = out[:, None]  # the same signal on every channel
        return filled

    def _settings(self, sample_rate: int) -> tuple[int, int]:
        return pick_settings(
            self._sd, self.device, "output", [sample_rate, round(self.device.default_rate)]
        )

    def _notify(self) -> None:
        self._progress.set()  # wakes every waiter; each checks its own condition
        self._progress = asyncio.Event()

    async def _wait_for(self, done: Callable[[], bool], at_most: float | None = None) -> None:
        """Wait until `done()` holds (checked whenever the callback plays something)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (_STALL_S if at_most is None else at_most)
        while not done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                if at_most is not None:
                    return
                if self._stream is None or not self._stream.active:
                    raise AudioError(
                        f"The {self.name} stream stopped playing. Check the device, or use "
                        "--output FILE.wav.",
                        code="audio_device_error",
                    )
                deadline = loop.time() + _STALL_S
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)

    def _latency(self) -> float:
        return float(self._stream.latency) if self._stream is not None else 0.0


def _stop(stream: Any) -> None:
    stream.stop()
    stream.close()
