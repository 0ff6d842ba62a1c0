"""Time expressions as people say them and recognizers write them, in the local time zone.

`normalize` turns number words into digits ("twenty five" -> 25, "fifth" -> 5th, "one hundred and
thirty" -> 130) so that one grammar covers "in 10 min" and "in ten minutes". `find` locates the time
expression inside a sentence (clock-free, so the intent recognizer can split "remind me to call mom
in ten minutes" into text and when); `parse` resolves it against an aware `now`.

Ambiguity rules (stated once, tested in tests/unit/test_timeexpr.py):
- A bare hour ("at 5", "wake me at six") means its next occurrence: 5:00 or 17:00, whichever
  comes first after now. With a named day ("tomorrow at 5"), 7-11 mean morning and 12-6 afternoon.
- A time of day already past today means tomorrow; a weekday means the first one after today;
  "next friday" means Friday of next calendar week (weeks start on Monday).
- A day without a time means 9:00 ("morning" 9:00, "afternoon" 15:00, "evening" 19:00,
  "tonight" 20:00, "night" 21:00).
- A bare duration ("10 minutes") in a reminder means from now.
Recurring times are computed in wall-clock time of the zone of `now`, so "every day at 8" stays at
8:00 across daylight-saving changes; "every 30 minutes" counts real elapsed time.
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
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
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
    "midday": 12, "midnight": 0, "lunchtime": 12, "lunch": 12,
}  # fmt: skip
DEFAULT_HOUR: Final = 9


# --- numbers -------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lower-case, spell numbers as digits, split "5pm"/"10min", keep "5:30"."""
    s = text.lower().replace("’", "'")
    s = re.sub(r"\b([ap])\.?\s?m\b\.?", r"\1m", s)
    s = re.sub(r"\bo'?\s?clock\b", " oclock", s)
    s = re.sub(r"(\d)h(\d\d)\b", r"\1:\2", s)
    s = re.sub(r"(\d)([a-z]+)\b", _split_unit, s)
    s = re.sub(r"(\d),(\d)", r"\1.\2", s)
    s = re.sub(r"\bnow\s*-\s*(?=\d)", "now minus ", s)
    s = re.sub(r"(?<![\d/])1/2\s*(?=h|hour)", "half an ", s)
    s = re.sub(r"(?<=\d)/(?=[a-z])|(?<=[a-z])/(?=\d)", " ", s)  # "8/May/2018"
    s = re.sub(r"[^\w\s:.+'/-]", " ", s)
    s = re.sub(r"(?<!\d)[.](?!\d)|(?<=\d)[.](?!\d)", " ", s)
    s = re.sub(r"(?<![\w])[-](?![\d])|(?<=[a-z])-(?=[a-z])", " ", s)
    return " ".join(_numbers_to_digits(s.split()))


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
_QTY = rf"(?:{_NUM}|an?|one|a couple of|couple of|a couple|a few|few|several)"
_UNIT = (
    r"(?:seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|hr|h|days?|d|weeks?|wks?|w|"
    r"fortnights?|months?|mons?|mo|years?|yrs?|y|decades?)"
)
_PART = (
    rf"(?:[+-]\s*)?(?:{_QTY}\s+{_UNIT}(?:\s+and\s+a\s+half)?(?![\w])|"
    rf"(?:a\s+)?half\s+(?:an?\s+)?{_UNIT}(?![\w])|(?:a\s+)?quarter\s+(?:of\s+)?an?\s+hour)"
)
_DURATION = rf"{_PART}(?:\s*(?:,\s*and|,|and)?\s*{_PART})*"
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "f": 1209600}


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
    if word in ("a", "an", "one", "a couple"):
        return 1.0 if word != "a couple" else 2.0
    if word in ("a couple of", "couple of"):
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
    months, seconds = 0.0, 0.0
    sign = 1.0
    for m in re.finditer(_PART, s):
        part = m.group(0)
        sign = -1.0 if part.startswith("-") else 1.0 if part.startswith("+") else sign
        part = part.lstrip("+- ")
        if "quarter" in part:
            seconds += sign * 900
            continue
        if part.startswith(("half", "a half")):
            unit = part.split()[-1]
            qty = 0.5
        else:
            qm = re.match(rf"({_QTY})\s+({_UNIT})(\s+and\s+a\s+half)?$", part)
            if qm is None:
                continue
            qty = _qty(qm.group(1)) + (0.5 if qm.group(3) else 0.0)
            unit = qm.group(2)
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

    freq "daily": every day at `at`; "weekly": on `weekdays` at `at`; "monthly"/"yearly": same
    day of month (of year) at `at`; "interval": every `seconds` of elapsed time.
    """

    freq: str
    at: dtime | None = None
    weekdays: tuple[int, ...] = ()
    seconds: int = 0
    day: int = 0
    month: int = 0

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
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (aware), in `moment`'s zone."""
        if self.freq == "interval":
            step = timedelta(seconds=max(self.seconds, 1))
            return moment + step
        at = self.at or dtime(DEFAULT_HOUR)
        tz = moment.tzinfo
        day = moment.date()
        for _ in range(800):
            if self._matches(day):
                candidate = _wall(day, at, tz)
                if candidate > moment:
                    return candidate
            day += timedelta(days=1)
        raise ValueError(f"recurrence {self.to_rule()!r} never occurs")

    def _matches(self, day: date) -> bool:
        if self.freq == "daily":
            return True
        if self.freq == "weekly":
            return day.weekday() in self.weekdays
        if self.freq == "monthly":
            return day.day == min(self.day, _days_in_month(day.year, day.month))
        if self.freq == "yearly":
            return day.month == self.month and day.day == self.day
        raise ValueError(f"unknown recurrence {self.freq!r}")

    def describe(self) -> str:
        when = f" at {_say_time(self.at)}" if self.at else ""
        if self.freq == "daily":
            return f"every day{when}"
        if self.freq == "weekly":
            if self.weekdays == (0, 1, 2, 3, 4):
                return f"every weekday{when}"
            if self.weekdays == (5, 6):
                return f"every weekend day{when}"
            names = " and ".join(WEEKDAYS[d].capitalize() for d in self.weekdays)
            return f"every {names}{when}"
        if self.freq == "interval":
            return f"every {say_duration(self.seconds)}"
        if self.freq == "monthly":
            return f"every month on the {self.day}{_suffix(self.day)}{when}"
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
_PERIOD = r"(?:morning|afternoon|evening|night|tonight|noon|midday|midnight|lunchtime)"

_PATTERNS: Final[list[tuple[str, str]]] = [
    (
        "recur_interval",
        rf"every\s+(?:(?P<n>{_NUM}|other)\s+)?(?P<unit>seconds?|"
        r"minutes?|mins?|hours?|hrs?)\b",
    ),
    ("recur_hourly", r"\bhourly\b"),
    (
        "recur_weekdays",
        r"\b(?:every\s+(?:weekday|work\s?day|working\s+day|business\s+day)s?|"
        r"(?:on\s+)?weekdays|monday\s+(?:to|through|thru)\s+friday)\b",
    ),
    ("recur_weekend", r"\b(?:every\s+weekend|(?:on\s+)?weekends)\b"),
    (
        "recur_days",
        rf"\b(?:every|each)\s+(?P<days>{_WD}(?:\s*(?:,|and|&)\s*{_WD})*)s?\b|"
        rf"\b(?:on\s+)?(?P<plural>{_WD})s\b",
    ),
    (
        "recur_daily",
        r"\b(?:every\s*day|everyday|each\s+day|daily|every\s+single\s+day|"
        rf"every\s+(?P<p>{_PERIOD})|each\s+(?P<p2>{_PERIOD}))\b",
    ),
    ("recur_weekly", r"\b(?:every\s+week|weekly|each\s+week)\b"),
    ("recur_monthly", r"\b(?:every\s+month|monthly|each\s+month)\b"),
    ("recur_yearly", r"\b(?:every\s+year|yearly|annually|each\s+year)\b"),
    (
        "ago",
        rf"(?:(?P<dur>{_DURATION})\s+(?:ago|before|earlier)|now\s+minus\s+(?P<dur2>{_DURATION}))",
    ),
    (
        "rel",
        r"(?:(?:in|within|after)\s+(?:about\s+|around\s+|another\s+|"
        rf"just\s+)?(?P<dur>{_DURATION})(?:\s*(?:'?s)?\s*time)?|"
        rf"(?P<dur2>{_DURATION})\s+(?:from\s+now|later|from\s+today)|"
        rf"now\s*\+\s*(?P<dur3>{_DURATION}))",
    ),
    ("now", r"\b(?:right\s*now|just\s+now|now|immediately)\b"),
    (
        "dayword",
        r"\b(?:the\s+)?(?:day\s+after\s+tomorrow|day\s+before\s+yesterday|"
        r"today|tonight|tomorrow|tmrw|tomorow|yesterday)(?:'?s)?\b",
    ),
    (
        "weekday",
        r"\b(?:(?P<mod>this|next|coming|last|the\s+following|"
        rf"following)\s+)?(?P<wd>{_WD})(?:'?s)?(?:\s+after\s+next)?(?:\s+(?P<nw>next\s+week))?\b",
    ),
    ("week", r"\b(?P<mod>this|next|the\s+following)\s+(?P<what>week|weekend|month|year)\b"),
    (
        "period_end",
        r"\b(?:(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(?P<what>week|month|year)|"
        r"(?P<abbr>eow|eom|eoy))\b",
    ),
    ("decade", r"\b(?P<mod>this|next|last|previous)\s+decade\b"),
    ("date_md", rf"\b(?P<mon>{_MON})\s+(?:the\s+)?(?P<day>{_ORD})(?:\s*,?\s*(?P<year>\d{{4}}))?\b"),
    (
        "date_dm",
        rf"\b(?:the\s+)?(?P<day>{_ORD})\s+(?:of\s+)?(?P<mon>{_MON})(?:\s*,?\s*(?P<year>\d{{4}}))?\b",
    ),
    ("date_iso", r"\b(?P<year>\d{4})([-/.])(?P<mon>\d{1,2})\2(?P<day>\d{1,2})\b"),
    ("date_dmy", r"\b(?P<day>\d{1,2})\.(?P<mon>\d{1,2})\.(?P<year>\d{4})\b"),
    ("date_slash", r"\b(?P<mon>\d{1,2})/(?P<day>\d{1,2})(?:/(?P<year>\d{2,4}))?\b"),
    ("date_the", r"\b(?:the\s+)?(?P<day>\d{1,2}(?:st|nd|rd|th))\b"),
    (
        "month",
        rf"\b(?:(?P<mod>in|next|this|by|until|till|during|last)\s+(?P<mon>{_MON})|"
        rf"(?P<mon2>{_MON})\s+(?P<year>\d{{4}}))\b(?!\s+\d)",
    ),
    (
        "time_words",
        r"\b(?:(?P<half>half)|(?:a\s+)?(?P<q>quarter)|(?P<min>\d{1,2})(?:\s+minutes?)?)\s+(?P<rel>past|"
        r"after|to|till|til|before|of)\s+(?P<h>\d{1,2}|noon|midnight)\b",
    ),
    ("time_hm", r"\b(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:\s*(?P<ap>am|pm))?\b"),
    (
        "time_hhmm",
        r"\b(?P<hm>\d{3,4})\s*(?P<ap>am|pm|oclock|hours)\b|(?:(?<=\bat\s)|"
        r"(?<=\bfor\s))(?P<hm2>\d{3,4})\b",
    ),
    ("time_h_m", r"\b(?P<h>\d{1,2})\s+(?P<m>[0-5]\d)(?:\s*(?P<ap>am|pm))?\b"),
    ("time_h", r"\b(?P<h>\d{1,2})\s*(?P<ap>am|pm|oclock)\b"),
    (
        "time_at",
        r"\b(?:at|by|around|for|until|till)\s+(?P<h>\d{1,2})\b"
        rf"(?!\s*(?:st|nd|rd|th|:|/|\.\d|\d|%|percent)|\s+{_UNIT}\b)",
    ),
    # "wake me up at 7 tomorrow" reaches here as "7 tomorrow" once "at" went to the template
    (
        "time_lead",
        rf"\b(?P<h>\d{{1,2}})(?=\s+(?:tomorrow|today|tonight|(?:on\s+|next\s+|this\s+)?{_WD})\b)",
    ),
    ("dur", rf"(?:^|(?<=\bfor\s))(?P<dur>{_DURATION})"),
    ("period", rf"\b(?:(?:this|in\s+the|at|tomorrow|tonight|the)\s+)?(?P<p>{_PERIOD})\b"),
]  # fmt: skip
_COMPILED: Final = [(kind, re.compile(p)) for kind, p in _PATTERNS]
_JOINERS: Final = re.compile(
    r"^(?:\s|,|at|on|by|around|about|in|of|the|from|starting|for|and|every|this|late|early|"
    r"very)*$"
)


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
    groups = [g for g in _groups(_pieces(s), s) if _meaningful(g)]
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


def _meaningful(group: list[_Piece]) -> bool:
    kinds = {p.kind for p in group}
    # "for" + bare number and a lone "the 2nd" are too weak on their own.
    return not (kinds <= {"time_at"} and group[0].groups.get("h") is None)


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


_BARE_TIME: Final = re.compile(r"(?:at\s+)?(?P<h>\d{1,2})(?:[:. ](?P<m>[0-5]\d))?|(?P<hm>0?\d{3})")


def parse(text: str, now: datetime) -> TimeExpr | None:
    """Resolve the time expression in `text` against aware `now`; None if there is none.

    A text that is nothing but a number is a clock time: the answer to "When?" ("nine",
    "nine thirty", "810"), never a count inside a longer sentence.
    """
    s = normalize(text)
    span = find(s)
    if span is None:
        bare = _BARE_TIME.fullmatch(s)
        if bare is None:
            return None
        h, m = divmod(int(bare["hm"]), 100) if bare["hm"] else (int(bare["h"]), int(bare["m"] or 0))
        if h > 23 or m > 59:
            return None
        hour = f"0{h}" if s.lstrip("at ").startswith("0") else str(h)  # "0810": 24-hour clock
        piece = _Piece("time_hm", 0, len(s), s, {"h": hour, "m": str(m), "ap": None})
        return _resolve(s, [piece], now)
    pieces = [p for p in _pieces(s) if span.start <= p.start and p.end <= span.end]
    return _resolve(span.text, pieces, now)


def _resolve(text: str, pieces: list[_Piece], now: datetime) -> TimeExpr | None:
    by_kind = {p.kind: p for p in pieces}
    hm, meridiem = _time_of_day(by_kind)
    for kind in ("rel", "ago", "dur"):
        if kind in by_kind:
            g = by_kind[kind].groups
            dur_text = g.get("dur") or g.get("dur2") or g.get("dur3") or ""
            dur = _duration_value(dur_text)
            sign = -1 if kind == "ago" else 1
            when = dur.add_to(now, sign)
            if hm is not None and dur.seconds % 86400 == 0:
                # "a week from today at 5": the duration picks the day, the time the hour.
                h = hm[0] + (12 if meridiem == "pm" and hm[0] < 12 else 0)
                if meridiem is None and 1 <= h <= 6:
                    h += 12
                when = _wall(when.date(), dtime(h % 24, hm[1]), now.tzinfo)
            return TimeExpr(text, when, duration=dur, past=sign < 0, has_time_of_day=True)
    if "now" in by_kind and len(by_kind) == 1:
        return TimeExpr(text, now, has_time_of_day=True)

    period = _period(by_kind)
    recurrence = _recurrence(by_kind, hm, meridiem, period)
    if recurrence is not None:
        if recurrence.freq == "interval":
            first = recurrence.next_after(now)
        else:
            first = recurrence.next_after(now - timedelta(seconds=1))
        return TimeExpr(text, first, recurrence=recurrence, has_time_of_day=hm is not None)

    day, explicit_day = _day(by_kind, now)
    if day is None and hm is None and period is None:
        return None
    if hm is None:
        hour = _PERIOD_HOURS.get(period or "", DEFAULT_HOUR)
        base = day or now.date()
        when = _wall(base, dtime(hour), now.tzinfo)
        if day is None and when <= now:
            when = _wall(base + timedelta(days=1), dtime(hour), now.tzinfo)
        return TimeExpr(text, when, past=when < now)
    h, m = hm
    if meridiem is None and period is not None:
        meridiem = "am" if period == "morning" else "pm" if period != "midnight" else None
        if period in ("night", "tonight") and h == 12:
            meridiem = "am"
    if meridiem == "pm" and h < 12:
        h += 12
    elif meridiem == "am" and h == 12:
        h = 0
    if meridiem is None and explicit_day and 1 <= h <= 6:
        h += 12
    if day is not None:
        when = _wall(day, dtime(h % 24, m), now.tzinfo)
        return TimeExpr(text, when, has_time_of_day=True, past=when < now)
    candidates = [h] if meridiem is not None or h == 0 or h > 12 else [h % 12, h % 12 + 12]
    options = []
    for offset in (0, 1):
        for hour in candidates:
            t = _wall(now.date() + timedelta(days=offset), dtime(hour % 24, m), now.tzinfo)
            if t > now:
                options.append(t)
    return TimeExpr(text, min(options), has_time_of_day=True)


def _time_of_day(by_kind: dict[str, _Piece]) -> tuple[tuple[int, int] | None, str | None]:
    for kind in (
        "time_words",
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
        ap = g.get("ap")
        meridiem = ap if ap in ("am", "pm") else None
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
            return (h, minutes), meridiem
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
        return (h % 24, m), meridiem
    return None, None


def _period(by_kind: dict[str, _Piece]) -> str | None:
    if "period" in by_kind:
        return by_kind["period"].groups["p"]
    if "dayword" in by_kind and "tonight" in by_kind["dayword"].text:
        return "tonight"
    return None


def _recurrence(
    by_kind: dict[str, _Piece],
    hm: tuple[int, int] | None,
    meridiem: str | None,
    period: str | None,
) -> Recurrence | None:
    at = None
    if hm is not None:
        h, m = hm
        pm = meridiem == "pm" or period in ("afternoon", "evening", "night", "tonight")
        if pm and h < 12:
            h += 12
        elif meridiem == "am" and h == 12:
            h = 0
        at = dtime(h % 24, m)
    elif period is not None:
        at = dtime(_PERIOD_HOURS[period])
    if "recur_interval" in by_kind:
        g = by_kind["recur_interval"].groups
        n = 2.0 if g["n"] == "other" else float(g["n"] or 1)
        unit = (g["unit"] or "m")[0]
        return Recurrence("interval", seconds=int(n * _UNIT_SECONDS[unit]))
    if "recur_hourly" in by_kind:
        return Recurrence("interval", seconds=3600)
    if "recur_weekdays" in by_kind:
        return Recurrence("weekly", at=at, weekdays=(0, 1, 2, 3, 4))
    if "recur_weekend" in by_kind:
        return Recurrence("weekly", at=at, weekdays=(5, 6))
    if "recur_days" in by_kind:
        g = by_kind["recur_days"].groups
        names = re.findall(_WD, g.get("days") or g.get("plural") or "")
        days = tuple(sorted({_WEEKDAY_ALIASES[n] for n in names}))
        return Recurrence("weekly", at=at, weekdays=days)
    if "recur_daily" in by_kind:
        g = by_kind["recur_daily"].groups
        p = g.get("p") or g.get("p2")
        if at is None and p:
            at = dtime(_PERIOD_HOURS[p])
        return Recurrence("daily", at=at)
    return None


def _day(by_kind: dict[str, _Piece], now: datetime) -> tuple[date | None, bool]:
    today = now.date()
    if "dayword" in by_kind:
        word = by_kind["dayword"]
        raw = _raw(word)
        if "after tomorrow" in raw:
            return today + timedelta(days=2), True
        if "before yesterday" in raw:
            return today - timedelta(days=2), True
        if "yesterday" in raw:
            return today - timedelta(days=1), True
        if "tom" in raw or "tmrw" in raw:
            return today + timedelta(days=1), True
        return today, "tonight" not in raw
    if "weekday" in by_kind and "date_the" in by_kind:
        # "tuesday the 8th": the next 8th that is a Tuesday
        wd = _WEEKDAY_ALIASES[by_kind["weekday"].groups["wd"] or "mon"]
        candidate = _date(by_kind["date_the"].groups, today)
        for _ in range(24):
            if candidate.weekday() == wd:
                return candidate, True
            candidate = _add_months(datetime.combine(candidate, dtime()), 1).date()
    if "weekday" in by_kind:
        g = by_kind["weekday"].groups
        wd = _WEEKDAY_ALIASES[g["wd"] or "mon"]
        mod = (g.get("mod") or "").replace("the ", "")
        ahead = (wd - today.weekday()) % 7 or 7
        if mod == "last":
            return today - timedelta(days=(today.weekday() - wd) % 7 or 7), True
        if mod in ("next", "following") or g.get("nw"):
            monday_next = today + timedelta(days=7 - today.weekday())
            return monday_next + timedelta(days=wd), True
        if "after next" in _raw(by_kind["weekday"]):
            ahead += 7
        return today + timedelta(days=ahead), True
    for kind in ("date_md", "date_dm", "date_iso", "date_dmy", "date_slash", "date_the"):
        if kind in by_kind:
            return _date(by_kind[kind].groups, today), True
    if "period_end" in by_kind:
        end = by_kind["period_end"].groups
        abbr = {"eow": "week", "eom": "month", "eoy": "year"}
        period_end = end["what"] or abbr[end["abbr"] or "eom"]
        if period_end == "week":
            return today + timedelta(days=6 - today.weekday()), True
        if period_end == "month":
            return date(today.year, today.month, _days_in_month(today.year, today.month)), True
        return date(today.year, 12, 31), True
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
    if "week" in by_kind:
        g = by_kind["week"].groups
        what, mod = g["what"], g["mod"] or ""
        if what == "weekend":
            ahead = (5 - today.weekday()) % 7
            return today + timedelta(days=ahead + (7 if mod == "next" and ahead else 0)), True
        if what == "week":
            monday = today - timedelta(days=today.weekday())
            return (monday + timedelta(days=7) if mod != "this" else today), True
        if what == "month":
            first = date(today.year + today.month // 12, today.month % 12 + 1, 1)
            return (first if mod != "this" else today), True
        return (date(today.year + 1, 1, 1) if mod != "this" else today), True
    return None, False


def _date(g: dict[str, str | None], today: date) -> date:
    mon_raw = g.get("mon")
    month = today.month
    if mon_raw:
        month = int(mon_raw) if mon_raw.isdigit() else _MONTH_ALIASES[mon_raw]
    day = int(re.sub(r"\D", "", g.get("day") or "1"))
    year_raw = g.get("year")
    year = today.year
    if year_raw:
        year = int(year_raw) + (2000 if len(year_raw) == 2 else 0)
    month = min(max(month, 1), 12)
    day = min(max(day, 1), _days_in_month(year, month))
    result = date(year, month, day)
    if not year_raw and result < today:
        if mon_raw:
            result = date(year + 1, month, min(day, _days_in_month(year + 1, month)))
        else:
            y, m = (year, month + 1) if month < 12 else (year + 1, 1)
            result = date(y, m, min(day, _days_in_month(y, m)))
    return result


def _raw(piece: _Piece) -> str:
    return piece.text


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
