"""`until_signalled`: SIGTERM or SIGINT cancels the main task, whose `finally` blocks run; a second
signal is Python's own again (the process ends). The signals are real, sent to this process."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from assistant.shutdown import until_signalled

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="needs POSIX signals")


async def forever(cleaned: list[str]) -> int:
    try:
        await asyncio.Event().wait()
    finally:
        cleaned.append("finally")
    return 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_cancels_the_task_and_its_finally_runs(sig: signal.Signals) -> None:
    before = signal.getsignal(sig)
    cleaned: list[str] = []
    asyncio.get_running_loop().call_soon(os.kill, os.getpid(), sig)
    assert await until_signalled(forever(cleaned), name="forever") is sig
    assert cleaned == ["finally"]
    assert signal.getsignal(sig) is before  # a second signal: Python's own handling


async def test_a_task_that_stops_itself_on_cancel_gives_its_result() -> None:
    async def player() -> int:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return 0  # stopped, position saved: a clean end
        return 1

    asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)
    assert await until_signalled(player(), name="player") == 0


async def test_without_a_signal_the_result_and_the_handlers_are_as_before() -> None:
    async def answer() -> int:
        return 42

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    assert await until_signalled(answer(), name="answer") == 42
    assert {sig: signal.getsignal(sig) for sig in before} == before
