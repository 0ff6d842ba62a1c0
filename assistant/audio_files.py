"""Sources and sinks that need no sound card: WAV files, and a sink that only keeps time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

import numpy as np

from assistant.audio import CHUNK_SAMPLES, AudioChunk
from assistant.audio_convert import resample
from assistant.wav_io import BLOCK_BYTES, WavWriter, iter_wav_16k_mono
from models.protocols import SAMPLE_RATE, Pcm

log = logging.getLogger(__name__)

# A pacing sink accepts audio until this much is waiting to be heard, like a speaker's buffer.
AHEAD_S: Final = 0.5


class WavFileSource:
    """A WAV file heard as a microphone would hear it (`paced`), or as fast as it can be read.

    The file is read and converted block by block as the chunks are taken (memory does not grow
    with its length); its header is checked when `chunks()` starts, so errors surface there.
    """

    def __init__(
        self, path: str | Path, *, paced: bool, chunk_samples: int = CHUNK_SAMPLES
    ) -> None:
        if chunk_samples < 1:
            raise ValueError(f"chunk_samples must be positive, not {chunk_samples}")
        self.path = Path(path)
        self.paced = paced
        self.chunk_samples = chunk_samples
        self.block_bytes = BLOCK_BYTES
        self._closed = False

    @property
    def name(self) -> str:
        return f"file:{self.path}"

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        blocks = iter_wav_16k_mono(self.path, block_bytes=self.block_bytes)
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            pending = np.zeros(0, dtype=np.int16)
            first = 0  # sample index of pending[0]
            while not self._closed:
                block = await asyncio.to_thread(next, blocks, None)
                if block is None:
                    break
                pending = np.concatenate([pending, block]) if len(pending) else block
                whole = len(pending) - len(pending) % self.chunk_samples
                for at in range(0, whole, self.chunk_samples):
                    if self._closed:
                        return
                    chunk = AudioChunk(pending[at : at + self.chunk_samples], first / SAMPLE_RATE)
                    first += self.chunk_samples
                    if self.paced:  # a microphone delivers a chunk once its last sample was spoken
                        await asyncio.sleep(max(0.0, started + chunk.end_s - loop.time()))
                    yield chunk
                pending = pending[whole:]
            if len(pending) and not self._closed:
                chunk = AudioChunk(pending, first / SAMPLE_RATE)
                if self.paced:
                    await asyncio.sleep(max(0.0, started + chunk.end_s - loop.time()))
                yield chunk
        finally:
            # A chunk taken while the reader thread still runs (a cancelled turn) cannot close
            # the generator now; the file then closes when the generator is collected.
            with contextlib.suppress(ValueError):
                blocks.close()

    async def close(self) -> None:
        self._closed = True


class WavFileSink:
    """Writes 16-bit mono at the rate of the first audio it gets; later audio is resampled to it.

    The header is rewritten after every write, so the file is valid however the run ends. A sink
    that never got audio still leaves an empty 16 kHz file behind on `close()`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writer: WavWriter | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wav-sink")
        self._closed = False

    @property
    def name(self) -> str:
        return f"file:{self.path}"

    @property
    def sample_rate(self) -> int | None:
        return None if self._writer is None else self._writer.sample_rate

    async def play(self, pcm: Pcm, sample_rate: int) -> None:
        await asyncio.get_running_loop().run_in_executor(
            self._executor, self._write, pcm, sample_rate
        )

    def _write(self, pcm: Pcm, sample_rate: int) -> None:
        if self._writer is None:
            self._writer = WavWriter(self.path, sample_rate)
            log.debug("writing %s at %d Hz", self.path, sample_rate)
        self._writer.write(resample(pcm, sample_rate, self._writer.sample_rate))

    async def drain(self) -> None:
        """Nothing is ever queued: `play` has written the audio when it returns."""

    async def stop(self) -> None:
        """Nothing is queued to drop; what was played stays in the file."""

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)

    def _close(self) -> None:
        if self._writer is None:
            self._writer = WavWriter(self.path, SAMPLE_RATE)
        self._writer.close()


class NullSink:
    """Discards audio. When `paced` it takes as long as a speaker would (for benchmarks)."""

    def __init__(self, *, paced: bool = False) -> None:
        self.paced = paced
        self.received_s = 0.0  # seconds of audio played to it, stopped or not
        self._heard_by = 0.0  # loop time when everything accepted so far has been "heard"
        self._stopped = asyncio.Event()

    @property
    def name(self) -> str:
        return "null"

    async def play(self, pcm: Pcm, sample_rate: int) -> None:
        duration = len(pcm) / sample_rate
        self.received_s += duration
        if self.paced:
            now = asyncio.get_running_loop().time()
            self._heard_by = max(self._heard_by, now) + duration
            await self._wait_until(self._heard_by - AHEAD_S)

    async def drain(self) -> None:
        if self.paced:
            await self._wait_until(self._heard_by)

    async def stop(self) -> None:
        self._heard_by = 0.0
        self._stopped.set()  # wakes whoever waits in play() or drain()
        self._stopped = asyncio.Event()

    async def close(self) -> None:
        await self.stop()

    async def _wait_until(self, deadline: float) -> None:
        delay = deadline - asyncio.get_running_loop().time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), delay)
