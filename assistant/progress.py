"""Progress of long commands (report, bench) on stderr, so that --json stdout stays clean.

One line per step as it starts: `[3/9] wake word evaluation... (41 s)`, the seconds since the
command began; then `done in 95 s`. No dependency, no carriage returns: the lines read the same
in a terminal, a log file or CI.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

Progress = Callable[[str], None]


def quiet(_label: str) -> None:
    """A `Progress` that says nothing (library callers and tests)."""


class Steps:
    """Call with each step's label as it starts; `finish()` at the end."""

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self._stream = stream
        self._clock = clock
        self._start = clock()

    def __call__(self, label: str) -> None:
        self.done += 1
        total = max(self.total, self.done)  # a miscounted total never prints [10/9]
        self._print(f"[{self.done}/{total}] {label}... ({self._clock() - self._start:.0f} s)")

    def finish(self) -> None:
        self._print(f"done in {self._clock() - self._start:.0f} s")

    def _print(self, line: str) -> None:
        print(line, file=self._stream or sys.stderr, flush=True)
