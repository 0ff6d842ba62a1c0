"""Stopping on SIGTERM or SIGINT: the main task is cancelled, so its `finally` blocks run.

A service manager (systemd, docker stop) sends SIGTERM and kills what is still there seconds
later. Python's default for SIGTERM ends the process on the spot: no position saved, no
database closed. Here the signal cancels the main task instead, so a reply is cut, the podcast
position is committed and the database closed on the way out. A second signal acts as it would
have without this (the process ends), for a shutdown that hangs. `exit_now` then skips what
only delays the exit: threads finishing work nobody will hear, the interpreter freeing models.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any, Final, NoReturn, TypeVar

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)


async def until_signalled(main: Coroutine[Any, Any, T], *, name: str) -> T | signal.Signals:
    """Run `main` as a task named `name`: its result, or the signal that cancelled it.

    If `main` swallows the cancellation and returns, its result is returned."""
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(main, name=name)
    received: list[signal.Signals] = []
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def stop(sig: signal.Signals) -> None:
        _LOGGER.info("%s: stopping %s", sig.name, name)
        received.append(sig)
        _restore(loop, previous)  # a second signal is not caught here: it acts as before
        task.cancel()

    for sig in SIGNALS:
        try:
            loop.add_signal_handler(sig, stop, sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread; Windows
            _LOGGER.debug("cannot handle %s here", sig.name)
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if received and (current is None or not current.cancelling()):
            return received[0]
        raise  # this coroutine itself was cancelled (asyncio.run's Ctrl-C, a second one)
    finally:
        _restore(loop, previous)


def _restore(loop: asyncio.AbstractEventLoop, previous: dict[signal.Signals, Any]) -> None:
    """The handlers from before (asyncio.run's own for SIGINT, the default for SIGTERM)."""
    for sig, handler in previous.items():
        if loop.remove_signal_handler(sig) and handler is not None:
            signal.signal(sig, handler)


def exit_now(code: int) -> NoReturn:
    """End the process without waiting for worker threads or freeing what it holds: for once
    everything that matters is saved and closed. Logs and standard streams are flushed."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
