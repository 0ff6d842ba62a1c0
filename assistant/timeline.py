"""Printing the event timeline: one line per event, or JSON lines."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from assistant import events as ev


class Timeline:
    def __init__(self, *, as_json: bool, out: TextIO | None = None) -> None:
        self.as_json = as_json
        self.out = out or sys.stdout
        self.events: list[ev.Event] = []

    def __call__(self, event: ev.Event) -> None:
        self.events.append(event)
        if self.as_json:
            self.out.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
        else:
            where = f" [audio {event.audio_s:6.2f} s]" if event.audio_s is not None else ""
            self.out.write(f"{event.t:8.3f} s{where}  {event.describe()}\n")
        self.out.flush()

    def of(self, kind: type[ev.Event]) -> list[ev.Event]:
        return [e for e in self.events if isinstance(e, kind)]
