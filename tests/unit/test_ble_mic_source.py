"""The glasses' microphone source while the link is down: time goes on, in silence."""

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
