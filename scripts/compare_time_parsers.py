"""Compare `skills.sdk.timeexpr` with maintained time parsers on the `sottovoce eval time` sets.

Accuracy is scored exactly as `sottovoce eval time` scores it (same cases, same precision per
case); speed is the wall time of one call per case, after a warm-up pass, as median and p95 in
milliseconds. The libraries are not project dependencies: install them in their own venv
(`.venv-timecompare` is in .gitignore) and run the script with that venv's Python:

    python3 -m venv .venv-timecompare
    .venv-timecompare/bin/pip install numpy recognizers-text-date-time dateparser ctparse \
        timefhuman 'emoji<1'    # recognizers-text still imports emoji.UNICODE_EMOJI
    .venv-timecompare/bin/python scripts/compare_time_parsers.py

Options: --sets FILE... (default: eval/time_expressions.jsonl eval/time_spoken.jsonl),
--parsers NAME... (sottovoce dateparser ctparse recognizers timefhuman), --misses NAME to list
a parser's misses, --combine to score "sottovoce, then LIBRARY where sottovoce finds nothing",
--repeat N to time each case N times and keep the least (for a busy machine; it favours a parser
that caches its answers, as timefhuman does).

How each library's answer becomes one moment or one duration (the rules are the same for all):
- dateparser: `dateparser.parse` (future dates preferred, reference as RELATIVE_BASE), and where
  that finds nothing, the first date of `dateparser.search.search_dates` (for sentences).
- ctparse: the best resolution; a Time gives its date and clock time (missing hour: 09:00), an
  Interval its start, a Duration its length.
- recognizers-text-date-time (English culture): the longest entity; of its values the earliest not
  before the reference; a bare clock time is its next occurrence; ranges give their start;
  durations are read from the TIMEX ("P1M", "PT20M"); sets (recurrences) are unresolved.
- timefhuman: the first item; a range gives its start, a list of choices its first choice.
A library that returns a moment for a duration case is scored by |moment - reference| (dateparser
reads "10 minutes" as ten minutes ago); one that returns a duration for a time case is scored as
reference + duration ("in 20 minutes"), minus for text with "ago".
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.evaluate import timeexpr as ev  # noqa: E402

Answer = datetime | tuple[float, float] | None  # a naive local moment, or (months, seconds)
DEFAULT_SETS = (REPO / "eval" / "time_expressions.jsonl", REPO / "eval" / "time_spoken.jsonl")
DAY_SECONDS = 86400


# --- the libraries, each as one function (text, naive reference) -> Answer ------------------


def _dateparser() -> Callable[[str, datetime], Answer]:
    import dateparser
    from dateparser.search import search_dates

    def run(text: str, ref: datetime) -> Answer:
        settings: Any = {
            "RELATIVE_BASE": ref,
            "PREFER_DATES_FROM": "future",
            "RETURN_AS_TIMEZONE_AWARE": False,
        }
        found = dateparser.parse(text, settings=settings)
        if found is None:
            hits = search_dates(text, settings=settings)
            found = hits[0][1] if hits else None
        return found

    return run


def _ctparse() -> Callable[[str, datetime], Answer]:
    import logging

    from ctparse import ctparse
    from ctparse.types import Duration, Interval, Time

    logging.getLogger("ctparse").setLevel(logging.ERROR)

    def moment(t: Any, ref: datetime) -> datetime | None:
        if t.year is None and t.month is None and t.day is None:
            if t.hour is None:
                return None
            clock = dtime(t.hour % 24, t.minute or 0)
            when = datetime.combine(ref.date(), clock)
            return when if when > ref else when + timedelta(days=1)
        if t.year is None:
            return None
        hour = t.hour if t.hour is not None else 9
        return datetime(t.year, t.month or 1, t.day or 1, hour % 24, t.minute or 0)

    def run(text: str, ref: datetime) -> Answer:
        parsed = ctparse(text, ts=ref, timeout=1.0)
        if parsed is None or parsed.resolution is None:
            return None
        r = parsed.resolution
        if isinstance(r, Duration):
            unit = getattr(r.unit, "value", r.unit)
            return _unit_duration(float(r.value), str(unit))
        if isinstance(r, Interval):
            return moment(r.t_from, ref) if r.t_from is not None else None
        if isinstance(r, Time):
            return moment(r, ref)
        return None

    return run


def _recognizers() -> Callable[[str, datetime], Answer]:
    from recognizers_date_time import DateTimeRecognizer
    from recognizers_text import Culture

    model = DateTimeRecognizer(Culture.English).get_datetime_model(Culture.English)

    def read(value: dict[str, str], kind: str, ref: datetime) -> Answer:
        if kind.endswith("duration"):
            return _timex_duration(value.get("timex", ""))
        raw = value.get("value") or value.get("start")
        if not raw or raw == "not resolved":
            return None
        if re.fullmatch(r"\d\d:\d\d(:\d\d)?", raw):
            clock = dtime.fromisoformat(raw)
            when = datetime.combine(ref.date(), clock)
            return when if when > ref else when + timedelta(days=1)
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            return None

    def run(text: str, ref: datetime) -> Answer:
        results = model.parse(text, ref)
        if not results:
            return None
        best = max(results, key=lambda r: (r.end - r.start, -r.start))
        kind = best.type_name
        values = (best.resolution or {}).get("values") or []
        answers = [read(v, kind, ref) for v in values]
        moments = [a for a in answers if isinstance(a, datetime)]
        if moments:
            ahead = [m for m in moments if m.date() >= ref.date()]
            return min(ahead) if ahead else moments[-1]
        return next((a for a in answers if a is not None), None)

    return run


def _timefhuman() -> Callable[[str, datetime], Answer]:
    from timefhuman import tfhConfig, timefhuman

    def read(item: Any, ref: datetime) -> Answer:
        if isinstance(item, tuple | list):
            return read(item[0], ref) if item else None
        if isinstance(item, datetime):
            return item.replace(tzinfo=None)
        if isinstance(item, date):
            return datetime.combine(item, dtime(9))
        if isinstance(item, dtime):
            when = datetime.combine(ref.date(), item.replace(tzinfo=None))
            return when if when > ref else when + timedelta(days=1)
        if isinstance(item, timedelta):
            return (0.0, item.total_seconds())
        return None

    def run(text: str, ref: datetime) -> Answer:
        found = timefhuman(text, config=tfhConfig(now=ref))
        return read(found[0], ref) if found else None

    return run


def _unit_duration(value: float, unit: str) -> tuple[float, float] | None:
    unit = unit.lower().rstrip("s")
    if unit in ("month", "year"):
        return (value * (12 if unit == "year" else 1), 0.0)
    size = {"second": 1, "minute": 60, "hour": 3600, "day": DAY_SECONDS, "night": DAY_SECONDS}
    size["week"] = 7 * DAY_SECONDS
    return (0.0, value * size[unit]) if unit in size else None


def _timex_duration(timex: str) -> tuple[float, float] | None:
    m = re.fullmatch(
        r"P(?:(?P<Y>[\d.]+)Y)?(?:(?P<MO>[\d.]+)M)?(?:(?P<W>[\d.]+)W)?(?:(?P<D>[\d.]+)D)?"
        r"(?:T(?:(?P<H>[\d.]+)H)?(?:(?P<MI>[\d.]+)M)?(?:(?P<S>[\d.]+)S)?)?",
        timex,
    )
    if m is None or not any(m.groupdict().values()):
        return None
    g = {k: float(v or 0) for k, v in m.groupdict().items()}
    months = g["Y"] * 12 + g["MO"]
    seconds = g["W"] * 604800 + g["D"] * DAY_SECONDS + g["H"] * 3600 + g["MI"] * 60 + g["S"]
    return (months, seconds)


PARSERS: dict[str, tuple[str, Callable[[], Callable[[str, datetime], Answer]]]] = {
    "dateparser": ("dateparser", _dateparser),
    "ctparse": ("ctparse", _ctparse),
    "recognizers": ("recognizers-text-date-time", _recognizers),
    "timefhuman": ("timefhuman", _timefhuman),
}


# --- scoring ---------------------------------------------------------------------------------


def _library_answer(case: ev.Case, got: Answer) -> str:
    """A library's answer written the way `eval time` writes expectations."""
    ref = case.now.replace(tzinfo=None)
    if got is None:
        return "(no duration)" if case.expected_duration is not None else "(no time)"
    if case.expected_duration is not None:
        if isinstance(got, datetime):
            want_months, _ = case.expected_duration
            if want_months:  # calendar months: compare the moment a calendar apart
                for sign in (1, -1):
                    probe = ev._add_months(ref, sign * int(want_months))
                    if probe.date() == got.date():
                        return ev.expected(case)
                return f"moment {got.isoformat(timespec='minutes')}"
            seconds = abs((got - ref).total_seconds())
            return ev._say_duration(0, round(seconds))
        months, seconds = got
        want_months, want_seconds = case.expected_duration
        if not months and want_months and seconds:  # a library that counts months in days
            days = seconds / DAY_SECONDS
            if 28 * want_months <= days - want_seconds / DAY_SECONDS <= 31 * want_months:
                return ev.expected(case)
        return ev._say_duration(months, seconds)
    if isinstance(got, tuple):
        months, seconds = got
        sign = -1 if re.search(r"\bago\b", case.text.lower()) else 1
        moved = ev._add_months(ref, sign * int(months)) + sign * timedelta(seconds=seconds)
        return ev._write(moved, case.kind)
    return ev._write(got, case.kind)


def _ours(case: ev.Case) -> str:
    return ev.answer(case)


def score(
    cases: list[ev.Case], run: Callable[[ev.Case], str], repeat: int = 1
) -> tuple[int, list[float], list[tuple[ev.Case, str]]]:
    """Correct answers, milliseconds per case (the least of `repeat` runs), misses."""
    for case in cases[:1]:  # warm-up on other words: lazy tables, not cached answers
        for text in _WARM_UP:
            _attempt(run, replace(case, text=text))
    ok, times, misses = 0, [], []
    for case in cases:
        best = float("inf")
        for _ in range(max(1, repeat)):
            start = time.perf_counter()
            got = _attempt(run, case)
            best = min(best, (time.perf_counter() - start) * 1000)
        times.append(best)
        if got == ev.expected(case):
            ok += 1
        else:
            misses.append((case, got))
    return ok, times, misses


_WARM_UP = (
    "in five minutes", "tomorrow at 9 am", "next monday", "the 3rd of june at noon",
    "every day at 7", "half an hour", "3 days ago", "at half past four in the afternoon",
)  # fmt: skip


def _attempt(run: Callable[[ev.Case], str], case: ev.Case) -> str:
    try:
        return run(case)
    except Exception as err:  # a library crash is a miss, not the end of the comparison
        return f"(error {type(err).__name__})"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--sets", nargs="+", type=Path, default=list(DEFAULT_SETS))
    ap.add_argument("--parsers", nargs="+", default=["sottovoce", *PARSERS])
    ap.add_argument("--misses", metavar="NAME", help="list this parser's misses")
    ap.add_argument("--combine", action="store_true", help="sottovoce, then each library")
    ap.add_argument(
        "--repeat", type=int, default=1, help="time each case N times, keep the least (noise)"
    )
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    sets = []
    for path in args.sets:
        cases, problems = ev.load_cases(path)
        if problems:
            print(f"{path}: {len(problems)} rows not read", file=sys.stderr)
        sets.append((path.name, cases))

    runners: dict[str, Callable[[ev.Case], str]] = {}
    loads: dict[str, float] = {}
    versions: dict[str, str] = {"sottovoce": "this repo"}
    for name in args.parsers:
        if name == "sottovoce":
            runners[name] = _ours
            continue
        package, factory = PARSERS[name]
        start = time.perf_counter()
        try:
            parse = factory()
        except ImportError as err:
            print(f"{name}: not installed ({err}); see this script's docstring", file=sys.stderr)
            continue
        loads[name] = (time.perf_counter() - start) * 1000
        versions[name] = _version(package)

        def run(case: ev.Case, parse: Callable[[str, datetime], Answer] = parse) -> str:
            return _library_answer(case, parse(case.text, case.now.replace(tzinfo=None)))

        runners[name] = run
        if args.combine:

            def both(case: ev.Case, run: Callable[[ev.Case], str] = run) -> str:
                ours = _ours(case)
                return run(case) if ours.startswith("(no ") else ours

            runners[f"sottovoce → {name}"] = both

    head = ["parser", "version", "import ms"]
    for set_name, cases in sets:
        head += [f"{set_name} ({len(cases)})", "median ms", "p95 ms"]
    rows = []
    for name, run in runners.items():
        row = [name, versions.get(name.split(" → ")[-1], ""), f"{loads.get(name, 0):.0f}"]
        for set_name, cases in sets:
            ok, times, misses = score(cases, run, args.repeat)
            row += [
                f"{ok / len(cases):.1%}",
                f"{statistics.median(times):.2f}",
                f"{_p95(times):.2f}",
            ]
            if name == args.misses:
                print(f"{name} misses on {set_name}:")
                for case, got in misses:
                    print(f"  {case.text!r} @ {case.now:%a %Y-%m-%d %H:%M}: "
                          f"want {ev.expected(case)}, got {got}")  # fmt: skip
        rows.append(row)
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(" --- " for _ in head) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
