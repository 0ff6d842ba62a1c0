"""Time expressions: the cases of the issue, the stated ambiguity rules, and the dev corpora."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skills.sdk import timeexpr
from skills.sdk.timeexpr import Duration, Recurrence

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "time_expressions"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 3, 6, 14, 20, tzinfo=BERLIN)  # a Wednesday afternoon


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in ten minutes", at(6, 14, 30)),
        ("in 10 min", at(6, 14, 30)),
        ("half an hour", at(6, 14, 50)),
        ("in an hour and a half", at(6, 15, 50)),
        ("quarter past five", at(6, 17, 15)),
        ("quarter to five", at(6, 16, 45)),
        ("half past 9", at(6, 21, 30)),
        ("tomorrow at 5 pm", at(7, 17)),
        ("tomorrow at 5", at(7, 17)),  # named day: 1-6 mean afternoon
        ("tomorrow morning at eight", at(7, 8)),
        ("next friday", at(15, 9)),  # Friday of next week
        ("friday", at(8, 9)),
        ("on friday at 10 am", at(8, 10)),
        ("tonight", at(6, 20)),
        ("tonight at 9", at(6, 21)),
        ("at noon", at(7, 12)),  # today's noon has passed
        ("at midnight", at(7, 0)),
        ("at 5", at(6, 17)),  # bare hour: next occurrence
        ("at 2", at(7, 2)),  # 2 pm has passed, so 2 am
        ("at 3:45 pm", at(6, 15, 45)),
        ("5:30", at(6, 17, 30)),
        ("five thirty", at(6, 17, 30)),
        ("6 45 am", at(7, 6, 45)),
        ("7.25 pm", at(6, 19, 25)),
        ("twenty fifth may at five pm", at(25, 17, month=5)),
        ("march 10 at 8 am", at(10, 8)),
        ("the 15th", at(15, 9)),
        ("a week from today at five", at(13, 17)),
        ("this evening", at(6, 19)),
        ("at 8 in the evening", at(6, 20)),
        ("in 1 second", NOW + timedelta(seconds=1)),  # the unit, not "the 2nd"
        ("in a second", NOW + timedelta(seconds=1)),
        ("on the second", at(2, 9, month=4)),  # the ordinal
        ("may second", at(2, 9, month=5)),
        ("now - 2 hours", at(6, 12, 20)),
        ("in 1/2 hour", at(6, 14, 50)),
        ("at the end of the month", at(31, 9)),
        ("end of the week", at(10, 9)),
        ("in june", at(1, 9, month=6)),
        ("in february", datetime(2025, 2, 1, 9, tzinfo=BERLIN)),  # already past this year
        ("june 2025", datetime(2025, 6, 1, 9, tzinfo=BERLIN)),
        ("3 feb 2025", datetime(2025, 2, 3, 9, tzinfo=BERLIN)),
        ("8/may/2024", at(8, 9, month=5)),
        ("nine", at(6, 21)),  # a bare number answers "When?": the next nine o'clock
        ("nine thirty", at(6, 21, 30)),
        ("0810", at(7, 8, 10)),  # leading zero: the 24-hour clock
        ("tomorrow at 01:00", at(7, 1)),
        ("tomorrow at 1:00", at(7, 13)),
        ("7 tomorrow", at(7, 7)),  # what the alarm template leaves of "at 7 tomorrow"
        ("7 on friday", at(8, 7)),
        ("buy 3 eggs tomorrow", at(7, 9)),  # a count, not 3 o'clock
        # the kinds of misses of issue 12 (our sentences)
        ("at 3 in the morning", at(7, 3)),
        ("3 in the morning", at(7, 3)),  # what the alarm template leaves of it
        ("this morning at 10", at(6, 10)),  # today's morning, even when it is over
        ("at 10 this morning", at(6, 10)),
        ("wednesday of next week", at(13, 9)),
        ("next week on thursday", at(14, 9)),
        ("three fridays from now", at(22, 9)),
        ("two fridays ago", at(23, 9, month=2)),
        ("the monday after next", at(18, 9)),
        ("the 20th of next month", at(20, 9, month=4)),
        ("next month on the 5th", at(5, 9, month=4)),
        ("the last day of october", at(31, 9, month=10)),
        ("the third tuesday of september", at(17, 9, month=9)),
        ("the last friday of the month", at(29, 9)),
        ("the first monday of next month", at(1, 9, month=4)),
        ("twelve oh three", at(7, 0, 3)),  # 12:03 has passed: the next 12:03 is after midnight
        ("ten oh five", at(6, 22, 5)),
        ("a quarter past", at(6, 15, 15)),  # of the next hour
        ("at half past", at(6, 14, 30)),
        ("noonish", at(7, 12)),
        ("around 5ish", at(6, 17)),
        ("half seven", at(6, 19, 30)),  # half past seven
        ("oh seven hundred", at(7, 7)),
        ("nineteen hundred hours", at(6, 19)),
        ("at 11 at night", at(6, 23)),
        ("tonight at midnight", at(7, 0)),  # the midnight that ends today
        ("a week from tomorrow", at(14, 9)),
        ("two weeks from friday", at(22, 9)),
        ("this time tomorrow", at(7, 14, 20)),
        ("same time next week", at(13, 14, 20)),
        ("two days ago at noon", at(4, 12)),
        ("in 15", at(6, 14, 35)),  # minutes
        ("the third of july twenty twenty five", datetime(2025, 7, 3, 9, tzinfo=BERLIN)),
        ("the 30th", at(30, 9)),
        ("the end of next month", at(30, 9, month=4)),
        ("the middle of next month", at(15, 9, month=4)),
        ("by the end of the day", at(6, 17)),
        ("wake me up at six thirty tomorrow", at(7, 6, 30)),  # waking: morning
        ("set an alarm for 6", at(7, 6)),
        ("friday first", at(8, 7)),  # first thing on Friday
        ("8.5.", at(8, 9, month=5)),  # dotted: day.month
        ("05.08.2024", at(5, 9, month=8)),
        ("2/15", datetime(2025, 2, 15, 9, tzinfo=BERLIN)),  # slashed: month/day
        ("2026", datetime(2026, 1, 1, 9, tzinfo=BERLIN)),  # a year soon to come
        ("2010", at(6, 20, 10)),  # a year gone: the 24-hour clock
        ("march", at(6, 9)),
        ("vorgestern", at(4, 9)),
        ("8 uhr", at(6, 20)),  # "8 o'clock": the next one
    ],
)
def test_cases(text: str, expected: datetime) -> None:
    parsed = timeexpr.parse(text, NOW)
    assert parsed is not None and parsed.when == expected, parsed


def test_waking_means_the_morning() -> None:
    """An alarm's time said without am/pm: the skill can say it is one, else the words tell."""
    assert (parsed := timeexpr.parse("6 tomorrow", NOW)) and parsed.when == at(7, 18)
    assert (parsed := timeexpr.parse("6 tomorrow", NOW, waking=True)) and parsed.when == at(7, 6)
    assert (parsed := timeexpr.parse("wake me at 6 tomorrow", NOW)) and parsed.when == at(7, 6)
    assert (parsed := timeexpr.parse("at 2", NOW, waking=True)) and parsed.when == at(7, 2)


def test_no_expression() -> None:
    for text in (
        "i'm running late",  # "late" is a time only when nothing else is said
        "the early bird gets the worm",
        "not this time",
        "play it one more time",
        "cut it in half",
    ):
        assert timeexpr.find(text) is None, text
    assert timeexpr.parse("late", NOW) is not None
    span = timeexpr.find("it takes 5 to 10 minutes")
    assert span is None or "in 5" not in span.text  # a range, not "in 5 (minutes)"
    assert timeexpr.parse("call mom", NOW) is None
    assert timeexpr.parse_duration("cookies") is None
    assert timeexpr.parse("buy 3 eggs", NOW) is None  # a number inside a sentence is a count
    assert timeexpr.parse("wait a second", NOW) is None
    assert timeexpr.parse("may i ask something", NOW) is None
    assert timeexpr.parse("99", NOW) is None


def test_normalize_is_idempotent() -> None:
    """`find` returns normalized text that skills parse again: normalizing twice changes nothing."""
    for text in (
        "Twelve oh three", "8.5.", "05.08.2018 8Uhr", "noonish", "half an hour", "1/2 h",
        "the third of July twenty twenty five", "3mons ago", "Friday first", "ten oh five",
        "at 3:15p", "zwanzig Minuten", "oh seven thirty", "a quarter past 3pm", "13.1",
    ):  # fmt: skip
        once = timeexpr.normalize(text)
        assert timeexpr.normalize(once) == once, text


def test_split_keeps_the_task() -> None:
    rest, span = timeexpr.split("remind me to call mom in ten minutes")
    assert rest == "remind me to call mom"
    assert span is not None and span.text == "in 10 minutes"
    rest, span = timeexpr.split("to pick up the laundry next monday")
    assert rest == "pick up the laundry"


@pytest.mark.parametrize(
    ("text", "rule", "first"),
    [
        ("every weekday at 8", "weekly;at=08:00;days=0,1,2,3,4", at(7, 8)),
        ("every day at 9 am", "daily;at=09:00", at(7, 9)),
        ("every friday", "weekly;days=4", at(8, 9)),
        ("every monday and wednesday at 6 pm", "weekly;at=18:00;days=0,2", at(6, 18)),
        ("every thirty minutes", "interval;every=1800", at(6, 14, 50)),
        ("daily at 7:15", "daily;at=07:15", at(7, 7, 15)),
    ],
)
def test_recurrence(text: str, rule: str, first: datetime) -> None:
    parsed = timeexpr.parse(text, NOW)
    assert parsed is not None and parsed.recurrence is not None
    assert parsed.recurrence.to_rule() == rule
    assert parsed.when == first
    assert Recurrence.from_rule(rule) == parsed.recurrence


@pytest.mark.parametrize(
    ("text", "rule", "first"),
    [
        ("every other day at 8", "daily;at=08:00;step=2", at(7, 8)),
        ("every other tuesday", "weekly;days=1;step=2", at(12, 9)),
        ("every two weeks on monday", "weekly;days=0;step=2", at(11, 9)),
        ("every 3 days at nine am", "daily;at=09:00;step=3", at(7, 9)),
        ("every night at ten", "daily;at=22:00", at(6, 22)),
        ("every afternoon at 3", "daily;at=15:00", at(6, 15)),
        ("every tuesday at 2", "weekly;at=14:00;days=1", at(12, 14)),  # 1-5: the afternoon
        ("every half hour", "interval;every=1800", at(6, 14, 50)),
        ("every month on the 15th at 10", "monthly;at=10:00;day=15", at(15, 10)),
        ("on the first of every month", "monthly;day=1", at(1, 9, month=4)),
        ("every month on the last day", "monthly;day=31", at(31, 9)),
        ("on the first monday of every month", "monthly;days=0;nth=1", at(1, 9, month=4)),
        ("every last friday of the month", "monthly;days=4;nth=-1", at(29, 9)),
        ("every year on the 4th of july", "yearly;day=4;month=7", at(4, 9, month=7)),
        ("weekly on sundays", "weekly;days=6", at(10, 9)),
    ],
)
def test_more_recurrences(text: str, rule: str, first: datetime) -> None:
    test_recurrence(text, rule, first)


def test_steps_count_from_the_previous_occurrence() -> None:
    every_other_day = Recurrence.from_rule("daily;at=08:00;step=2")
    assert every_other_day.next_after(at(7, 8)) == at(9, 8)
    assert every_other_day.next_after(at(7, 7)) == at(7, 8)  # not an occurrence: the next one
    fortnightly = Recurrence.from_rule("weekly;at=09:00;days=1,3;step=2")
    assert fortnightly.next_after(at(12, 9)) == at(14, 9)  # Thursday of the same week
    assert fortnightly.next_after(at(14, 9)) == at(26, 9)  # then Tuesday two weeks on
    first_monday = Recurrence.from_rule("monthly;days=0;nth=1")
    assert first_monday.next_after(at(1, 9, month=4)) == at(6, 9, month=5)
    last_friday = Recurrence.from_rule("monthly;days=4;nth=-1")
    assert last_friday.next_after(at(29, 9)) == at(26, 9, month=4)
    assert every_other_day.describe() == "every other day at 8 am"
    assert fortnightly.describe() == "every other Tuesday and Thursday at 9 am"
    assert first_monday.describe() == "on the 1st Monday of every month"
    assert last_friday.describe() == "on the last Friday of every month"
    assert Recurrence.from_rule("monthly;day=31").describe() == "on the last day of every month"


def test_recurrence_keeps_wall_clock_across_dst() -> None:
    rule = Recurrence.from_rule("daily;at=08:00")
    before = datetime(2024, 3, 30, 8, 0, tzinfo=BERLIN)  # CET, UTC+1
    after = rule.next_after(before)  # clocks go forward on March 31
    assert after == datetime(2024, 3, 31, 8, 0, tzinfo=BERLIN)
    assert after.utcoffset() == timedelta(hours=2)
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=23)


def test_recurrence_in_the_skipped_hour_lands_after_the_jump() -> None:
    rule = Recurrence.from_rule("daily;at=02:30")
    fired = rule.next_after(datetime(2024, 3, 30, 2, 30, tzinfo=BERLIN))
    assert fired.astimezone(UTC) == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)  # 03:30 CEST


def test_durations() -> None:
    assert timeexpr.parse_duration("10 min") == Duration(seconds=600)
    assert timeexpr.parse_duration("an hour and a half") == Duration(seconds=5400)
    assert timeexpr.parse_duration("1 year 2 months") == Duration(months=14)
    assert timeexpr.say_duration(3900) == "1 hour and 5 minutes"
    spoken = {
        "an hour thirty": 5400, "two minutes thirty": 150, "two and a half minutes": 150,
        "one and a quarter hours": 4500, "three quarters of an hour": 2700,
        "an hour and a quarter": 4500, "ten more minutes": 600, "half a day": 43200,
        "one night": 86400, "halbe stunde": 1800, "30 tage": 30 * 86400,
    }  # fmt: skip
    for text, seconds in spoken.items():
        assert timeexpr.parse_duration(text) == Duration(seconds=seconds), text
    assert timeexpr.parse_duration("ein monat") == Duration(months=1)


def _load(name: str) -> list[dict[str, object]]:
    path = CORPORA / name
    if not path.is_file():
        pytest.skip(f"time-expression corpus not found at {path}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _expected_delta(row: dict[str, object]) -> tuple[float, float]:
    delta = row["delta"]
    assert isinstance(delta, dict)
    months = delta.get("years", 0) * 12 + delta.get("months", 0)
    seconds = (
        delta.get("weeks", 0) * 604800
        + delta.get("days", 0) * 86400
        + delta.get("hours", 0) * 3600
        + delta.get("minutes", 0) * 60
        + delta.get("seconds", 0)
    )
    return months, seconds


def test_dateparser_relative_corpus() -> None:
    """Relative expressions ("in 2 hours", "3 days ago", "1 year, 09 months,01 weeks").

    Floor 85 %. A bare duration counts when its size is right: in this corpus it means "ago",
    for a reminder it means "from now". Words like "decade" and "till date" are out of scope.
    """
    rows = _load("dateparser_relative_en.jsonl")
    ok = 0
    for row in rows:
        text = str(row["text"])
        months, seconds = _expected_delta(row)
        past = row["relation"] == "ago"
        parsed = timeexpr.parse(text, NOW)
        if text in ("today", "just now", "till date") and months == seconds == 0:
            ok += parsed is not None and abs((parsed.when or NOW) - NOW) < timedelta(days=1)
            continue
        bare = timeexpr.parse_duration(re.sub(r"^in\s+|\s+(ago|later|from now)$", "", text))
        if bare is not None and (bare.months, bare.seconds) == (months, seconds):
            explicit = re.search(r"\b(ago|later|from now|in)\b", text) is not None
            ok += not explicit or (parsed is not None and parsed.past == past)
            continue
        if parsed is not None and parsed.when is not None and not parsed.recurrence:
            sign = -1 if past else 1
            expected = Duration(months=months, seconds=seconds).add_to(NOW, sign)
            ok += abs(parsed.when - expected) < timedelta(minutes=1)
    assert ok / len(rows) >= 0.85, f"{ok}/{len(rows)}"


def test_ctparse_english_corpus() -> None:
    """ctparse's English single-time cases: dates and clock times that are fully stated.

    Floor 70 % (measured 79/105). Intervals, German and part-of-day labels are out of scope
    and skipped.
    """
    rows = _load("ctparse_time_corpus.jsonl")
    tried = ok = 0
    for row in rows:
        expected = str(row["expected"])
        m = re.fullmatch(r"Time\[\]\{(\S+) (\S+) \(X/X\)\}", expected)
        if row["lang_guess"] == "de" or m is None or (m.group(1) == "X-X-X" and "X" in m.group(2)):
            continue
        day, clock = m.groups()
        if "X" in day and day != "X-X-X":
            continue  # month-only or year-only
        ref = datetime.fromisoformat(str(row["reference_time"])).replace(tzinfo=UTC)
        parsed = timeexpr.parse(str(row["text"]), ref)
        tried += 1
        if parsed is None or parsed.when is None:
            continue
        good = True
        if day != "X-X-X":
            good &= parsed.when.date().isoformat() == day
        if clock != "X:X":
            good &= parsed.when.strftime("%H:%M") == clock
        ok += good
    assert tried > 30
    assert ok / tried >= 0.70, f"{ok}/{tried}"


def test_eval_sets_meet_the_targets() -> None:
    """`sottovoce eval time` on the dev cases (>= 97 %) and on our spoken set (>= 95 %)."""
    from assistant.evaluate import timeexpr as evaluation

    dev, spoken = evaluation.DEFAULT_SETS
    assert evaluation.evaluate(dev).accuracy >= 0.97
    report = evaluation.evaluate(spoken)
    assert report.total >= 200 and report.problems == []
    assert report.accuracy >= 0.95, [f.text for f in report.failures]
