"""The voice out: one reply at a time, what was last said, and "stop" heard while it talks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from assistant import events as ev
from assistant.audio import AudioSink
from models.protocols import Pcm, Synthesizer

Emit = Callable[[ev.Event], None]  # Pipeline.emit: stamps the event and sends it on

# Longest "stop" worth checking while the assistant talks; longer speech is someone talking.
STOP_MAX_S = 2.0


class Speaker:
    """Speaks replies sentence by sentence as each is synthesized, one voice at a time (a
    reminder may fall due mid-turn), and remembers what the latest turn said."""

    def __init__(self, tts: Synthesizer, sink: AudioSink, emit: Emit) -> None:
        self._tts = tts
        self._sink = sink
        self._emit = emit
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tts")
        self._speaking = asyncio.Lock()
        self._last: list[str] = []
        self._last_turn = -1

    @property
    def last_reply(self) -> list[str]:
        """Everything said in the latest turn that said something."""
        return list(self._last)

    def synthesize_ahead(self, text: str) -> asyncio.Future[list[Pcm]]:
        """Start synthesizing `text` now, to be spoken later."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._pool, _synthesize_all, self._tts, text)

    async def say(
        self,
        text: str,
        *,
        turn: int,
        remember: bool = True,
        speech: Awaitable[list[Pcm]] | None = None,
    ) -> None:
        """Speak `text` (`speech`: already being synthesized)."""
        if remember:
            if self._last_turn != turn:
                self._last, self._last_turn = [], turn
            self._last.append(text)
        async with self._speaking:
            await self._say(text, speech)

    async def _say(self, text: str, speech: Awaitable[list[Pcm]] | None) -> None:
        self._emit(ev.Reply(text=text))
        loop = asyncio.get_running_loop()
        tts = self._tts
        ready: list[Pcm] | None = await speech if speech is not None else None
        sentences: Iterator[Pcm] = iter(
            ready
            if ready is not None
            else await loop.run_in_executor(self._pool, tts.synthesize, text)
        )
        seconds = 0.0
        started = False
        interrupted = True
        try:
            while True:
                if ready is not None:  # synthesized already: no queueing behind the TTS worker
                    pcm = next(sentences, None)
                else:
                    pcm = await loop.run_in_executor(self._pool, next, sentences, None)
                if pcm is None:
                    break
                if not started:
                    started = True
                    self._emit(ev.AudioOutStarted(sample_rate=tts.sample_rate))
                await self._sink.play(pcm, tts.sample_rate)
                seconds += len(pcm) / tts.sample_rate
            await self._sink.drain()
            interrupted = False
        finally:
            if started:
                self._emit(ev.AudioOutFinished(seconds=seconds, interrupted=interrupted))

    async def stop(self) -> None:
        """Cut off what is being played."""
        await self._sink.stop()

    async def drain(self) -> None:
        await self._sink.drain()

    async def aclose(self) -> None:
        await self._sink.close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class StopListener:
    """Collects a short utterance heard while the assistant talks, to check it for "stop".

    Pure: the pipeline feeds it audio time, chunks and the VAD's verdict, and gets back the
    audio to check once the utterance ended in time (longer speech is not a "stop").
    """

    def __init__(self, silence_s: float) -> None:
        self._silence_s = silence_s
        self._opened_at: float | None = None
        self._last_speech = 0.0
        self._audio: list[Pcm] = []

    def hear(
        self, pos: float, pcm: Pcm, speech: bool, before: Callable[[], list[Pcm]]
    ) -> list[Pcm] | None:
        """Feed one chunk ending at audio time `pos`; `before()`: the last moments of audio,
        this chunk included, for when speech begins. Returns the utterance's audio when it
        ended soon enough to be a "stop"."""
        if self._opened_at is None:
            if not speech:
                return None
            self._opened_at = self._last_speech = pos
            self._audio = before()
        else:
            self._audio.append(pcm)
            if speech:
                self._last_speech = pos
        length = pos - self._opened_at
        if pos - self._last_speech < self._silence_s and length <= STOP_MAX_S:
            return None
        audio, self._audio, self._opened_at = self._audio, [], None
        return audio if length <= STOP_MAX_S else None

    def reset(self) -> None:
        self._opened_at = None
        self._audio = []


def _synthesize_all(tts: Synthesizer, text: str) -> list[Pcm]:
    return list(tts.synthesize(text))
