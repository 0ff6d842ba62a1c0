"""Skill "time": the local time and date, times elsewhere, and date arithmetic."""

from __future__ import annotations

import logging
import re
import string
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, available_timezones

from skills.sdk import BaseSkill, Intent, SkillContext, sentence_files, timeexpr

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


def _date_text(moment: datetime | date) -> str:
    return f"{moment.strftime('%A, %B')} {moment.day}"


# Holidays by fixed date (month, day), and the moving ones as (month, weekday, nth): nth -1 is
# the last such weekday of the month. US dates where countries differ.
_FIXED_HOLIDAYS: Final = {
    "christmas": (12, 25), "christmas day": (12, 25), "xmas": (12, 25),
    "christmas eve": (12, 24), "boxing day": (12, 26), "new year's eve": (12, 31),
    "new years eve": (12, 31), "new year": (1, 1), "new year's": (1, 1), "new years": (1, 1),
    "new year's day": (1, 1), "new years day": (1, 1), "halloween": (10, 31),
    "valentine's day": (2, 14), "valentines day": (2, 14), "valentine's": (2, 14),
    "st patrick's day": (3, 17), "saint patrick's day": (3, 17), "st patricks day": (3, 17),
    "independence day": (7, 4), "the fourth of july": (7, 4), "fourth of july": (7, 4),
    "july fourth": (7, 4), "april fools day": (4, 1), "april fools": (4, 1),
    "april fool's day": (4, 1), "veterans day": (11, 11), "juneteenth": (6, 19),
}  # fmt: skip
_MOVING_HOLIDAYS: Final = {
    "thanksgiving": (11, 3, 4), "thanksgiving day": (11, 3, 4), "labor day": (9, 0, 1),
    "labour day": (9, 0, 1), "memorial day": (5, 0, -1), "mother's day": (5, 6, 2),
    "mothers day": (5, 6, 2), "father's day": (6, 6, 3), "fathers day": (6, 6, 3),
    "martin luther king day": (1, 0, 3), "presidents day": (2, 0, 3),
}  # fmt: skip


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def holiday(name: str, today: date) -> date | None:
    """The next date (today included) of a holiday named in `name`, or None."""
    key = re.sub(r"\s+", " ", name.lower().replace("’", "'")).strip()
    key = re.sub(r"^(?:the next |next |this |this year's )", "", key)
    if key.startswith("the ") and key not in _FIXED_HOLIDAYS:
        key = key[4:]
    for year in (today.year, today.year + 1):
        if key in _FIXED_HOLIDAYS:
            month, day = _FIXED_HOLIDAYS[key]
            found = date(year, month, day)
        elif key in _MOVING_HOLIDAYS:
            found = _nth_weekday(year, *_MOVING_HOLIDAYS[key])
        elif key in ("easter", "easter sunday"):
            found = _easter(year)
        else:
            return None
        if found >= today:
            return found
    return None


def _count(days: int, unit: str) -> str:
    if unit == "weeks" and abs(days) >= 7:
        weeks, rest = divmod(abs(days), 7)
        text = f"{weeks} week{'s' * (weeks != 1)}"
        return text + (f" and {rest} day{'s' * (rest != 1)}" if rest else "")
    if unit == "months" and abs(days) >= 31:
        months = round(abs(days) / 30.44)
        return f"about {months} month{'s' * (months != 1)}"
    return f"{abs(days)} day{'s' * (abs(days) != 1)}"


def _until(asked: str, day: date, today: date, unit: str) -> str:
    days = (day - today).days
    name = asked[:1].upper() + asked[1:]
    if days == 0:
        return f"{name} is today."
    if days == 1:
        return f"{name} is tomorrow, {day.strftime('%B')} {day.day}."
    if days < 0:
        return f"{name} was {_count(days, unit)} ago, on {_date_text(day)}."
    if unit == "sleeps":
        return f"{days} more sleep{'s' * (days != 1)} until {asked}."
    return f"{name} is in {_count(days, unit)}, on {_date_text(day)}."


class TimeSkill(BaseSkill):
    name = "time"
    intents = frozenset({"time.query"})
    sentences = sentence_files(__package__, "clock.yaml")

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
            asked = re.sub(r"\bmy\b", "your", str(slots["date"]))
            day = holiday(asked, now.date())
            if day is not None:
                asked = string.capwords(asked)  # "New Year's Eve"
            else:
                expr = timeexpr.parse(asked, now)
                day = expr.when.date() if expr is not None and expr.when is not None else None
            counting = bool(slots.get("count"))
            if day is None:
                if counting:
                    return f"Sorry, I don't know when {asked} is."
                return f"Today is {_date_text(now)}."
            if counting:
                return _until(asked, day, now.date(), str(slots.get("count_unit") or "days"))
            verb = "was" if day < now.date() else "is"
            return f"{day.strftime('%B')} {day.day}, {day.year} {verb} a {day.strftime('%A')}."
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
            other_day = "" if there.date() == now.date() else f" on {there.strftime('%A')}"
            return f"In {str(slots['place']).title()} it's {timeexpr.say_time(there)}{other_day}."
        what = slots.get("what", "time")
        if what == "date":
            return f"Today is {_date_text(now)}."
        if what == "both":
            return f"It's {timeexpr.say_time(now)} on {_date_text(now)}."
        return f"It's {timeexpr.say_time(now)}."
