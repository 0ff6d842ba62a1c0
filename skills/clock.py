"""Skill "time": the local time and date, times elsewhere, and date arithmetic."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, available_timezones

from skills import timeexpr
from skills.sdk import Intent, SkillContext

_LOGGER = logging.getLogger(__name__)

# Places people ask about whose zone name is not the city itself.
_PLACE_ZONES: Final = {
    "new york": "America/New_York", "california": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles", "seattle": "America/Los_Angeles",
    "las vegas": "America/Los_Angeles", "florida": "America/New_York",
    "orlando": "America/New_York", "washington": "America/New_York", "boston": "America/New_York",
    "texas": "America/Chicago", "india": "Asia/Kolkata", "delhi": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata", "beijing": "Asia/Shanghai", "china": "Asia/Shanghai",
    "japan": "Asia/Tokyo", "ottawa": "America/Toronto", "uk": "Europe/London",
    "england": "Europe/London", "france": "Europe/Paris", "germany": "Europe/Berlin",
    "spain": "Europe/Madrid", "italy": "Europe/Rome", "australia": "Australia/Sydney",
    "zimbabwe": "Africa/Harare", "eastern": "America/New_York", "central": "America/Chicago",
    "mountain": "America/Denver", "pacific": "America/Los_Angeles", "utc": "UTC", "gmt": "UTC",
}  # fmt: skip


@lru_cache(maxsize=1)
def _zones_by_city() -> dict[str, str]:
    return {z.rsplit("/", 1)[-1].replace("_", " ").lower(): z for z in available_timezones()}


def zone_for(place: str) -> ZoneInfo | None:
    """ "tokyo japan" -> Asia/Tokyo; None when the place is unknown."""
    words = re.sub(r"\b(the|time|zone|now|right|city|of)\b", " ", place.lower()).split()
    cities = _zones_by_city()
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            name = " ".join(words[i : i + size])
            key = _PLACE_ZONES.get(name) or cities.get(name)
            if key:
                return ZoneInfo(key)
    return None


def _date_text(moment: datetime) -> str:
    return f"{moment.strftime('%A, %B')} {moment.day}"


class TimeSkill:
    name = "time"
    intents = frozenset({"time.query"})

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        await ctx.say(self.reply(intent, ctx.now()))

    def reply(self, intent: Intent, now: datetime) -> str:
        slots = intent.slots
        if slots.get("offset"):
            expr = timeexpr.parse(f"in {slots['offset']}", now)
            if expr is None or expr.when is None:
                return "Sorry, I didn't catch how far ahead."
            when = expr.when
            if when.date() == now.date():
                return f"In {slots['offset']} it will be {timeexpr.say_time(when)}."
            return (
                f"In {slots['offset']} it will be {timeexpr.say_time(when)} on {_date_text(when)}."
            )
        if slots.get("date"):
            expr = timeexpr.parse(str(slots["date"]), now)
            if expr is None or expr.when is None:
                return f"Today is {_date_text(now)}."
            moment = expr.when
            verb = "was" if moment.date() < now.date() else "is"
            return (
                f"{moment.strftime('%B')} {moment.day}, {moment.year} {verb} "
                f"a {moment.strftime('%A')}."
            )
        if slots.get("weekday"):
            today = now.strftime("%A").lower()
            asked = str(slots["weekday"]).lower()
            if asked == today:
                return f"Yes, today is {now.strftime('%A')}."
            return f"No, today is {now.strftime('%A')}."
        if slots.get("place"):
            zone = zone_for(str(slots["place"]))
            if zone is None:
                return f"I don't know that place. Here it's {timeexpr.say_time(now)}."
            there = now.astimezone(zone)
            day = "" if there.date() == now.date() else f" on {there.strftime('%A')}"
            return f"In {str(slots['place']).title()} it's {timeexpr.say_time(there)}{day}."
        what = slots.get("what", "time")
        if what == "date":
            return f"Today is {_date_text(now)}."
        if what == "both":
            return f"It's {timeexpr.say_time(now)} on {_date_text(now)}."
        return f"It's {timeexpr.say_time(now)}."
