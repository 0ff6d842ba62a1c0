"""`eval time`: the time-expression parser (`skills.sdk.timeexpr`) against expected answers.

The format: JSONL, one case per line.

    {"text": "in 2 hours", "reference_time": "2014-09-01T10:30:00+00:00",
     "expected_time": "2014-09-01T12:30", "source": "..."}
    {"text": "ten minutes", "reference_time": "2018-03-07T12:43",
     "expected_duration": {"minutes": 10}}

- `reference_time` is the moment the words are said, ISO 8601; without an offset it is in
  `tz` (an IANA zone name, default UTC).
- `expected_time` is an ISO 8601 prefix, and its length is the precision that is checked:
  "2018" (year), "2018-03" (month), "2018-03-07" (day), "2018-03-07T12:43" (minute), or
  "12:43" (only the clock time, any day). It is read in the zone of `reference_time`.
- `expected_duration` counts years, months, weeks, days, hours, minutes and seconds (numbers);
  years and months are compared as calendar months, the rest as seconds.
Exactly one of the two is given. `source` says where the case comes from.

`convert_corpora` turns the dateparser and ctparse dev corpora into this format (rules in its
docstring); `eval/time_expressions.jsonl` at the repository root is its output.
`eval/time_spoken.jsonl` holds our own sentences as people say them (relative days, weekdays,
parts of day, ordinals, durations, recurrences, whole commands, and as a recognizer writes
them). `sottovoce eval time` without a file scores both (`DEFAULT_SETS`).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.evaluate.data import EvalError, Problem, read_jsonl, rounded
from skills.sdk import timeexpr

_LOGGER = logging.getLogger(__name__)
_EVAL: Final = Path(__file__).resolve().parents[2] / "eval"
DEFAULT_SETS: Final = (_EVAL / "time_expressions.jsonl", _EVAL / "time_spoken.jsonl")

_UNITS: Final = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
_UNIT_SECONDS: Final = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
_PRECISIONS: Final = {4: "year", 7: "month", 10: "day", 16: "minute", 5: "clock"}
_FORMATS: Final = {
    "year": "%Y",
    "month": "%Y-%m",
    "day": "%Y-%m-%d",
    "minute": "%Y-%m-%dT%H:%M",
    "clock": "%H:%M",
}
_SLICES: Final = {
    "year": (0, 4),
    "month": (0, 7),
    "day": (0, 10),
    "minute": (0, 16),
    "clock": (11, 16),
}


def _write(moment: datetime, precision: str) -> str:
    """ISO 8601 cut to `precision` (isoformat keeps four-digit years, strftime may not)."""
    start, end = _SLICES[precision]
    return moment.replace(tzinfo=None).isoformat(timespec="minutes")[start:end]


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    line: int
    text: str
    now: datetime
    expected_time: str | None
    expected_duration: tuple[float, float] | None  # (months, seconds)
    source: str

    @property
    def kind(self) -> str:
        return (
            "duration"
            if self.expected_duration is not None
            else _precision(self.expected_time or "")
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    line: int
    text: str
    expected: str
    got: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeReport:
    dataset: str
    total: int
    correct: int
    accuracy: float
    by_kind: dict[str, tuple[int, int]]  # kind -> (correct, total)
    by_source: dict[str, tuple[int, int]]
    failures: list[Failure]
    problems: list[Problem] = field(default_factory=list)


def _precision(expected: str) -> str:
    return _PRECISIONS.get(len(expected), "?")


def default_sets() -> list[Path]:
    """The sets `eval time` scores when given none: those of `DEFAULT_SETS` that exist."""
    return [path for path in DEFAULT_SETS if path.is_file()]


def parse_case(line: int, row: dict[str, Any]) -> Case:
    """One row of the format; ValueError says what is wrong with it."""
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("no text")
    zone: tzinfo = UTC
    if row.get("tz"):
        try:
            zone = ZoneInfo(str(row["tz"]))
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {row['tz']!r}") from err
    try:
        now = datetime.fromisoformat(str(row.get("reference_time", "")).replace("Z", "+00:00"))
    except ValueError as err:
        raise ValueError(f"reference_time is not ISO 8601: {row.get('reference_time')!r}") from err
    if now.tzinfo is None:
        now = now.replace(tzinfo=zone)
    expected_time = row.get("expected_time")
    duration = row.get("expected_duration")
    if (expected_time is None) == (duration is None):
        raise ValueError("give exactly one of expected_time and expected_duration")
    if expected_time is not None:
        if not isinstance(expected_time, str) or _precision(expected_time) == "?":
            raise ValueError(f"expected_time is not an ISO 8601 prefix: {expected_time!r}")
        fmt = _FORMATS[_precision(expected_time)]
        try:
            datetime.strptime(expected_time, fmt)
        except ValueError as err:
            raise ValueError(f"expected_time does not read as {fmt}: {expected_time!r}") from err
        return Case(
            line=line,
            text=text,
            now=now,
            expected_time=expected_time,
            expected_duration=None,
            source=str(row.get("source", "")),
        )
    return Case(
        line=line,
        text=text,
        now=now,
        expected_time=None,
        expected_duration=_months_seconds(duration),
        source=str(row.get("source", "")),
    )


def _months_seconds(duration: Any) -> tuple[float, float]:
    if not isinstance(duration, dict) or not duration:
        raise ValueError('expected_duration must be an object such as {"minutes": 10}')
    unknown = set(duration) - set(_UNITS)
    if unknown:
        raise ValueError(f"expected_duration: unknown units {sorted(unknown)}")
    if not all(isinstance(v, int | float) for v in duration.values()):
        raise ValueError("expected_duration: amounts must be numbers")
    months = duration.get("years", 0) * 12 + duration.get("months", 0)
    seconds = sum(duration.get(unit, 0) * factor for unit, factor in _UNIT_SECONDS.items())
    return float(months), float(seconds)


def load_cases(path: Path) -> tuple[list[Case], list[Problem]]:
    cases: list[Case] = []
    problems: list[Problem] = []
    for line, row in read_jsonl(path):
        if isinstance(row, Problem):
            problems.append(row)
            continue
        try:
            cases.append(parse_case(line, row))
        except ValueError as err:
            problems.append(Problem(path=str(path), line=line, message=str(err)))
    return cases, problems


def answer(case: Case) -> str:
    """What the parser makes of the case, written the way the expectation is."""
    if case.expected_duration is not None:
        duration = timeexpr.parse_duration(case.text)
        if duration is None:
            parsed = timeexpr.parse(case.text, case.now)
            duration = parsed.duration if parsed is not None else None
        if duration is None:
            return "(no duration)"
        return _say_duration(duration.months, duration.seconds)
    parsed = timeexpr.parse(case.text, case.now)
    if parsed is None or parsed.when is None:
        return "(no time)"
    when = parsed.when.astimezone(case.now.tzinfo)
    return _write(when, case.kind)


def _say_duration(months: float, seconds: float) -> str:
    return f"{rounded(months, 4):g} months {rounded(seconds, 1):g} s"


def expected(case: Case) -> str:
    if case.expected_duration is not None:
        return _say_duration(*case.expected_duration)
    return case.expected_time or ""


def evaluate(path: Path) -> TimeReport:
    cases, problems = load_cases(path)
    if not cases:
        raise EvalError(
            f"{path}: no case could be read"
            + (f" ({problems[0].describe()}, ...)" if problems else "")
        )
    failures: list[Failure] = []
    kinds: Counter[str] = Counter()
    kinds_ok: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    sources_ok: Counter[str] = Counter()
    for case in cases:
        want, got = expected(case), answer(case)
        source = case.source.split("@", 1)[0] or "-"
        kinds[case.kind] += 1
        sources[source] += 1
        if want == got:
            kinds_ok[case.kind] += 1
            sources_ok[source] += 1
        else:
            failures.append(Failure(line=case.line, text=case.text, expected=want, got=got))
    correct = len(cases) - len(failures)
    return TimeReport(
        dataset=str(path),
        total=len(cases),
        correct=correct,
        accuracy=rounded(correct / len(cases)),
        by_kind={k: (kinds_ok[k], kinds[k]) for k in sorted(kinds)},
        by_source={s: (sources_ok[s], sources[s]) for s in sorted(sources)},
        failures=failures,
        problems=problems,
    )


def render(report: TimeReport, *, show_failures: int = 0) -> list[str]:
    lines = [
        f"time expressions: {report.dataset}",
        f"accuracy {report.accuracy:.1%} ({report.correct}/{report.total})",
    ]
    for title, table in (("by kind", report.by_kind), ("by source", report.by_source)):
        cells = ", ".join(f"{k} {ok}/{n}" for k, (ok, n) in table.items())
        lines.append(f"{title}: {cells}")
    if show_failures:
        lines.append(
            f"first {min(show_failures, len(report.failures))} of {len(report.failures)} failures:"
        )
        for f in report.failures[:show_failures]:
            lines.append(f"  line {f.line}: {f.text!r}: expected {f.expected}, got {f.got}")
    lines.extend(f"problem {p.describe()}" for p in report.problems)
    return lines


# --- converting the dev corpora --------------------------------------------------------------

_DIRECTION: Final = re.compile(
    r"\b(?:ago|in|from now|later|before|after|hence|now|yesterday|tomorrow|today|last|next|"
    r"back|earlier|this)\b|^\s*[-+]"
)
_CTPARSE_TIME: Final = re.compile(
    r"^Time\[\]\{(?P<y>\d{4}|X)-(?P<m>\d{2}|X)-(?P<d>\d{2}|X) (?P<H>\d{2}|X):(?P<M>\d{2}|X) "
)
_CTPARSE_DURATION: Final = re.compile(r"^Duration\[\]\{(?P<n>\d+) (?P<unit>[a-z]+)\}$")


def convert_corpora(folder: Path) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Cases in this module's format from `time_expressions/` of the dev corpora, and counts
    of what was left out and why.

    - dateparser_relative_en.jsonl ("relation" ago / in_future, "delta"): text without a
      direction word ("2 min", "1 decade") is a duration: `expected_duration` = delta; other
      text is a moment: `expected_time` = reference -/+ delta (months first, then the rest, as
      dateutil's relativedelta does), to the minute when the delta has hours, minutes or
      seconds, else to the day. Fractional years or months are left out.
    - ctparse_time_corpus.jsonl: English or language-neutral rows only. `Time` with a full date
      and time -> minute; full date without time -> day (parts of day are not checked); year and
      month -> month; year -> year; time without date -> clock time; `Duration` -> duration.
      Intervals and other partial dates are left out.
    """
    cases: list[dict[str, Any]] = []
    left_out: Counter[str] = Counter()
    dateparser = folder / "dateparser_relative_en.jsonl"
    ctparse = folder / "ctparse_time_corpus.jsonl"
    for path in (dateparser, ctparse):
        if not path.is_file():
            raise EvalError(f"{path} not found: give the time_expressions folder of the corpora.")
    for line, row in read_jsonl(dateparser):
        case = _from_dateparser(row) if isinstance(row, dict) else "not JSON"
        if isinstance(case, str):
            left_out[f"dateparser: {case}"] += 1
            _LOGGER.debug("dateparser line %d left out: %s", line, case)
        else:
            cases.append(case)
    for _line, row in read_jsonl(ctparse):
        if not isinstance(row, dict):
            left_out["ctparse: not JSON"] += 1
        elif row.get("lang_guess") != "en_or_neutral":
            left_out["ctparse: not English"] += 1
        elif (converted := _from_ctparse(row)) is None:
            left_out[f"ctparse: {str(row.get('expected', '')).split('{', 1)[0]} form"] += 1
        else:
            cases.append(converted)
    return cases, left_out


def _from_dateparser(row: dict[str, Any]) -> dict[str, Any] | str:
    """A case, or why the row is left out."""
    text, delta = str(row.get("text", "")), row.get("delta")
    if not text or not isinstance(delta, dict) or row.get("relation") not in ("ago", "in_future"):
        return "no text, delta or relation"
    now = datetime.fromisoformat(str(row["reference_time"]).replace("Z", "+00:00"))
    base = {"text": text, "reference_time": now.isoformat()}
    source = {"source": str(row.get("source", ""))}
    if not any(delta.values()):
        return "zero delta"  # "till date": no span to check
    if not _DIRECTION.search(text.lower()):
        return {**base, "expected_duration": delta, **source}
    months = delta.get("years", 0) * 12 + delta.get("months", 0)
    if months != int(months):
        return "fractional months"
    sign = -1 if row["relation"] == "ago" else 1
    when = _add_months(now, sign * int(months))
    rest = sum(delta.get(unit, 0) * factor for unit, factor in _UNIT_SECONDS.items())
    when += timedelta(seconds=sign * rest)
    fine = any(delta.get(unit) for unit in ("hours", "minutes", "seconds"))
    expected_time = _write(when, "minute" if fine else "day")
    return {**base, "expected_time": expected_time, **source}


def _add_months(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    month += 1
    for day in range(moment.day, 27, -1):  # clamp to the month's last day
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def _from_ctparse(row: dict[str, Any]) -> dict[str, Any] | None:
    expected_form = str(row.get("expected", ""))
    base = {"text": str(row.get("text", "")), "reference_time": str(row["reference_time"])}
    source = {"source": str(row.get("source", ""))}
    m = _CTPARSE_DURATION.match(expected_form)
    if m:
        unit = {"nights": "days", "night": "days"}.get(m["unit"], m["unit"])
        unit = unit if unit.endswith("s") else unit + "s"
        if unit not in _UNITS:
            return None
        return {**base, "expected_duration": {unit: int(m["n"])}, **source}
    t = _CTPARSE_TIME.match(expected_form)
    if t is None:
        return None
    y, mo, d, hh, mm = (t[k] for k in ("y", "m", "d", "H", "M"))
    has_time = "X" not in (hh, mm)
    if "X" not in (y, mo, d):
        expected_time = f"{y}-{mo}-{d}" + (f"T{hh}:{mm}" if has_time else "")
    elif (y, mo, d) == ("X", "X", "X") and has_time:
        expected_time = f"{hh}:{mm}"
    elif "X" not in (y, mo) and d == "X" and not has_time:
        expected_time = f"{y}-{mo}"
    elif y != "X" and (mo, d) == ("X", "X") and not has_time:
        expected_time = y
    else:
        return None
    return {**base, "expected_time": expected_time, **source}


def write_cases(cases: Iterable[dict[str, Any]], path: Path) -> int:
    lines = [json.dumps(case, ensure_ascii=False) for case in cases]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)
