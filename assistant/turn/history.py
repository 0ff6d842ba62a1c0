"""The last seconds of audio heard: what a turn keeps from before it opened."""

from __future__ import annotations

import collections

from models.protocols import SAMPLE_RATE, Pcm


class AudioHistory:
    """A ring of recent chunks holding at least `seconds` of audio."""

    def __init__(self, seconds: float) -> None:
        self._keep = int(seconds * SAMPLE_RATE)
        self._chunks: collections.deque[Pcm] = collections.deque()
        self._samples = 0

    def remember(self, pcm: Pcm) -> None:
        self._chunks.append(pcm)
        self._samples += len(pcm)
        while self._chunks and self._samples - len(self._chunks[0]) >= self._keep:
            self._samples -= len(self._chunks.popleft())

    def recent(self, seconds: float) -> list[Pcm]:
        """The last `seconds` of audio heard (the latest chunk included)."""
        room = int(seconds * SAMPLE_RATE)
        recent: list[Pcm] = []
        for pcm in reversed(self._chunks):
            if room <= 0:
                break
            recent.append(pcm[-room:] if len(pcm) > room else pcm)
            room -= len(pcm)
        recent.reverse()
        return recent
