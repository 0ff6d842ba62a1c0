"""Wake word and voice activity over the microphone's chunks, on one worker thread."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from models.protocols import SAMPLE_RATE, Detection, Pcm, VoiceActivityDetector, WakeWordDetector


class Listener:
    """Hears every chunk with the wake model, and with the VAD when asked.

    All of its state (the engines' and the VAD's framing remainder) is touched on its one
    worker thread only: the event loop asks, and resets queue behind the chunk in flight.
    The wake model hears every chunk, whatever the pipeline is doing, so its context stays
    whole: fed nothing while a command was recorded, it spliced the phrase onto what came
    after and fired again on the reply's heels (a command answered twice).
    """

    def __init__(self, wake: WakeWordDetector, vad: VoiceActivityDetector, threshold: float):
        self._wake = wake
        self._vad = vad
        self._threshold = threshold
        self._rest = np.zeros(0, dtype=np.int16)  # worker thread only
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="listen")

    @property
    def vad_frame_s(self) -> float:
        return self._vad.frame_samples / SAMPLE_RATE

    async def hear(self, pcm: Pcm, *, vad: bool) -> tuple[Detection | None, list[bool]]:
        """The wake detection in `pcm`, if any, and speech or not for each VAD frame (none
        when `vad` is False)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hear, pcm, vad)

    def restart_wake(self) -> None:
        """A new stream: what the wake model heard before (a refractory period) is dropped."""
        self._pool.submit(self._wake.reset)

    def restart_vad(self) -> None:
        """A new utterance: the VAD's state and any half frame are dropped."""
        self._pool.submit(self._restart_vad)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _restart_vad(self) -> None:
        self._rest = np.zeros(0, dtype=np.int16)
        self._vad.reset()

    def _hear(self, pcm: Pcm, vad: bool) -> tuple[Detection | None, list[bool]]:
        detection = self._wake.process(pcm)
        if not vad:
            self._rest = np.zeros(0, dtype=np.int16)
            return detection, []
        frame = self._vad.frame_samples
        buf = np.concatenate([self._rest, pcm]) if len(self._rest) else pcm
        whole = len(buf) - len(buf) % frame
        speech = [
            self._vad.probability(buf[i : i + frame]) >= self._threshold
            for i in range(0, whole, frame)
        ]
        self._rest = buf[whole:]
        return detection, speech
