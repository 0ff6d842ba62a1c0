"""Time expressions as people say them and recognizers write them, in the local time zone.

`normalize` turns number words into digits ("twenty five" -> 25, "fifth" -> 5th, "one hundred and
thirty" -> 130, "twelve oh three" -> 12:03) so that one grammar covers "in 10 min" and "in ten
minutes". `find` locates the time expression inside a sentence (clock-free, so the intent
recognizer can split "remind me to call mom in ten minutes" into text and when); `parse` resolves
it against an aware `now`.

Ambiguity rules (stated once, tested in tests/unit/test_timeexpr.py):
- A bare hour ("at 5", "wake me at six") means its next occurrence: 5:00 or 17:00, whichever
  comes first after now. With a named day ("tomorrow at 5"), 7-11 mean morning and 12-6
  afternoon. Where the sentence is about waking ("wake me", "alarm", "get up"), 4-11 mean morning.
- A part of day sets the half of the clock: "3 in the morning" 3:00, "7 in the evening" 19:00,
  "11 at night" 23:00, "2 at night" 2:00. "this morning"/"this afternoon" name today, even when
  that part of today is over; "morning" alone means the next one.
- A time of day already past today means tomorrow; a weekday means the first one after today
  ("wednesday" said on a Wednesday is a week away); "next friday" means Friday of next calendar
  week (weeks start on Monday), "friday after next" the Friday after the coming one, "three
  fridays from now" the third coming Friday.
- A date without a year means its next occurrence; "the 20th" the next 20th; "the last friday
  of the month" this month's unless it is over.
- A day without a time means 9:00 ("morning" 9:00, "afternoon" 15:00, "evening" 19:00,
  "tonight" 20:00, "night" 21:00, "end of the day" 17:00).
- A bare duration ("10 minutes") in a reminder means from now; "in 15" means fifteen minutes.
- "half seven" is half past seven (British), "a quarter past" without an hour the next quarter
  past. A bare four-digit number is a year when it is this year or one of the next ten, else a
  24-hour clock time when it reads as one ("2010" -> 20:10).
- Written dates: "2/15" is month/day, "8.5." and "05.08.2018" day.month (dotted, European) unless
  the first number cannot be a month ("10.31.74"). A few German words are understood ("halbe
  Stunde", "30 Tage", "vorgestern", "8 Uhr"): recognizers and time corpora mix them in.
Recurring times are computed in wall-clock time of the zone of `now`, so "every day at 8" stays at
8:00 across daylight-saving changes; "every 30 minutes" counts real elapsed time; "every other
day" and "every two weeks" step from the previous occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Final

_ONES: Final = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS: Final = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_ORDINALS: Final = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30, "twelveth": 12, "nineth": 9,
}  # fmt: skip
_SCALES: Final = {"hundred": 100, "thousand": 1000}

WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_ALIASES: Final = {
    **{d: i for i, d in enumerate(WEEKDAYS)},
    **{d[:3]: i for i, d in enumerate(WEEKDAYS)},
    "tues": 1, "wednes": 2, "thur": 3, "thurs": 3,
}  # fmt: skip
MONTHS: Final = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
_MONTH_ALIASES: Final = {
    **{m: i + 1 for i, m in enumerate(MONTHS)},
    **{m[:3]: i + 1 for i, m in enumerate(MONTHS) if m != "may"},
    "sept": 9,
}
_PERIOD_HOURS: Final = {
    "morning": 9, "afternoon": 15, "evening": 19, "tonight": 20, "night": 21, "noon": 12,
    "midday": 12, "midnight": 0, "lunchtime": 12, "lunch": 12, "forenoon": 10, "dawn": 6,
    "early": 7, "late": 21, "eod": 17,
}  # fmt: skip
DEFAULT_HOUR: Final = 9

# German words that recognizers and time corpora mix in; units only after a number.
_GERMAN: Final = {
    "uhr": "oclock", "gegen": "around", "vorgestern": "the day before yesterday",
    "übermorgen": "the day after tomorrow", "uebermorgen": "the day after tomorrow",
    "gestern": "yesterday", "heute": "today", "morgens": "in the morning",
    "vormittags": "in the morning", "nachmittags": "in the afternoon", "abends": "in the evening",
    "nachts": "at night", "zwei": "two", "drei": "three", "vier": "four", "fünf": "five",
    "sechs": "six", "sieben": "seven", "acht": "eight", "neun": "nine", "zehn": "ten",
    "zwölf": "twelve", "zwanzig": "twenty", "dreißig": "thirty", "vierzig": "forty",
    "fünfzig": "fifty",
}  # fmt: skip
_GERMAN_UNITS: Final = {
    "sekunde": "seconds", "sekunden": "seconds", "minuten": "minutes",
    "stunde": "hours", "stunden": "hours", "tag": "days", "tage": "days", "tagen": "days",
    "woche": "weeks", "wochen": "weeks", "monat": "months", "monate": "months",
    "monaten": "months", "jahr": "years", "jahre": "years", "jahren": "years",
}  # fmt: skip
_NUMBER_WORD: Final = "|".join([*_ONES, *_TENS])


# --- numbers -------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lower-case, spell numbers as digits, split "5pm"/"10min", keep "5:30"."""
    s = text.lower().replace("’", "'")
    s = re.sub(r"\b([ap])\.?\s?m\b\.?", r"\1m", s)
    s = re.sub(r"(?<=\d)([ap])\b(?![.']?\s?m\b)", r"\1m", s)  # "3:15p"
    s = re.sub(r"\bo'?\s?clock\b", " oclock", s)
    s = re.sub(r"(\d)h(\d\d)\b", r"\1:\2", s)
    s = _DOTTED_DATE.sub(_dotted_date, s)
    s = re.sub(r"(\d)([a-zäöüß]+)\b", _split_unit, s)
    s = re.sub(r"(\d),(\d)", r"\1.\2", s)
    s = re.sub(r"\bnow\s*-\s*(?=\d)", "now minus ", s)
    s = re.sub(r"(?<![\d/])1/2\s*(?=h|hour)", "half an ", s)
    s = re.sub(r"(?<![\d/])1/4\s*(?=h|hour)", "a quarter of an ", s)
    s = re.sub(r"(?<![\d/])3/4\s*(?=h|hour)", "3 quarters of an ", s)
    s = re.sub(r"(?<=\d)/(?=[a-z])|(?<=[a-z])/(?=\d)", " ", s)  # "8/May/2018"
    s = re.sub(r"(?<=\d)\s*/\s*(?=\d)", "/", s)  # "2 / 15"
    s = re.sub(r"[^\w\s:.+'/-]", " ", s)
    s = re.sub(r"(?<!\d)[.](?!\d)|(?<=\d)[.](?!\d)", " ", s)
    s = re.sub(r"(?<![\w])[-](?![\d])|(?<=[a-z])-(?=[a-z])", " ", s)
    s = re.sub(r"\b(?:eine\s+)?halbe\s+stunde\b", "half an hour", s)
    s = re.sub(r"\b(?:ein|eine|einen)\s+(?=(?:" + "|".join(_GERMAN_UNITS) + r")\b)", "a ", s)
    s = re.sub(r"\b[a-zäöüß]+\b", lambda m: _GERMAN.get(m.group(0), m.group(0)), s)
    s = re.sub(rf"\b({_NUMBER_WORD}|noon|midnight|\d+(?:am|pm)?|lunch|morning|afternoon|evening)"
               r"\s?ish\b", r"\1", s)  # fmt: skip
    s = re.sub(
        rf"\b({_WD}|{_DAYWORD}) (first|last)\b"
        rf"(?!\s+(?:of|in|day|week|weekend|thing|{_WD}|{_MON})\b)",
        lambda m: f"{m.group(1)} {'early' if m.group(2) == 'first' else 'late'}",
        s,
    )
    s = " ".join(_numbers_to_digits(s.split()))
    s = re.sub(r"\b(\d+|a) (" + "|".join(_GERMAN_UNITS) + r")\b",
               lambda m: f"{m.group(1)} {_GERMAN_UNITS[m.group(2)]}", s)  # fmt: skip
    s = re.sub(r"\b(\d{1,2}) (?:oh|o|zero) (\d)\b", r"\1:0\2", s)  # "12 oh 3"
    s = re.sub(r"\b(?:oh|zero) (\d) ([0-5]\d)\b", r"0\1:\2", s)  # "oh 7 30"
    s = re.sub(r"\b(?:oh|zero) (\d{3})\b", r"0\1", s)  # "oh 700"
    s = re.sub(r"\b(\d)00 hours\b", r"0\g<1>00 hours", s)
    s = re.sub(r"\b12 (noon|midnight)\b", r"\1", s)
    s = re.sub(r"(?<=\d) (?:sharp|on the dot|exactly|precisely)\b", "", s)
    s = re.sub(r"\b(\d{1,2}(?::\d\d)?(?: ?[ap]m)?) (?:approximately|or so)\b", r"\1", s)
    s = re.sub(r"\bfirst thing(?: in the morning)?\b", "early", s)
    s = _SPOKEN_YEAR.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}", s)
    s = re.sub(r"(\d+) mons?\b", r"\1 months", s)
    return s


_DOTTED_DATE: Final = re.compile(
    r"(?<!\bat )(?<![\d.])(\d{1,2})\.(\d{1,2})\.(?:(\d{4}|\d{2})(?![\d.:]))?|"
    r"^(\d{1,2})\.(\d)$"
)


def _dotted_date(m: re.Match[str]) -> str:
    """ "8.5." -> "8 may", "05.08.2018" -> "5 august 2018", "10.31.74" -> "31 october 1974"."""
    if m.group(4) is not None:
        day, month, year = int(m.group(4)), int(m.group(5)), None
    else:
        day, month = int(m.group(1)), int(m.group(2))
        year = m.group(3)
    if month > 12 and day <= 12:
        day, month = month, day  # "10.31.74": month first
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return m.group(0)
    text = f"{day} {MONTHS[month - 1]}"
    if year:
        y = int(year)
        text += f" {y + (2000 if y <= 50 else 1900) if len(year) == 2 else y}"
    return text + " "


def _split_unit(m: re.Match[str]) -> str:
    if m.group(2) in ("st", "nd", "rd", "th"):
        return m.group(0)
    return f"{m.group(1)} {m.group(2)}"


_QUANTITY: Final = re.compile(r"\d+(?:\.\d+)?|an?|every|each|per|half|another|few|couple")


def _numbers_to_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] == "second" and out and _QUANTITY.fullmatch(out[-1]):
            out.append("second")  # "in 1 second", "every second": the unit, not "2nd"
            i += 1
            continue
        value, ordinal, used = _read_number(words, i)
        if used == 0:
            out.append(words[i])
            i += 1
            continue
        out.append(f"{value}{_suffix(value)}" if ordinal else str(value))
        i += used
    return out


def _read_number(words: list[str], i: int) -> tuple[int, bool, int]:
    """Read a spelled-out number starting at words[i]: (value, is_ordinal, words used)."""
    total, current, used, ordinal = 0, 0, 0, False
    seen = False
    j = i
    while j < len(words):
        w = words[j]
        if w in _ONES and not (w == "oh" and not seen):
            if seen and w in ("oh", "zero"):
                break  # "ten oh five" is a clock time, not fifteen
            if seen and current % 10 != 0:
                break
            if seen and current % 100 != 0 and _ONES[w] >= 10:
                break
            current += _ONES[w]
        elif w in _TENS:
            if seen and current % 100 != 0:
                break
            current += _TENS[w]
        elif w in _ORDINALS:
            if seen and current % 10 != 0:
                break
            current += _ORDINALS[w]
            ordinal = True
            j += 1
            seen = True
            break
        elif w in _SCALES and seen:
            current = max(current, 1) * _SCALES[w]
            if _SCALES[w] == 1000:
                total += current
                current = 0
        elif w == "and" and seen and j + 1 < len(words) and words[j + 1] in (
            *_ONES, *_TENS, *_ORDINALS,
        ) and words[j - 1] in _SCALES:  # fmt: skip
            pass
        elif w.isdigit() and not seen:
            return 0, False, 0
        else:
            break
        seen = True
        j += 1
    used = j - i
    if not seen:
        return 0, False, 0
    if words[j - 1] == "and":
        used -= 1
    return total + current, ordinal, used


def _suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


# --- durations -----------------------------------------------------------------------------------

_NUM = r"\d+(?:\.\d+)?"
_QTY = rf"(?:{_NUM}|an?|one|a couple of|couple of|a couple|a pair of|a few|few|several)"
_UNIT = (
    r"(?:seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|hr|h|days?|d|nights?|weeks?|wks?|w|"
    r"fortnights?|months?|mons?|mo|years?|yrs?|y|decades?)"
)
_PART = (
    rf"(?:[+-]\s*)?(?:{_QTY}\s+(?:and\s+(?:an?\s+half|a\s+quarter|3\s+quarters)\s+|"
    rf"(?:more|extra|additional)\s+)?{_UNIT}"
    rf"(?:\s+and\s+a\s+(?:half|quarter))?(?![\w])|"
    rf"(?:a\s+)?half\s+(?:an?\s+)?{_UNIT}(?![\w])|"
    rf"(?:an?\s+|\d\s+)?quarters?\s+(?:of\s+)?(?:an?\s+)?(?:hour|hr|h)(?![\w]))"
)
# "an hour thirty", "two minutes thirty": the next unit down, left unsaid
_HOUR_MINUTES = (
    rf"{_QTY}\s+(?:hours?|hrs?|h|minutes?|mins?)\s+(?:and\s+)?[1-5]\d(?![\w:.])(?!\s+{_UNIT}\b)"
)
_DURATION = rf"(?:{_HOUR_MINUTES}|{_PART}(?:\s*(?:,\s*and|,|and)?\s*{_PART})*)"
_UNIT_SECONDS: Final = {
    "s": 1, "m": 60, "h": 3600, "d": 86400, "n": 86400, "w": 604800, "f": 1209600,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Duration:
    """Calendar months plus seconds: "1 year 2 months" cannot be a fixed number of seconds."""

    months: float = 0
    seconds: float = 0

    def add_to(self, moment: datetime, sign: int = 1) -> datetime:
        whole = int(self.months)
        extra_days = (self.months - whole) * 30.4375
        shifted = _add_months(moment, sign * whole) if whole else moment
        return shifted + sign * timedelta(seconds=self.seconds, days=extra_days)

    @property
    def total_seconds(self) -> float:
        return self.months * 30.4375 * 86400 + self.seconds


def _add_months(moment: datetime, months: int) -> datetime:
    y, m = divmod(moment.month - 1 + months, 12)
    year, month = moment.year + y, m + 1
    day = min(moment.day, _days_in_month(year, month))
    return moment.replace(year=year, month=month, day=day)


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def _qty(word: str) -> float:
    if word in ("a", "an", "one"):
        return 1.0
    if word in ("a couple of", "couple of", "a couple", "a pair of"):
        return 2.0
    if word in ("a few", "few"):
        return 3.0
    if word == "several":
        return 5.0
    return float(word)


def parse_duration(text: str) -> Duration | None:
    """The whole text as a duration ("10 min", "an hour and a half"), else None."""
    s = normalize(text)
    s = re.sub(r"^(?:for|about|around|approximately|roughly|another|just)\s+", "", s)
    s = re.sub(r"\s+(?:long|'?s? time|time)$", "", s)
    if not re.fullmatch(_DURATION, s):
        return None
    return _duration_value(s)


def _duration_value(s: str) -> Duration:
    hm = re.fullmatch(rf"({_QTY})\s+(h|m)\w*\s+(?:and\s+)?([1-5]\d)", s.strip())
    if hm is not None:  # "an hour thirty", "two minutes thirty"
        size = 3600 if hm.group(2) == "h" else 60
        return Duration(seconds=_qty(hm.group(1)) * size + int(hm.group(3)) * size // 60)
    months, seconds = 0.0, 0.0
    sign = 1.0
    for m in re.finditer(_PART, s):
        part = m.group(0)
        sign = -1.0 if part.startswith("-") else 1.0 if part.startswith("+") else sign
        part = part.lstrip("+- ")
        if "quarter" in part and re.search(r"\b(?:hour|hr|h)$", part):
            count = re.match(r"(\d)\s", part)
            seconds += sign * 900 * (int(count.group(1)) if count else 1)
            continue
        if part.startswith(("half", "a half")):
            unit = part.split()[-1]
            qty = 0.5
        else:
            qm = re.match(
                rf"({_QTY})\s+(and\s+(?:an?\s+half|a\s+quarter|3\s+quarters)\s+)?"
                rf"(?:(?:more|extra|additional)\s+)?({_UNIT})"
                r"(\s+and\s+a\s+(half|quarter))?$",
                part,
            )
            if qm is None:
                continue
            fraction = qm.group(2) or ""
            qty = _qty(qm.group(1)) + (
                0.5 if "half" in fraction else 0.75 if "3" in fraction else 0.25 if fraction else 0
            )
            qty += {"half": 0.5, "quarter": 0.25}.get(qm.group(5) or "", 0.0)
            unit = qm.group(3)
        if unit.startswith("mo"):
            months += sign * qty
        elif unit.startswith("y"):
            months += sign * qty * 12
        elif unit.startswith("dec"):
            months += sign * qty * 120
        elif unit.startswith("f"):
            seconds += sign * qty * _UNIT_SECONDS["f"]
        else:
            seconds += sign * qty * _UNIT_SECONDS[unit[0]]
    return Duration(months=months, seconds=seconds)


# --- recurrence ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A repeating rule. Serialised as a short string for storage: see `to_rule`/`from_rule`.

    freq "daily": every day at `at`; "weekly": on `weekdays` at `at`; "monthly": on `day` of the
    month (the month's last day where it has fewer), or with `nth` on the nth of `weekdays` in
    the month (-1: the last); "yearly": on `month`/`day` at `at`; "interval": every `seconds` of
    elapsed time. `step` > 1 skips periods: every `step` days, weeks, months or years, counted
    from the previous occurrence.
    """

    freq: str
    at: dtime | None = None
    weekdays: tuple[int, ...] = ()
    seconds: int = 0
    day: int = 0
    month: int = 0
    step: int = 1
    nth: int = 0

    def to_rule(self) -> str:
        parts = [self.freq]
        if self.at is not None:
            parts.append(f"at={self.at.hour:02d}:{self.at.minute:02d}")
        if self.weekdays:
            parts.append("days=" + ",".join(str(d) for d in self.weekdays))
        if self.seconds:
            parts.append(f"every={self.seconds}")
        if self.day:
            parts.append(f"day={self.day}")
        if self.month:
            parts.append(f"month={self.month}")
        if self.step > 1:
            parts.append(f"step={self.step}")
        if self.nth:
            parts.append(f"nth={self.nth}")
        return ";".join(parts)

    @classmethod
    def from_rule(cls, rule: str) -> Recurrence:
        freq, *rest = rule.split(";")
        values = dict(p.split("=", 1) for p in rest)
        at = None
        if "at" in values:
            hh, mm = values["at"].split(":")
            at = dtime(int(hh), int(mm))
        days = tuple(int(d) for d in values["days"].split(",")) if "days" in values else ()
        return cls(
            freq=freq,
            at=at,
            weekdays=days,
            seconds=int(values.get("every", 0)),
            day=int(values.get("day", 0)),
            month=int(values.get("month", 0)),
            step=int(values.get("step", 1)),
            nth=int(values.get("nth", 0)),
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (aware), in `moment`'s zone.

        With `step` > 1, an occurrence counts from `moment` when `moment` is itself one (the
        scheduler passes the previous due time), so "every other day" skips a day.
        """
        if self.freq == "interval":
            step = timedelta(seconds=max(self.seconds, 1))
            return moment + step
        at = self.at or dtime(DEFAULT_HOUR)
        tz = moment.tzinfo
        day = moment.date()
        if self.step > 1 and self._matches(day) and _wall(day, at, tz) == moment:
            day = self._skip(day)
        for _ in range(800 * self.step):
            if self._matches(day):
                candidate = _wall(day, at, tz)
                if candidate > moment:
                    return candidate
            day += timedelta(days=1)
        raise ValueError(f"recurrence {self.to_rule()!r} never occurs")

    def _skip(self, day: date) -> date:
        """Where to look for the occurrence after the one on `day`, `step` periods on."""
        if self.freq == "daily":
            return day + timedelta(days=self.step)
        if self.freq == "weekly":
            later = [d for d in self.weekdays if d > day.weekday()]
            if later:
                return day + timedelta(days=min(later) - day.weekday())
            return day - timedelta(days=day.weekday()) + timedelta(weeks=self.step)
        if self.freq == "monthly":
            y, m = divmod(day.month - 1 + self.step, 12)
            return date(day.year + y, m + 1, 1)
        return date(day.year + self.step, 1, 1)

    def _matches(self, day: date) -> bool:
        if self.freq == "daily":
            return True
        if self.freq == "weekly":
            return day.weekday() in self.weekdays
        if self.freq == "monthly":
            if self.nth:
                if day.weekday() not in self.weekdays:
                    return False
                if self.nth < 0:
                    return day.day + 7 > _days_in_month(day.year, day.month)
                return (day.day - 1) // 7 + 1 == self.nth
            return day.day == min(self.day, _days_in_month(day.year, day.month))
        if self.freq == "yearly":
            return day.month == self.month and day.day == min(
                self.day, _days_in_month(day.year, day.month)
            )
        raise ValueError(f"unknown recurrence {self.freq!r}")

    def describe(self) -> str:
        when = f" at {_say_time(self.at)}" if self.at else ""
        every = {1: "every", 2: "every other"}.get(self.step, f"every {self.step}")
        if self.freq == "daily":
            return (
                f"every day{when}"
                if self.step == 1
                else f"{every} days{when}".replace("every other days", "every other day")
            )
        if self.freq == "weekly":
            if self.weekdays == (0, 1, 2, 3, 4) and self.step == 1:
                return f"every weekday{when}"
            if self.weekdays == (5, 6) and self.step == 1:
                return f"every weekend day{when}"
            names = " and ".join(WEEKDAYS[d].capitalize() for d in self.weekdays)
            if self.step > 2:
                return f"every {self.step} weeks on {names}{when}"
            return f"{every} {names}{when}"
        if self.freq == "interval":
            return f"every {say_duration(self.seconds)}"
        if self.freq == "monthly":
            months = "month" if self.step == 1 else f"{self.step} months"
            if self.nth:
                nth = "last" if self.nth < 0 else f"{self.nth}{_suffix(self.nth)}"
                names = " and ".join(WEEKDAYS[d].capitalize() for d in self.weekdays)
                return f"on the {nth} {names} of every {months}{when}"
            if self.day >= 31:
                return f"on the last day of every {months}{when}"
            return f"every {months} on the {self.day}{_suffix(self.day)}{when}"
        return f"every year on {MONTHS[self.month - 1].capitalize()} {self.day}{when}"


def _wall(day: date, at: dtime, tz: object) -> datetime:
    """Wall-clock time on `day`; a time skipped by a DST jump lands just after the jump."""
    from datetime import tzinfo

    naive = datetime.combine(day, at)
    if not isinstance(tz, tzinfo):
        return naive
    local = naive.replace(tzinfo=tz)
    # Round-trip through UTC: a nonexistent local time (spring forward) becomes a real instant.
    from datetime import UTC

    return local.astimezone(UTC).astimezone(tz)


# --- expressions ---------------------------------------------------------------------------------

_WD = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"mon|tues?|wed|wednes|thu|thurs?|fri|sat|sun)"
)
_MON = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)"
)
_ORD = r"(?:\d{1,2}(?:st|nd|rd|th)?)"
_NTH = r"(?:[1-5](?:st|nd|rd|th)|last|final)"
_PERIOD = (
    r"(?:morning|afternoon|evening|night|tonight|noon|midday|midnight|lunchtime|forenoon|dawn)"
)
_DAYWORD = r"(?:today|tonight|tomorrow|tmrw|tomorow|yesterday)"
_SPOKEN_YEAR: Final = re.compile(
    rf"\b((?:{_MON})\s+(?:the\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MON})\s+)(19|20) ([0-9]\d)\b(?!\s*(?::|[ap]m))"
)
_MONTH_SCOPE = (
    rf"(?:(?P<smod>the|this|next|last|the\s+following|the\s+current|current|every|each)\s+)?"
    rf"(?P<sunit>month|year)|(?:(?P<mmod>next|this|last)\s+)?(?P<mon>{_MON})"
    r"(?:\s*,?\s*(?P<year>\d{4}))?"
)

_PATTERNS: Final[list[tuple[str, str]]] = [
    # "3 fridays from now" before "fridays" can read as every Friday
    (
        "wd_count",
        rf"\b(?:the\s+)?(?P<n>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<wd>{_WD})s?\s+"
        r"(?P<dir>from\s+(?:now|today)|later|hence|ahead|ago|back|before\s+now)\b",
    ),
    (
        "recur_nth",
        rf"\b(?:(?:every|each)\s+(?:the\s+)?(?P<nth>{_NTH})\s+(?P<wd>{_WD})\s+(?:of|in)\s+"
        rf"(?:the|each|every|a)\s+month|(?:on\s+)?(?:the\s+)?(?P<nth2>{_NTH})\s+(?P<wd2>{_WD})\s+"
        r"(?:of|in)\s+(?:every|each)\s+month)\b",
    ),
    (
        "recur_monthday",
        r"\b(?:(?:on\s+)?(?:the\s+)?(?P<day>\d{1,2}(?:st|nd|rd|th)|last\s+day)\s+of\s+"
        r"(?:every|each)\s+month|(?:monthly|(?:every|each)\s+month)\s+on\s+the\s+"
        r"(?P<day2>\d{1,2}(?:st|nd|rd|th)|last\s+day))\b",
    ),
    (
        "recur_interval",
        r"\b(?:every|each)\s+(?:(?P<n>\d+(?:\.\d+)?|other|second|2nd|3rd|4th)\s+)?(?P<unit>"
        r"seconds?|minutes?|mins?|hours?|hrs?|half\s+(?:an\s+)?hour|quarter\s+(?:of\s+an\s+)?hour|"
        r"days?|weeks?|fortnights?|months?|years?)\b"
        rf"(?!\s+(?:{_WD}|day|week|month|year)s?\b)",
    ),
    ("recur_hourly", r"\bhourly\b"),
    (
        "recur_weekdays",
        r"\b(?:every\s+(?:weekday|work\s?day|working\s+day|business\s+day)s?|"
        r"each\s+(?:weekday|work\s?day|working\s+day|business\s+day)|"
        r"(?:on\s+)?weekdays|monday\s+(?:to|through|thru)\s+friday)\b",
    ),
    ("recur_weekend", r"\b(?:every\s+weekend|each\s+weekend|(?:on\s+)?weekends)\b"),
    (
        "recur_days",
        rf"\b(?:every|each)\s+(?:(?P<step>other|second|2nd|3rd|third)\s+)?"
        rf"(?P<days>{_WD}(?:\s*(?:,|and|&)\s*{_WD})*)s?\b|"
        rf"\b(?:on\s+)?(?P<plural>{_WD})s\b",
    ),
    (
        "recur_daily",
        r"\b(?:every\s*day|everyday|each\s+day|daily|every\s+single\s+day|nightly|"
        rf"every\s+(?P<p>{_PERIOD})|each\s+(?P<p2>{_PERIOD}))\b",
    ),
    ("recur_weekly", r"\b(?:every\s+week|weekly|each\s+week)\b"),
    ("recur_monthly", r"\b(?:every\s+month|monthly|each\s+month)\b"),
    ("recur_yearly", r"\b(?:every\s+year|yearly|annually|each\s+year)\b"),
    (
        "ago",
        rf"(?:(?P<dur>{_DURATION})\s+(?:ago|before|earlier|back)|now\s+minus\s+(?P<dur2>{_DURATION}))",
    ),
    (
        "rel",
        r"(?:(?:in|within|after)\s+(?:about\s+|around\s+|another\s+|roughly\s+|"
        rf"just\s+)?(?P<dur>{_DURATION})(?:\s*(?:'?s)?\s*time)?|"
        rf"(?P<dur2>{_DURATION})\s+(?:from\s+(?:right\s+)?now|later|from\s+today|hence)|"
        rf"now\s*\+\s*(?P<dur3>{_DURATION}))",
    ),
    # "a week from tomorrow", "two weeks from friday": the duration counts from the next piece
    (
        "dur_from",
        rf"(?P<dur>{_DURATION})\s+(?:from|after)(?=\s+(?:the\s+|next\s+|this\s+|on\s+)?"
        rf"(?:{_DAYWORD}|{_WD}|{_MON}|\d))",
    ),
    # "in 15": minutes, where nothing follows the number
    ("rel_bare", r"\bin\s+(?P<n>[1-9]\d?)(?=\s*$|\s+(?:to(?!\s+\d)|and|please|so)\b)"),
    (
        "same_time",
        r"\b(?:at\s+)?(?:the\s+)?same\s+time\b|"
        rf"\b(?:at\s+)?this\s+time(?=\s+(?:{_DAYWORD}|next|on|{_WD})\b)",
    ),
    ("now", r"\b(?:right\s*now|just\s+now|now|immediately)\b"),
    (
        "dayword",
        r"\b(?:the\s+)?(?:day\s+after\s+tomorrow|day\s+before\s+yesterday|next\s+day|"
        rf"{_DAYWORD})(?:'?s)?\b",
    ),
    (
        "nth_in",
        rf"\b(?:the\s+)?(?P<nth>{_NTH}|\d{{1,2}}(?:st|nd|rd|th))\s+(?P<unit>day|weekday|"
        rf"work\s?day|working\s+day|business\s+day|weekend|week|{_WD})\s+(?:of|in)\s+"
        rf"(?:{_MONTH_SCOPE})\b",
    ),
    (
        "weekday",
        r"\b(?:the\s+)?(?:(?P<mod>this\s+coming|this|next|coming|last|past|previous|"
        rf"the\s+following|following)\s+)?(?P<wd>{_WD})(?:'?s)?"
        r"(?:\s+(?P<rel>after\s+next|before\s+last))?"
        r"(?:\s+(?:of\s+)?(?P<wk>(?:next|this|last|the\s+following|the\s+coming|coming)\s+week))?\b",
    ),
    (
        "period_end",
        r"\b(?:(?:the|by)\s+)?(?:(?P<edge>end|beginning|start|middle|mid|early|late)(?:\s+of\s+|\s*-\s*|\s+)"
        rf"(?:(?P<mod>the|this|next|last|the\s+following)\s+)?(?P<what>day|week|month|year|{_MON})|"
        r"(?P<abbr>eod|eow|eom|eoy))\b",
    ),
    (
        "date_of_month",
        r"\b(?:the\s+)?(?P<day>\d{1,2}(?:st|nd|rd|th))\s+of\s+(?P<mod>this|next|last|"
        r"the\s+following|the\s+current|current|the\s+coming|the)\s+month\b",
    ),
    (
        "week",
        r"\b(?P<mod>this|next|the\s+following|the\s+coming|coming|last|past|previous|"
        r"(?:the\s+)?current)\s+(?P<what>week|weekend|month|year)\b",
    ),
    ("weekend", r"\b(?:(?:on|over|at|for)\s+)?the\s+weekend\b"),
    ("decade", r"\b(?P<mod>this|next|last|previous)\s+decade\b"),
    ("date_md", rf"\b(?P<mon>{_MON})\s+(?:the\s+)?(?P<day>{_ORD})(?:\s*,?\s*(?P<year>\d{{4}}))?\b"),
    (
        "date_dm",
        rf"\b(?:the\s+)?(?P<day>{_ORD})\s+(?:day\s+)?(?:of\s+)?(?P<mon>{_MON})"
        rf"(?:\s*,?\s*(?P<year>\d{{4}}))?\b",
    ),
    ("date_iso", r"\b(?P<year>\d{4})([-/.])(?P<mon>\d{1,2})\2(?P<day>\d{1,2})\b"),
    ("date_dmy", r"\b(?P<day>\d{1,2})\.(?P<mon>\d{1,2})\.(?P<year>\d{4})\b"),
    ("date_slash", r"\b(?P<mon>\d{1,2})/(?P<day>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?\b"),
    ("date_the", r"\b(?:the\s+)?(?P<day>\d{1,2}(?:st|nd|rd|th))\b"),
    (
        "month",
        rf"\b(?:(?P<mod>in|next|this|by|until|till|during|last)\s+(?P<mon>{_MON})|"
        rf"(?P<mon2>{_MON})\s+(?P<year>\d{{4}}))\b(?!\s+\d)",
    ),
    ("year", r"\b(?:in|during|of)\s+(?P<year>(?:19|20)\d\d)\b(?!\s*(?::|[ap]m|oclock|hours))"),
    (
        "time_words",
        r"\b(?:(?P<half>half)|(?:a\s+)?(?P<q>quarter)|(?P<min>\d{1,2})(?:\s+minutes?)?)\s+(?P<rel>past|"
        r"after|to|till|til|before|of)\s+(?P<h>\d{1,2}|noon|midnight)\b",
    ),
    # "half seven": half past seven
    ("time_half", rf"\bhalf\s+(?P<h>\d{{1,2}})\b(?!\s*(?:[:.]\d|st|nd|rd|th|%|{_UNIT}\b))"),
    # "a quarter past", "at half past": of the next hour
    (
        "time_hourless",
        r"\b(?:(?:at|around|about|by)\s+)?(?:(?P<half>half)|(?:a\s+)?(?P<q>quarter))\s+"
        r"(?P<rel>past|after|to|till|til)\b(?!\s+(?:\d|noon|midnight))",
    ),
    ("time_hm", r"\b(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:\s*(?P<ap>am|pm))?\b"),
    (
        "time_hhmm",
        r"\b(?P<hm>\d{3,4})\s*(?P<ap>am|pm|oclock|hours)\b|(?:(?<=\bat\s)|(?<=\bfor\s)|"
        r"(?<=\bby\s)|(?<=\baround\s)|(?<=\babout\s)|(?<=\buntil\s))(?P<hm2>\d{3,4})\b",
    ),
    ("time_h_m", r"\b(?P<h>\d{1,2})\s+(?P<m>[0-5]\d)(?:\s*(?P<ap>am|pm))?\b"),
    ("time_h", r"\b(?P<h>\d{1,2})\s*(?P<ap>am|pm|oclock(?:\s*(?:am|pm))?)\b"),
    (
        "time_at",
        r"\b(?:at(?:\s+(?:about|around|approximately|roughly))?|by|around|for|until|till|"
        r"before)\s+(?P<h>\d{1,2})\b"
        rf"(?!\s*(?:(?:st|nd|rd|th)\b|:|/|\.\d|\d|%|percent)|\s+{_UNIT}\b|\s+(?:more|extra)\b)",
    ),
    # "wake me up at 7 tomorrow" reaches here as "7 tomorrow" once "at" went to the template;
    # "3 in the morning", "8 tonight", "6 this evening"
    (
        "time_lead",
        rf"\b(?P<h>\d{{1,2}})(?=\s+(?:{_DAYWORD}|(?:on\s+|next\s+|this\s+)?{_WD}|"
        rf"(?:in\s+the|this|at|tomorrow)\s+{_PERIOD})\b)",
    ),
    (
        "dur",
        rf"(?:^|(?<=\bfor\s)|(?<=\btimer\s))(?P<dur>{_DURATION})|"
        rf"\b(?P<dur2>{_NUM}\s+{_UNIT})(?=\s+(?:timer|countdown|nap|break|rest)\b)",
    ),
    (
        "period",
        r"\b(?:(?:this|in\s+the|at|tomorrow|tonight|the|today|early\s+in\s+the|late\s+in\s+the|"
        rf"(?:very\s+)?early|(?:very\s+)?late|around|about|by)\s+)?(?P<p>{_PERIOD})\b|"
        r"(?:\bat\s+|(?<=tomorrow\s)|(?<=today\s))(?P<p2>lunch)\b",
    ),
    # "early", "late", "first thing": only next to a day, or as the whole text
    ("soft_period", r"\b(?:very\s+)?(?P<p>early|late)\b"),
]  # fmt: skip
_COMPILED: Final = [(kind, re.compile(p)) for kind, p in _PATTERNS]
_JOINERS: Final = re.compile(
    r"^(?:\s|,|at|on|by|around|about|in|of|the|from|starting|for|and|every|this|late|early|"
    r"very)*$"
)
_WEAK: Final = frozenset({"soft_period", "time_at"})


@dataclass(frozen=True, slots=True)
class _Piece:
    kind: str
    start: int
    end: int
    text: str
    groups: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Span:
    """Where a time expression sits in normalized text, and what kinds of pieces it holds."""

    start: int
    end: int
    text: str
    kinds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimeExpr:
    """A resolved expression. `when` is the first occurrence; `recurrence` repeats it."""

    text: str
    when: datetime | None
    recurrence: Recurrence | None = None
    duration: Duration | None = None
    has_time_of_day: bool = False
    past: bool = False


def _pieces(s: str) -> list[_Piece]:
    found: list[_Piece] = []
    taken = [False] * (len(s) + 1)
    for kind, rx in _COMPILED:
        pos = 0
        while (m := rx.search(s, pos)) is not None:
            if m.end() == m.start() or any(taken[m.start() : m.end()]):
                pos = m.start() + 1
                continue
            found.append(_Piece(kind, m.start(), m.end(), m.group(0), m.groupdict()))
            for k in range(m.start(), m.end()):
                taken[k] = True
            pos = m.end()
    return sorted(found, key=lambda p: p.start)


def _groups(pieces: list[_Piece], s: str) -> list[list[_Piece]]:
    groups: list[list[_Piece]] = []
    for p in pieces:
        if groups and _JOINERS.match(s[groups[-1][-1].end : p.start]):
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups


def find(text: str) -> Span | None:
    """The longest time expression in `text` (normalized), without resolving it."""
    s = normalize(text)
    groups = [g for g in _groups(_pieces(s), s) if _meaningful(g, s)]
    if not groups:
        return None
    best = max(groups, key=lambda g: (g[-1].end - g[0].start, -g[0].start))
    start = best[0].start
    # Keep a leading preposition with the expression ("at 5", "on friday", "in ten minutes").
    lead = re.search(
        r"(?:\b(?:at|on|by|for|this|next|from|starting|every|around|about)\s+)+$", s[:start]
    )
    if lead and best[0].kind not in ("rel",):
        start = lead.start()
    return Span(start, best[-1].end, s[start : best[-1].end], tuple(p.kind for p in best))


def _meaningful(group: list[_Piece], s: str) -> bool:
    kinds = {p.kind for p in group}
    if kinds <= {"soft_period"}:  # "late", "early": a time only when nothing else is said
        return group[0].start == 0 and group[-1].end == len(s)
    return True


def split(text: str) -> tuple[str, Span | None]:
    """Remove the time expression from a sentence: ("call mom", span of "in 10 minutes")."""
    span = find(text)
    s = normalize(text)
    if span is None:
        return s, None
    rest = f"{s[: span.start]} {s[span.end :]}"
    rest = re.sub(r"\s+", " ", rest).strip()
    rest = re.sub(r"^(?:(?:to|that|about|of|for|and|then|i need to|i have to)\s+)+", "", rest)
    rest = re.sub(r"\s+(?:to|that|and|for|at|on|in|by)$", "", rest)
    return rest.strip(), span


_BARE_TIME: Final = re.compile(
    r"(?:at\s+)?(?P<h>\d{1,2})(?:[:. ](?P<m>[0-5]\d))?(?:\s*(?P<ap>am|pm))?|(?P<hm>\d{3,4})"
)
_MORNING_CONTEXT: Final = re.compile(r"\b(?:wake|wakes|waking|woken|alarm|alarms|get up)\b")


def parse(text: str, now: datetime, *, waking: bool | None = None) -> TimeExpr | None:
    """Resolve the time expression in `text` against aware `now`; None if there is none.

    A text that is nothing but a number is a clock time: the answer to "When?" ("nine",
    "nine thirty", "810"), never a count inside a longer sentence; four digits that name this
    year or one of the next ten are that year. `waking` (an alarm) makes 4-11 without am/pm
    mean the morning; by default it is read from the text ("wake me", "alarm", "get up").
    """
    s = normalize(text)
    morning = _MORNING_CONTEXT.search(s) is not None if waking is None else waking
    span = find(s)
    if span is None:
        return _bare(s, now)
    pieces = [p for p in _pieces(s) if span.start <= p.start and p.end <= span.end]
    return _resolve(span.text, pieces, now, morning=morning)


def _bare(s: str, now: datetime) -> TimeExpr | None:
    """A text that is one word or one number: a month, "weekend", a year or a clock time."""
    if s in _MONTH_ALIASES or s in ("weekend", "the weekend"):
        piece = (
            _Piece("month", 0, len(s), s, {"mod": "in", "mon": s, "mon2": None, "year": None})
            if s in _MONTH_ALIASES
            else _Piece("weekend", 0, len(s), s)
        )
        return _resolve(s, [piece], now)
    bare = _BARE_TIME.fullmatch(s)
    if bare is None:
        return None
    if bare["hm"] and len(bare["hm"]) == 4 and not bare["hm"].startswith("0"):
        year = int(bare["hm"])
        hh, mm = divmod(year, 100)
        if now.year <= year <= now.year + 10 or ((hh > 23 or mm > 59) and year >= 1000):
            day = now.date() if year == now.year else date(year, 1, 1)
            return TimeExpr(s, _wall(day, dtime(DEFAULT_HOUR), now.tzinfo))
    if bare["hm"]:
        h, m = divmod(int(bare["hm"]), 100)
    else:
        h, m = int(bare["h"]), int(bare["m"] or 0)
    if h > 23 or m > 59:
        return None
    hour = f"0{h}" if s.removeprefix("at ").startswith("0") else str(h)  # "0810": 24-hour clock
    piece = _Piece("time_hm", 0, len(s), s, {"h": hour, "m": str(m), "ap": bare["ap"]})
    return _resolve(s, [piece], now)


def _resolve(
    text: str, pieces: list[_Piece], now: datetime, *, morning: bool = False
) -> TimeExpr | None:
    by_kind = {p.kind: p for p in pieces}
    hm, meridiem = _time_of_day(by_kind)
    period = _period(by_kind)
    if "same_time" in by_kind and hm is None:
        hm, meridiem = (now.hour, now.minute), "24"
    if "time_hourless" in by_kind and hm is None:
        return _hourless(text, by_kind["time_hourless"].groups, now)
    if "rel_bare" in by_kind and len(by_kind) == 1:
        minutes = int(by_kind["rel_bare"].groups["n"] or 0)
        dur = Duration(seconds=60 * minutes)
        return TimeExpr(text, dur.add_to(now), duration=dur, has_time_of_day=True)
    for kind in ("rel", "ago", "dur"):
        if kind in by_kind:
            g = by_kind[kind].groups
            dur_text = g.get("dur") or g.get("dur2") or g.get("dur3") or ""
            dur = _duration_value(dur_text)
            sign = -1 if kind == "ago" else 1
            when = dur.add_to(now, sign)
            whole_days = dur.seconds % 86400 == 0
            if whole_days and (hm is not None or period is not None):
                # "a week from today at 5": the duration picks the day, the time the hour.
                clock = _clock(hm, meridiem, period, explicit_day=True, morning=morning)
                when = _wall(when.date(), clock, now.tzinfo)
            return TimeExpr(text, when, duration=dur, past=sign < 0, has_time_of_day=True)
    if "now" in by_kind and len(by_kind) == 1:
        return TimeExpr(text, now, has_time_of_day=True)

    recurrence = _recurrence(by_kind, hm, meridiem, period, now, morning=morning)
    if recurrence is not None:
        if recurrence.freq == "interval":
            first = recurrence.next_after(now)
        else:
            first = recurrence.next_after(now - timedelta(seconds=1))
        return TimeExpr(text, first, recurrence=recurrence, has_time_of_day=hm is not None)

    day, explicit_day = _day(by_kind, now)
    if "same_time" in by_kind and "week" in by_kind and "dayword" not in by_kind:
        # "same time next week": a week from today, not next Monday
        g = by_kind["week"].groups
        steps = {"week": 7, "weekend": 7}.get(g["what"] or "", 0)
        sign = -1 if g["mod"] in ("last", "past", "previous") else 1
        if steps:
            day = now.date() + timedelta(days=sign * steps)
        elif g["what"] == "month":
            day = _add_months(now, sign).date()
    if "dur_from" in by_kind:
        dur = _duration_value(by_kind["dur_from"].groups["dur"] or "")
        start = datetime.combine(day or now.date(), dtime())
        day, explicit_day = dur.add_to(start).date(), True
    if day is None and hm is None and period is None:
        return None
    if hm is None:
        hour = _PERIOD_HOURS.get(period or "", DEFAULT_HOUR)
        if period == "midnight" and day is not None:
            day += timedelta(days=1)  # "tonight at midnight": the midnight that ends the day
        base = day or now.date()
        when = _wall(base, dtime(hour), now.tzinfo)
        if period == "eod" and when <= now and day == now.date():
            when = _wall(base, dtime(23), now.tzinfo)
        if day is None and when <= now:
            when = _wall(base + timedelta(days=1), dtime(hour), now.tzinfo)
        return TimeExpr(text, when, past=when < now)
    if day is not None:
        clock = _clock(hm, meridiem, period, explicit_day=explicit_day, morning=morning)
        if clock == dtime(0) and "midnight" in text:
            day += timedelta(days=1)  # "friday at midnight": the midnight that ends the day
        when = _wall(day, clock, now.tzinfo)
        return TimeExpr(text, when, has_time_of_day=True, past=when < now)
    h, m = hm
    if meridiem is None and period is not None:
        meridiem = _period_meridiem(period, h)
    if meridiem == "24" or meridiem is not None or h == 0 or h > 12:
        candidates = [_clock(hm, meridiem, None, explicit_day=False, morning=False).hour]
    elif morning and 4 <= h <= 11:
        candidates = [h]
    else:
        candidates = [h % 12, h % 12 + 12]
    options = []
    for offset in (0, 1):
        for hour in candidates:
            t = _wall(now.date() + timedelta(days=offset), dtime(hour % 24, m), now.tzinfo)
            if t > now:
                options.append(t)
    return TimeExpr(text, min(options), has_time_of_day=True)


def _hourless(text: str, g: dict[str, str | None], now: datetime) -> TimeExpr:
    """ "a quarter past", "at half past", "quarter to": the next such minute of an hour."""
    minutes = 30 if g.get("half") else 15
    if g.get("rel") in ("to", "till", "til"):
        minutes = 60 - minutes
    when = now.replace(minute=minutes, second=0, microsecond=0)
    if when <= now:
        when += timedelta(hours=1)
    return TimeExpr(text, when, has_time_of_day=True)


def _period_meridiem(period: str, h: int) -> str | None:
    if period in ("morning", "forenoon", "dawn", "early"):
        return "am"
    if period in ("night", "tonight"):
        return "am" if h == 12 or h <= 3 else "pm"
    if period in ("noon", "midday", "lunchtime", "lunch"):
        return "pm" if h <= 6 or h == 12 else "am"
    if period == "midnight":
        return None
    return "pm"  # afternoon, evening, late, end of the day


def _clock(
    hm: tuple[int, int] | None,
    meridiem: str | None,
    period: str | None,
    *,
    explicit_day: bool,
    morning: bool,
) -> dtime:
    """The clock time of a day: am/pm from the words, the part of day or the ambiguity rules."""
    if hm is None:
        return dtime(_PERIOD_HOURS.get(period or "", DEFAULT_HOUR))
    h, m = hm
    if meridiem == "24":
        return dtime(h % 24, m)
    if meridiem is None and period is not None:
        meridiem = _period_meridiem(period, h)
    if meridiem == "pm" and h < 12:
        h += 12
    elif meridiem == "am" and h == 12:
        h = 0
    elif meridiem is None and explicit_day and 1 <= h <= 6 and not (morning and h >= 4):
        h += 12
    return dtime(h % 24, m)


def _time_of_day(by_kind: dict[str, _Piece]) -> tuple[tuple[int, int] | None, str | None]:
    for kind in (
        "time_words",
        "time_half",
        "time_hm",
        "time_hhmm",
        "time_h",
        "time_h_m",
        "time_at",
        "time_lead",
    ):
        if kind not in by_kind:
            continue
        g = by_kind[kind].groups
        ap = g.get("ap") or ""
        meridiem = "pm" if ap.endswith("pm") else "am" if ap.endswith("am") else None
        if kind == "time_words":
            target = g["h"] or "0"
            h = 12 if target == "noon" else 0 if target == "midnight" else int(target)
            minutes = 30 if g["half"] else 15 if g["q"] else int(g["min"] or 0)
            if g["rel"] in ("to", "till", "til", "before", "of"):
                h, minutes = (h - 1) % 24, 60 - minutes
                if h == 0 and target not in ("midnight",):
                    h = 12
            if target == "noon":
                meridiem = "pm" if h == 12 else "am"
            elif target == "midnight":
                meridiem = "pm" if h == 23 else "am"
                h = h % 12 if h != 23 else 11
            if h > 24 or minutes > 59:
                continue
            return (h, minutes), meridiem
        if kind == "time_half":
            h = int(g["h"] or 0)
            if not 1 <= h <= 12:
                continue
            return (h, 30), None
        if kind == "time_hhmm":
            raw = g.get("hm") or g.get("hm2") or "0"
            n = int(raw)
            h, m = divmod(n, 100)
            if h > 23 or m > 59:
                continue
            if raw.startswith("0") and meridiem is None:
                meridiem = "am"  # "0810": the 24-hour clock
            return (h, m), meridiem
        h = int(g["h"] or 0)
        m = int(g.get("m") or 0)
        if h > 24 or m > 59 or (kind == "time_h_m" and not 1 <= h <= 12 and meridiem is None):
            continue
        if kind == "time_hm" and meridiem is None and (g["h"] or "").startswith("0"):
            meridiem = "am"  # "01:00" is the 24-hour clock: one at night, not one in the afternoon
        if meridiem is not None and h > 12:
            meridiem = None  # "15:30 pm"
        return (h % 24, m), meridiem
    return None, None


def _period(by_kind: dict[str, _Piece]) -> str | None:
    if "period" in by_kind:
        return by_kind["period"].groups["p"] or by_kind["period"].groups["p2"]
    if "dayword" in by_kind and "tonight" in by_kind["dayword"].text:
        return "tonight"
    for kind in ("recur_daily",):
        if kind in by_kind:
            g = by_kind[kind].groups
            if g.get("p") or g.get("p2"):
                return g.get("p") or g.get("p2")
    if "period_end" in by_kind:
        g = by_kind["period_end"].groups
        if g["what"] == "day" or g["abbr"] == "eod":
            return "eod"
    if "soft_period" in by_kind:
        return by_kind["soft_period"].groups["p"]
    return None


def _weekdays_of(by_kind: dict[str, _Piece]) -> tuple[int, ...]:
    if "recur_days" in by_kind:
        g = by_kind["recur_days"].groups
        names = re.findall(_WD, g.get("days") or g.get("plural") or "")
        return tuple(sorted({_WEEKDAY_ALIASES[n] for n in names}))
    if "weekday" in by_kind:
        return (_WEEKDAY_ALIASES[by_kind["weekday"].groups["wd"] or "mon"],)
    return ()


def _step(word: str | None) -> int:
    if word in (None, ""):
        return 1
    if word in ("other", "second", "2nd"):
        return 2
    return int(re.sub(r"\D", "", str(word)) or 1)


def _recurrence(
    by_kind: dict[str, _Piece],
    hm: tuple[int, int] | None,
    meridiem: str | None,
    period: str | None,
    now: datetime,
    *,
    morning: bool = False,
) -> Recurrence | None:
    if not any(kind.startswith("recur") for kind in by_kind):
        return None
    at = None
    if hm is not None:
        at = _clock(hm, meridiem, period, explicit_day=False, morning=morning)
        if meridiem is None and period is None and 1 <= hm[0] <= 5 and not morning:
            at = dtime(hm[0] + 12, hm[1])  # "every day at 2": the afternoon
    elif period is not None:
        at = dtime(_PERIOD_HOURS[period])
    today = now.date()
    weekdays = _weekdays_of(by_kind)
    if "recur_interval" in by_kind:
        g = by_kind["recur_interval"].groups
        unit = (g["unit"] or "minute").split()[0]
        n = _step(g["n"]) if g["n"] in ("other", "second", "2nd", "3rd", "4th") else None
        count = n or float(g["n"] or 1)
        if unit in ("half", "quarter"):
            return Recurrence("interval", seconds=1800 if unit == "half" else 900)
        if unit.startswith(("sec", "min", "hour", "hr")):
            return Recurrence("interval", seconds=int(count * _UNIT_SECONDS[unit[0]]))
        step = max(1, int(count)) * (2 if unit.startswith("fortnight") else 1)
        if unit.startswith("day"):
            return Recurrence("daily", at=at, step=step)
        if unit.startswith(("week", "fortnight")):
            return Recurrence("weekly", at=at, weekdays=weekdays or (today.weekday(),), step=step)
        if unit.startswith("month"):
            return _monthly(by_kind, at, today, step)
        md = _month_day(by_kind, today)
        return Recurrence("yearly", at=at, month=md[0], day=md[1], step=step)
    if "recur_hourly" in by_kind:
        return Recurrence("interval", seconds=3600)
    if "recur_weekdays" in by_kind:
        return Recurrence("weekly", at=at, weekdays=(0, 1, 2, 3, 4))
    if "recur_weekend" in by_kind:
        return Recurrence("weekly", at=at, weekdays=(5, 6))
    if "recur_nth" in by_kind or "recur_monthday" in by_kind or "recur_monthly" in by_kind:
        return _monthly(by_kind, at, today, 1)
    if "recur_days" in by_kind:
        step = _step(by_kind["recur_days"].groups.get("step"))
        return Recurrence("weekly", at=at, weekdays=weekdays, step=step)
    if "recur_daily" in by_kind:
        return Recurrence("daily", at=at)
    if "recur_weekly" in by_kind:
        return Recurrence("weekly", at=at, weekdays=weekdays or (today.weekday(),))
    if "recur_yearly" in by_kind:
        month, day = _month_day(by_kind, today)
        return Recurrence("yearly", at=at, month=month, day=day)
    return None


def _monthly(by_kind: dict[str, _Piece], at: dtime | None, today: date, step: int) -> Recurrence:
    for kind in ("recur_nth", "nth_in"):
        if kind in by_kind:
            g = by_kind[kind].groups
            nth, wd = g.get("nth") or g.get("nth2"), g.get("wd") or g.get("wd2") or g.get("unit")
            if wd in _WEEKDAY_ALIASES:
                return Recurrence(
                    "monthly", at=at, weekdays=(_WEEKDAY_ALIASES[wd],), nth=_nth(nth), step=step
                )
    day = today.day
    if "recur_monthday" in by_kind:
        g = by_kind["recur_monthday"].groups
        raw = g.get("day") or g.get("day2") or ""
        day = 31 if raw.startswith("last") else int(re.sub(r"\D", "", raw) or today.day)
    elif "date_the" in by_kind:
        day = int(re.sub(r"\D", "", by_kind["date_the"].groups["day"] or "") or today.day)
    elif "nth_in" in by_kind and by_kind["nth_in"].groups.get("unit") == "day":
        day = 31 if _nth(by_kind["nth_in"].groups.get("nth")) < 0 else today.day
    return Recurrence("monthly", at=at, day=day, step=step)


def _month_day(by_kind: dict[str, _Piece], today: date) -> tuple[int, int]:
    for kind in ("date_md", "date_dm"):
        if kind in by_kind:
            d = _date(by_kind[kind].groups, today)
            return d.month, d.day
    return today.month, today.day


def _nth(word: str | None) -> int:
    if not word or word in ("last", "final"):
        return -1
    return int(re.sub(r"\D", "", word) or 1)


_NEXT: Final = ("next", "following", "the following", "coming", "the coming")
_LAST: Final = ("last", "past", "previous")


def _day(by_kind: dict[str, _Piece], now: datetime) -> tuple[date | None, bool]:
    today = now.date()
    if "dayword" in by_kind:
        raw = by_kind["dayword"].text
        if "after tomorrow" in raw:
            return today + timedelta(days=2), True
        if "before yesterday" in raw:
            return today - timedelta(days=2), True
        if "yesterday" in raw:
            return today - timedelta(days=1), True
        if "tom" in raw or "tmrw" in raw or "next day" in raw:
            return today + timedelta(days=1), True
        return today, "tonight" not in raw
    if "wd_count" in by_kind:
        g = by_kind["wd_count"].groups
        wd, n = _WEEKDAY_ALIASES[g["wd"] or "mon"], max(1, int(g["n"] or 1))
        if (g["dir"] or "").startswith(("ago", "back", "before")):
            back = (today.weekday() - wd) % 7 or 7
            return today - timedelta(days=back + 7 * (n - 1)), True
        ahead = (wd - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead + 7 * (n - 1)), True
    if "nth_in" in by_kind:
        found = _nth_in(by_kind["nth_in"].groups, today)
        if found is not None:
            return found, True
    if "date_of_month" in by_kind:
        g = by_kind["date_of_month"].groups
        mod = (g["mod"] or "").replace("the ", "")
        day = int(re.sub(r"\D", "", g["day"] or "1") or 1)
        if mod == "the":
            return _date({"day": g["day"]}, today), True
        shift = 1 if mod in _NEXT else -1 if mod in _LAST else 0
        first = _add_months(datetime.combine(today.replace(day=1), dtime()), shift).date()
        return first.replace(day=min(day, _days_in_month(first.year, first.month))), True
    if "date_the" in by_kind and "week" in by_kind and by_kind["week"].groups["what"] == "month":
        g = by_kind["week"].groups  # "next month on the 5th"
        day = int(re.sub(r"\D", "", by_kind["date_the"].groups["day"] or "1") or 1)
        first = _week(g, today.replace(day=1))
        return first.replace(day=min(day, _days_in_month(first.year, first.month))), True
    if "weekday" in by_kind and "date_the" in by_kind:
        # "tuesday the 8th": the next 8th that is a Tuesday
        wd = _WEEKDAY_ALIASES[by_kind["weekday"].groups["wd"] or "mon"]
        candidate = _date(by_kind["date_the"].groups, today)
        for _ in range(24):
            if candidate.weekday() == wd:
                return candidate, True
            candidate = _add_months(datetime.combine(candidate, dtime()), 1).date()
    for kind in ("date_md", "date_dm", "date_iso", "date_dmy", "date_slash"):
        if kind in by_kind:  # a written date wins over a weekday said with it
            return _date(by_kind[kind].groups, today), True
    if "weekday" in by_kind:
        return _weekday(by_kind, today), True
    if "date_the" in by_kind:
        return _date(by_kind["date_the"].groups, today), True
    if "period_end" in by_kind:
        return _period_end(by_kind["period_end"].groups, today), True
    if "decade" in by_kind:
        decade = by_kind["decade"].groups["mod"] or "this"
        years = 10 if decade == "next" else -10 if decade in ("last", "previous") else 0
        return _add_months(datetime.combine(today, dtime()), 12 * years).date(), True
    if "month" in by_kind:
        named = by_kind["month"].groups
        month = _MONTH_ALIASES[named["mon"] or named["mon2"] or "jan"]
        if named["year"]:
            return date(int(named["year"]), month, 1), True
        year = today.year - 1 if named["mod"] == "last" else today.year
        if named["mod"] != "last" and (
            month < today.month or (named["mod"] == "next" and month == today.month)
        ):
            year += 1
        return (today if (year, month) == (today.year, today.month) else date(year, month, 1)), True
    if "year" in by_kind:
        year = int(by_kind["year"].groups["year"] or today.year)
        return (today if year == today.year else date(year, 1, 1)), True
    if "week" in by_kind:
        return _week(by_kind["week"].groups, today), True
    if "weekend" in by_kind:
        return today + timedelta(days=(5 - today.weekday()) % 7), True
    if "period" in by_kind and by_kind["period"].text.startswith(("this ", "today ")):
        return today, True  # "this morning at 10": today's, even when it is over
    return None, False


def _weekday(by_kind: dict[str, _Piece], today: date) -> date:
    g = by_kind["weekday"].groups
    wd = _WEEKDAY_ALIASES[g["wd"] or "mon"]
    mod = (g.get("mod") or "").replace("this coming", "coming")
    week = (g.get("wk") or "").rsplit(" ", 1)[0].replace("the ", "")
    if not week and "week" in by_kind and by_kind["week"].groups["what"] == "week":
        week = (by_kind["week"].groups["mod"] or "").replace("the ", "")  # "next week on tuesday"
    monday = today - timedelta(days=today.weekday())
    if week:
        shift = 7 if week in _NEXT else -7 if week in _LAST else 0
        return monday + timedelta(days=shift + wd)
    back = (today.weekday() - wd) % 7 or 7
    if g.get("rel") == "before last":
        return today - timedelta(days=back + 7)
    if mod in _LAST:
        return today - timedelta(days=back)
    if mod in ("next", "following", "the following"):
        return monday + timedelta(days=7 + wd)
    ahead = (wd - today.weekday()) % 7 or 7
    if g.get("rel") == "after next":
        ahead += 7
    return today + timedelta(days=ahead)


def _week(g: dict[str, str | None], today: date) -> date:
    what, mod = g["what"], (g["mod"] or "").replace("the ", "")
    shift = 1 if mod in _NEXT else -1 if mod in _LAST else 0
    if what == "weekend":
        ahead = (5 - today.weekday()) % 7
        if shift < 0:
            return today - timedelta(days=(today.weekday() - 5) % 7 or 7)
        return today + timedelta(days=ahead + (7 if shift > 0 and ahead else 0))
    if shift == 0:
        return today
    if what == "week":
        return today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
    if what == "month":
        return _add_months(datetime.combine(today.replace(day=1), dtime()), shift).date()
    return date(today.year + shift, 1, 1)


def _period_end(g: dict[str, str | None], today: date) -> date:
    abbr = {"eod": "day", "eow": "week", "eom": "month", "eoy": "year"}
    what = g["what"] or abbr[g["abbr"] or "eom"]
    edge = {"beginning": "start", "mid": "middle"}.get(g["edge"] or "end", g["edge"] or "end")
    if edge in ("early", "late") and what in ("day", "year"):
        edge = "start" if edge == "early" else "end"
    mod = (g["mod"] or "").replace("the ", "")
    shift = 1 if mod in _NEXT else -1 if mod in _LAST else 0
    if what == "day":
        return today
    if what == "week":
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
        return monday + timedelta(
            days={"start": 0, "early": 0, "middle": 2, "late": 4}.get(edge, 6)
        )
    if what == "year":
        year = today.year + shift
        return {"start": date(year, 1, 1), "middle": date(year, 7, 1)}.get(edge, date(year, 12, 31))
    if what == "month":
        first = _add_months(datetime.combine(today.replace(day=1), dtime()), shift).date()
    else:
        month = _MONTH_ALIASES[what]
        year = today.year + (1 if month < today.month or (mod == "next") else 0)
        first = date(year, month, 1)
    last = _days_in_month(first.year, first.month)
    days = {"start": 1, "early": 1, "middle": 15, "late": 21, "end": last}
    result = first.replace(day=days[edge])
    if result < today and what != "month" and mod not in ("this", "last"):
        result = result.replace(year=result.year + 1)
    return result


def _nth_in(g: dict[str, str | None], today: date) -> date | None:
    """ "the third tuesday of september", "the last day of the month", "the 2nd week of april"."""
    nth = _nth(g.get("nth"))
    unit = g.get("unit") or "day"
    smod = (g.get("smod") or "").replace("the ", "")
    if g.get("sunit") == "year":
        shift = 1 if smod in _NEXT else -1 if smod in _LAST else 0
        years = [today.year + shift]
        if smod in ("", "the"):
            years.append(today.year + 1)
        for year in years:
            days = [date(year, 1, 1) + timedelta(days=i) for i in range(366)]
            found = _pick([d for d in days if d.year == year], nth, unit)
            if found is not None and (found >= today or year == years[-1]):
                return found
        return None
    if g.get("sunit") == "month":
        shift = 1 if smod in _NEXT else -1 if smod in _LAST else 0
        months = [_add_months(datetime.combine(today.replace(day=1), dtime()), shift).date()]
        if smod in ("", "the", "every", "each"):
            months.append(_add_months(datetime.combine(today.replace(day=1), dtime()), 1).date())
    else:
        month = _MONTH_ALIASES[g.get("mon") or "jan"]
        year = int(g.get("year") or today.year)
        mmod = g.get("mmod") or ""
        if mmod == "next" and month <= today.month:
            year += 1
        elif mmod == "last" and month >= today.month:
            year -= 1
        months = [date(year, month, 1)]
        if not g.get("year") and not mmod:
            months.append(date(year + 1, month, 1))
    for first in months:
        last = _days_in_month(first.year, first.month)
        found = _pick([first.replace(day=d) for d in range(1, last + 1)], nth, unit)
        if found is not None and (found >= today or first == months[-1]):
            return found
    return None


def _pick(days: list[date], nth: int, unit: str) -> date | None:
    unit = re.sub(r"\s+", " ", unit)
    if unit == "day":
        pool = days
    elif unit in ("weekday", "work day", "workday", "working day", "business day"):
        pool = [d for d in days if d.weekday() < 5]
    elif unit == "weekend":
        pool = [d for d in days if d.weekday() == 5]
    elif unit == "week":
        pool = [d for d in days if d.weekday() == 0]
    else:
        wd = _WEEKDAY_ALIASES.get(unit)
        if wd is None:
            return None
        pool = [d for d in days if d.weekday() == wd]
    if not pool:
        return None
    if nth < 0:
        return pool[-1]
    return pool[nth - 1] if nth <= len(pool) else None


def _date(g: dict[str, str | None], today: date) -> date:
    mon_raw = g.get("mon")
    month = today.month
    if mon_raw:
        month = int(mon_raw) if mon_raw.isdigit() else _MONTH_ALIASES[mon_raw]
    day = int(re.sub(r"\D", "", g.get("day") or "1") or 1)
    if mon_raw and mon_raw.isdigit() and month > 12 and day <= 12:
        month, day = day, month  # "13/5", "2022/30/11": the larger number is the day
    year_raw = g.get("year")
    year = today.year
    if year_raw:
        year = int(year_raw)
        if len(year_raw) == 2:
            year += 2000 if year + 2000 <= today.year + 50 else 1900
    month = min(max(month, 1), 12)
    if not mon_raw and not year_raw:
        for _ in range(3):  # "the 30th" in February: the next month that has one
            if day <= _days_in_month(year, month) and date(year, month, day) >= today:
                return date(year, month, day)
            year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    day = min(max(day, 1), _days_in_month(year, month))
    result = date(year, month, day)
    if not year_raw and result < today:
        if mon_raw:
            result = date(year + 1, month, min(day, _days_in_month(year + 1, month)))
        else:
            y, m = (year, month + 1) if month < 12 else (year + 1, 1)
            result = date(y, m, min(day, _days_in_month(y, m)))
    return result


# --- speaking times ------------------------------------------------------------------------------


def _say_time(t: dtime) -> str:
    hour = t.hour % 12 or 12
    ap = "am" if t.hour < 12 else "pm"
    if t.hour == 12 and t.minute == 0:
        return "noon"
    if t.hour == 0 and t.minute == 0:
        return "midnight"
    return f"{hour}:{t.minute:02d} {ap}" if t.minute else f"{hour} {ap}"


def say_time(moment: datetime | dtime) -> str:
    """ "5 pm", "7:30 am", "noon": how the reply should read a time."""
    return _say_time(moment.time() if isinstance(moment, datetime) else moment)


def say_when(moment: datetime, now: datetime) -> str:
    """ "at 5 pm", "tomorrow at 7:30 am", "on Friday at 9 am", "on March 3 at noon"."""
    days = (moment.date() - now.date()).days
    t = say_time(moment)
    if days == 0:
        return f"at {t}"
    if days == 1:
        return f"tomorrow at {t}"
    if days == -1:
        return f"yesterday at {t}"
    if 1 < days < 7:
        return f"on {moment.strftime('%A')} at {t}"
    return f"on {moment.strftime('%A, %B')} {moment.day} at {t}"


def say_duration(seconds: float) -> str:
    """ "1 hour and 5 minutes", "30 seconds"."""
    total = round(seconds)
    parts = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n} {name}{'s' if n != 1 else ''}")
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
