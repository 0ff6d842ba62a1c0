"""The malloc arena cap: applied through mallopt on glibc, skipped where it cannot apply."""

from __future__ import annotations

import sys

import pytest

from assistant import memory


class _Libc:
    def __init__(self, result: int = 1) -> None:
        self.calls: list[tuple[int, int]] = []
        self.result = result

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return self.result


def test_caps_arenas_through_mallopt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    libc = _Libc()
    assert memory.limit_malloc_arenas(libc=libc)
    assert libc.calls == [(memory.M_ARENA_MAX, memory.ARENAS)]


def test_the_users_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    libc = _Libc()
    assert not memory.limit_malloc_arenas(libc=libc)
    assert libc.calls == []


def test_other_platforms_and_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not memory.limit_malloc_arenas(libc=_Libc())
    monkeypatch.setattr(sys, "platform", "linux")
    assert not memory.limit_malloc_arenas(libc=object())  # no mallopt (not glibc)
    assert not memory.limit_malloc_arenas(libc=_Libc(result=0))  # refused


def test_the_real_libc_accepts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt exists on Linux only")
    assert memory.limit_malloc_arenas() in (True, False)  # never raises, whatever the libc
