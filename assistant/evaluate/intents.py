"""`eval intents` (and `intent --eval`): the intent recognizer on labelled text.

A set is JSONL, one `{"text": ..., "intent": ...}` per line (or a TSV table with `text` and
`intent` columns), labels from the label space in ../shared/DESIGN.md (or an intent a loaded
sentence file defines). Sets labelled in another project's label space (SLURP, Fluent Speech
Commands) are mapped onto ours by `label_maps`, which documents every choice; rows whose label
has no counterpart there are counted as not scored. Rows labelled `answer` are out of scope:
the recognizer must fall back to the language model on them, never fire a skill. Rows with an
unknown label, no text, or broken JSON are reported with their line number and left out; the
rest is scored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from assistant.evaluate import label_maps
from assistant.evaluate.data import (
    EvalError,
    Problem,
    percentile,
    read_jsonl,
    read_table,
    rounded,
)
from skills.intents import ANSWER, IntentRecognizer

LABEL_SPACE: Final = frozenset(
    {"time.query", "reminder.create", "reminder.list", "reminder.cancel", "alarm.set",
     "timer.start", "timer.status", "timer.cancel", "podcast.play", "podcast.list",
     "media.pause", "media.resume", "media.next", "media.previous", "media.skip", "media.stop",
     "media.whats_playing", "volume.up", "volume.down", "volume.set", "volume.mute",
     "summarize", "stop", "help", ANSWER}
)  # fmt: skip
_WARM_UP_ROWS: Final = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentScore:
    intent: str
    precision: float
    recall: float
    support: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Miss:
    line: int
    text: str
    expected: str
    got: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentReport:
    dataset: str
    total: int
    correct: int
    accuracy: float
    per_intent: list[IntentScore]
    labels: list[str]  # rows and columns of `confusion`
    confusion: list[list[int]]  # [expected][got]
    out_of_scope: int
    fallback_rate: float  # share of out-of-scope rows that went to `answer`
    in_scope_accuracy: float
    latency_ms_p50: float
    latency_ms_p95: float
    latencies_ms: list[float]
    misses: list[Miss]
    problems: list[Problem] = field(default_factory=list)
    # Rows of a foreign label space mapped onto ours: how many, and how many per source label
    # were left out because that label has no counterpart here (see `label_maps`).
    mapped: int = 0
    not_scored: dict[str, int] = field(default_factory=dict)


def default_recognizer(
    config: Path | None = None, *, semantic: bool | None = None
) -> IntentRecognizer:
    """The recognizer `sottovoce run` uses: the config's `[intent]` section decides the
    semantic fallback (`semantic` overrides it)."""
    from assistant.config import load_settings
    from assistant.engines import load_intents

    settings, _path = load_settings(config)
    return load_intents(settings, semantic=semantic)


def known_labels(recognizer: IntentRecognizer) -> frozenset[str]:
    return LABEL_SPACE | recognizer.intent_names


def load_rows(
    path: Path, labels: frozenset[str]
) -> tuple[list[tuple[int, str, str]], list[Problem]]:
    """(line, text, intent) of every usable row, and a problem for every other one."""
    rows, problems, _mapped, _not_scored = load_set(path, labels)
    return rows, problems


def load_set(
    path: Path, labels: frozenset[str]
) -> tuple[list[tuple[int, str, str]], list[Problem], int, Counter[str]]:
    """`load_rows`, plus how many rows were mapped from a foreign label space and how many
    per source label were left out as having no counterpart in ours."""
    rows: list[tuple[int, str, str]] = []
    problems: list[Problem] = []
    mapped = 0
    not_scored: Counter[str] = Counter()
    for line, value in _read_rows(path):
        if isinstance(value, Problem):
            problems.append(value)
            continue
        text = value.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(Problem(path=str(path), line=line, message="no text"))
            continue
        foreign = label_maps.map_row(value, labels)
        if foreign is not None:
            mapped += 1
            if foreign.label is None:
                not_scored[foreign.source] += 1
            else:
                rows.append((line, text, foreign.label))
            continue
        intent = value.get("intent")
        if not isinstance(intent, str) or not intent.strip():
            problems.append(Problem(path=str(path), line=line, message="no intent label"))
        elif intent not in labels:
            problems.append(
                Problem(path=str(path), line=line, message=f"unknown intent label {intent!r}")
            )
        else:
            rows.append((line, text, intent))
    return rows, problems, mapped, not_scored


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any] | Problem]]:
    """Every row in line order: a JSONL object or TSV row as a dict, or why it is unusable."""
    if path.suffix.lower() in (".tsv", ".tab"):
        table, bad = read_table(path, required=["text", "intent"])
        found: list[tuple[int, dict[str, Any] | Problem]] = [
            (row.line, dict(row.fields)) for row in table
        ]
        found += [(p.line, p) for p in bad]
        return sorted(found, key=lambda item: item[0])
    return list(read_jsonl(path))


def evaluate(path: Path, recognizer: IntentRecognizer | None = None) -> IntentReport:
    recognizer = recognizer or default_recognizer()
    rows, problems, mapped, not_scored = load_set(path, known_labels(recognizer))
    if not rows:
        raise EvalError(
            f"{path}: no row could be scored"
            + (f" ({problems[0].describe()}, ...)" if problems else "")
        )
    for _line, text, _intent in rows[:_WARM_UP_ROWS]:
        recognizer.recognize(text)  # warm caches before timing
    result = recognizer.evaluate([{"text": text, "intent": intent} for _l, text, intent in rows])
    # `evaluate` lists mismatches in row order: line numbers follow from the texts.
    missed = iter(result.confusions)
    misses: list[Miss] = []
    upcoming = next(missed, None)
    for line, text, intent in rows:
        if upcoming is not None and upcoming[0] == text and upcoming[1] == intent:
            misses.append(Miss(line=line, text=text, expected=intent, got=upcoming[2]))
            upcoming = next(missed, None)
    support = Counter(intent for _l, _t, intent in rows)
    wrong = Counter((m.expected, m.got) for m in misses)
    labels = sorted(set(support) | {got for _e, got in wrong})
    confusion = [
        [
            support[e] - sum(n for (x, _g), n in wrong.items() if x == e) if e == g else wrong[e, g]
            for g in labels
        ]
        for e in labels
    ]
    oos = support[ANSWER]
    oos_ok = confusion[labels.index(ANSWER)][labels.index(ANSWER)] if oos else 0
    in_scope = result.total - oos
    latencies = [rounded(ms, 3) for ms in result.latencies_ms]
    return IntentReport(
        dataset=str(path),
        total=result.total,
        correct=result.correct,
        accuracy=rounded(result.accuracy),
        per_intent=[
            IntentScore(intent=name, precision=rounded(p), recall=rounded(r), support=n)
            for name, (p, r, n) in result.per_intent.items()
        ],
        labels=labels,
        confusion=confusion,
        out_of_scope=oos,
        fallback_rate=rounded(oos_ok / oos) if oos else 0.0,
        in_scope_accuracy=rounded((result.correct - oos_ok) / in_scope) if in_scope else 0.0,
        latency_ms_p50=rounded(percentile(latencies, 50), 3),
        latency_ms_p95=rounded(percentile(latencies, 95), 3),
        latencies_ms=latencies,
        misses=misses,
        problems=problems,
        mapped=mapped,
        not_scored=dict(sorted(not_scored.items())),
    )


def render(report: IntentReport, *, show_misses: int = 0) -> list[str]:
    lines = [
        f"{report.dataset}: {report.total} utterances",
        f"accuracy {report.accuracy:.1%} ({report.correct}/{report.total})  in scope "
        f"{report.in_scope_accuracy:.1%}  out-of-scope fallback to answer "
        f"{report.fallback_rate:.1%} of {report.out_of_scope}",
        f"latency p50 {report.latency_ms_p50:.2f} ms  p95 {report.latency_ms_p95:.2f} ms per "
        "utterance",
        f"{'intent':<22}{'precision':>10}{'recall':>8}{'support':>9}",
    ]
    if report.mapped:
        skipped = sum(report.not_scored.values())
        lines.insert(
            1,
            f"labels mapped onto ours: {report.mapped} rows, {skipped} of them not scored"
            + (
                " (" + ", ".join(f"{k} {n}" for k, n in report.not_scored.items()) + ")"
                if skipped
                else ""
            ),
        )
    for s in report.per_intent:
        lines.append(f"{s.intent:<22}{s.precision:>10.2f}{s.recall:>8.2f}{s.support:>9}")
    if show_misses:
        lines.append(
            f"first {min(show_misses, len(report.misses))} of {len(report.misses)} misses:"
        )
        for m in report.misses[:show_misses]:
            lines.append(f"  line {m.line}: {m.expected} -> {m.got}: {m.text!r}")
    lines.extend(f"problem {p.describe()}" for p in report.problems)
    return lines


def to_json(report: IntentReport) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(report)
