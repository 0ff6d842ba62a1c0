"""Freed memory goes back to the system between turns."""

from __future__ import annotations

import sys

import pytest

from assistant import memory


def test_freed_heap_pages_go_back_to_the_system() -> None:
    if memory._libc() is None:
        pytest.skip("malloc_trim is glibc's")
    junk = [bytearray(64 * 1024) for _ in range(200)]  # 12.5 MB on the heap, freed below
    del junk
    assert memory.release_free_memory()


def test_nothing_to_do_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    memory._libc.cache_clear()
    try:
        assert memory.release_free_memory() is False
    finally:
        memory._libc.cache_clear()
