"""The microphone as an `AudioSource`: a sounddevice input stream, resampled to 16 kHz mono."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import numpy as np

from assistant.audio import CHUNK_SAMPLES, AudioChunk
from assistant.audio_convert import Float32, Resampler, float_to_pcm, to_mono
from assistant.audio_devices import (
    DeviceInfo,
    device_error,
    import_sounddevice,
    pick_settings,
    resolve_device,
)
from models.protocols import SAMPLE_RATE

log = logging.getLogger(__name__)

_MAX_QUEUED_S: Final = 2.0  # audio the loop may fall behind by before the oldest is dropped


class MicrophoneSource:
    """Chunks of `chunk_samples` at 16 kHz from an input device (index, part of a name, or None
    for the default).

    The device is looked up here, so a missing PortAudio or microphone raises `AudioError` at
    once; the stream opens when `chunks()` starts. It runs at 16 kHz when the device takes that,
    else at `sample_rate` or the device's default rate, and is resampled. PortAudio's callback
    thread hands blocks to the loop with `call_soon_threadsafe` only; if the loop falls more
    than two seconds behind, the oldest audio is dropped (and logged), never the newest.
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        chunk_samples: int = CHUNK_SAMPLES,
        sample_rate: int | None = None,
    ) -> None:
        self._sd = import_sounddevice()
        self.device: DeviceInfo = resolve_device(self._sd, device, "input")
        self.chunk_samples = chunk_samples
        self.rate, self.channels = self._settings(sample_rate)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="microphone")
        self._queue: asyncio.Queue[Float32 | None] | None = None
        self._stream: Any = None
        self._closed = False
        self._dropping = False

    @property
    def name(self) -> str:
        return f"mic:{self.device.name}"

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        block = max(1, round(self.rate * self.chunk_samples / SAMPLE_RATE))
        queue: asyncio.Queue[Float32 | None] = asyncio.Queue(
            maxsize=max(2, round(_MAX_QUEUED_S * self.rate / block))
        )
        self._queue = queue

        def callback(indata: Any, frames: int, time: Any, status: Any) -> None:  # PortAudio thread
            mono = to_mono(indata)  # a copy: PortAudio reuses indata's buffer
            with contextlib.suppress(RuntimeError):  # the loop closed under a running stream
                loop.call_soon_threadsafe(self._offer, queue, mono, str(status) if status else "")

        self._stream = await loop.run_in_executor(self._executor, self._open, block, callback)
        resampler = Resampler(self.rate, SAMPLE_RATE) if self.rate != SAMPLE_RATE else None
        pending = np.zeros(0, dtype=np.float32)
        position = 0
        try:
            while not self._closed:
                samples = await queue.get()
                if samples is None:
                    break
                if queue.qsize() < queue.maxsize // 2:
                    self._dropping = False  # caught up: log the next overflow again
                if resampler is not None:
                    samples = resampler.process(samples)
                pending = np.concatenate([pending, samples])
                while len(pending) >= self.chunk_samples:
                    pcm = float_to_pcm(pending[: self.chunk_samples])
                    pending = pending[self.chunk_samples :]
                    yield AudioChunk(pcm, position / SAMPLE_RATE)
                    position += len(pcm)
        finally:
            await self._close_stream()

    async def close(self) -> None:
        """Ends `chunks()` and releases the device, even if nobody is iterating any more."""
        self._closed = True
        if self._queue is not None:
            self._offer(self._queue, None, "")
        await self._close_stream()
        self._executor.shutdown(wait=False)

    async def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, _stop, stream)

    def _offer(
        self, queue: asyncio.Queue[Float32 | None], block: Float32 | None, status: str
    ) -> None:
        if status:
            log.warning("microphone: %s", status)
        if queue.full():
            queue.get_nowait()
            if not self._dropping:
                log.warning("microphone: the assistant fell behind; dropping the oldest audio")
                self._dropping = True
        queue.put_nowait(block)

    def _settings(self, sample_rate: int | None) -> tuple[int, int]:
        """16 kHz mono if the device takes it, else the rate asked for or its default rate."""
        wanted = SAMPLE_RATE if sample_rate is None else sample_rate
        return pick_settings(
            self._sd, self.device, "input", [wanted, round(self.device.default_rate)]
        )

    def _open(self, block: int, callback: Any) -> Any:
        try:
            stream = self._sd.InputStream(
                device=self.device.index,
                samplerate=self.rate,
                channels=self.channels,
                dtype="float32",
                blocksize=block,
                callback=callback,
            )
            stream.start()
        except Exception as err:  # PortAudioError, or ValueError for settings it refuses
            raise device_error(self.device, "input", err) from err
        log.info("microphone %s open at %d Hz, %d channel(s)", self.name, self.rate, self.channels)
        return stream


def _stop(stream: Any) -> None:
    stream.stop()
    stream.close()
