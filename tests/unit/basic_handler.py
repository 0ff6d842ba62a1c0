"""A scripted handler for pipeline tests: it tells the time and declines the rest."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from assistant.pipeline import TurnIO
from skills.sdk import Intent

_TIME = re.compile(r"\b(what(?:'s| is)? (?:the )?time|time is it|the time|what hour)\b")
_DATE = re.compile(r"\b(what(?:'s| is)? (?:the |today's )?date|what day|today's date)\b")
_STOP = re.compile(
    r"^\W*(?:(?:hey )?jarvis\W*)?(stop|cancel|never ?mind|be quiet|quiet|"
    r"that's enough|enough|shut up)\W*$"
)


def classify(text: str) -> Intent:
    lowered = text.lower().strip()
    if _STOP.match(lowered):
        return Intent("stop")
    if _TIME.search(lowered):
        return Intent("time.query")
    if _DATE.search(lowered):
        return Intent("time.query", {"what": "date"})
    return Intent("answer", confidence=0.0)


def spoken_time(now: dt.datetime) -> str:
    hour = now.hour % 12 or 12
    if now.minute == 0:
        minute = "o'clock"
    elif now.minute < 10:
        minute = f"oh {now.minute}"
    else:
        minute = str(now.minute)
    return f"It's {hour} {minute} {'AM' if now.hour < 12 else 'PM'}."


def spoken_date(now: dt.datetime) -> str:
    return f"Today is {now:%A}, {now:%B} {now.day}, {now.year}."


class BasicHandler:
    def __init__(self, io: TurnIO, now: Callable[[], dt.datetime] | None = None) -> None:
        self._io = io
        self._now = now or (lambda: dt.datetime.now().astimezone())

    def recognize(self, text: str) -> Intent:
        return classify(text)

    async def handle(self, intent: Intent) -> None:
        if intent.name == "time.query":
            now = self._now()
            reply = spoken_date(now) if intent.slots.get("what") == "date" else spoken_time(now)
            await self._io.say(reply)
        elif intent.name == "stop":
            pass  # the pipeline already stopped playback; nothing to say
        else:
            await self._io.say("Sorry, I can't do that yet. I can tell you the time and the date.")
