"""The glasses' microphone source while the link is down or the microphone is off: time goes
on, in silence."""

from __future__ import annotations

import asyncio

import numpy as np

from assistant.glasses import GlassesMicSource
from firmware_bridge.central import GlassesLink


async def test_silence_in_real_time_while_the_link_is_down_then_the_end() -> None:
    link = GlassesLink("C0:5E:77:00:00:02", paired=set())  # never started: never ready
    source = GlassesMicSource(link)
    loop = asyncio.get_running_loop()
    started = loop.time()
    chunks = []
    async for chunk in source.chunks():
        chunks.append(chunk)
        if len(chunks) == 3:
            await source.close()
    assert [c.start_s for c in chunks] == [0.0, 0.08, 0.16]
    assert all(not np.any(c.pcm) for c in chunks)
    assert 0.2 <= loop.time() - started < 1.0


async def test_silence_once_a_ready_link_brings_no_audio_for_a_while() -> None:
    class Ready(GlassesLink):
        @property
        def is_ready(self) -> bool:
            return True

    source = GlassesMicSource(Ready("C0:5E:77:00:00:02", paired=set()))
    loop = asyncio.get_running_loop()
    started = loop.time()
    source.feed(np.full(320, 7, dtype=np.int16))
    chunks = []
    async for chunk in source.chunks():
        chunks.append(chunk)
        if len(chunks) == 2:
            await source.close()
    # Late audio is waited for (3 chunk periods), then time goes on with what came in.
    assert np.count_nonzero(chunks[0].pcm == 7) == 320
    assert not np.any(chunks[1].pcm)
    assert 0.3 <= loop.time() - started < 1.5
