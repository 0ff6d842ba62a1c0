"""`sottovoce report OUTDIR`: every evaluation on one machine, as Markdown, HTML and PNG plots.

The page is built once as a list of blocks (headings, paragraphs, tables, images) and written
both as Markdown and as HTML, so the two never disagree. `results.json` beside them holds every
figure. Plots need matplotlib (`pip install 'sottovoce[eval]'`); without it the pages say so.
"""

from __future__ import annotations

import html
import json
import logging
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from assistant.evaluate import asr, e2e, intents, timeexpr, wake
from assistant.evaluate.data import EvalError
from assistant.progress import Progress, quiet

_LOGGER = logging.getLogger(__name__)

_REPO: Final = Path(__file__).resolve().parents[2]
TIME_SET: Final = _REPO / "eval" / "time_expressions.jsonl"
REGENERATE: Final = "sottovoce report OUTDIR"

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Sets:
    """Where each evaluation reads its set; None skips it."""

    asr: Path | None = None
    wake: Path | None = None
    negatives: list[Path] = field(default_factory=list)
    intents: Path | None = None
    e2e: Path | None = None
    time: Path | None = None
    time_source: Path | None = None  # converted when `time` is missing


@dataclass(slots=True)
class Results:
    machine: str
    asr: asr.AsrReport | None = None
    wake: wake.WakeReport | None = None
    intents: intents.IntentReport | None = None
    e2e: e2e.E2eReport | None = None
    time: timeexpr.TimeReport | None = None
    errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def find_corpora() -> Path | None:
    for candidate in (
        os.environ.get("SOTTOVOCE_CORPORA"),
        _REPO.parent / "shared" / "corpora",
        Path.cwd().parent / "shared" / "corpora",
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def default_sets(corpora: Path | None = None) -> Sets:
    root = corpora or find_corpora()
    if root is None:
        return Sets(time=TIME_SET if TIME_SET.is_file() else None)
    return Sets(
        asr=root / "asr_en",
        wake=root / "wakeword",
        negatives=[root / "asr_en"],
        intents=root / "eval" / "slurp_devel.jsonl",
        e2e=root / "commands_audio",
        time=TIME_SET if TIME_SET.is_file() else None,
        time_source=root / "time_expressions",
    )


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count() or 0} CPUs, {platform.system()}, "
        f"Python {platform.python_version()}"
    )


STEP_LABELS: Final = {
    "asr": "speech recognition evaluation",
    "wake": "wake word evaluation",
    "intents": "intent evaluation",
    "e2e": "end-to-end evaluation (spoken commands through the pipeline)",
    "time": "time expression evaluation",
}
STEPS: Final = len(STEP_LABELS)


def run_all(
    sets: Sets,
    *,
    engines: Sequence[str] = (asr.ALL,),
    models: dict[str, str] | None = None,
    language: str = "en",
    on_step: Progress = quiet,
) -> Results:
    """Every evaluation; `on_step` hears each one's name as it starts (`STEPS` of them)."""
    results = Results(machine=machine())

    def attempt(name: str, path: Path | None, run: Callable[[Path], T]) -> T | None:
        on_step(STEP_LABELS[name])
        if path is None:
            results.errors[name] = "no set given"
            return None
        start = time.perf_counter()
        try:
            return run(path)
        except EvalError as err:
            results.errors[name] = err.message
            return None
        finally:
            results.seconds[name] = round(time.perf_counter() - start, 1)

    results.asr = attempt(
        "asr", sets.asr, lambda p: asr.evaluate(p, engines, models=models, language=language)
    )
    results.wake = attempt("wake", sets.wake, lambda p: wake.evaluate(p, negatives=sets.negatives))
    results.intents = attempt("intents", sets.intents, intents.evaluate)
    results.e2e = attempt(
        "e2e", sets.e2e, lambda p: e2e.evaluate(p, engines, models=models, language=language)
    )
    time_set = sets.time
    with tempfile.TemporaryDirectory() as scratch:
        if time_set is None and sets.time_source is not None and sets.time_source.is_dir():
            cases, _left_out = timeexpr.convert_corpora(sets.time_source)
            time_set = Path(scratch) / "time_expressions.jsonl"
            timeexpr.write_cases(cases, time_set)
        results.time = attempt("time", time_set, timeexpr.evaluate)
    return results


# --- the page --------------------------------------------------------------------------------

Block = tuple[str, Any]  # ("h2", text) | ("p", text) | ("table", (head, rows)) | ("img", file)


def _pct(value: float) -> str:
    return f"{value:.1%}"


def blocks(
    results: Results, plots: dict[str, str], benches: Sequence[tuple[str, Any]]
) -> list[Block]:
    out: list[Block] = [
        ("h1", "sottovoce evaluation report"),
        (
            "p",
            f"Machine: {results.machine}. Regenerate with `{REGENERATE}` (add `--bench FILE.json` "
            "for the figures of `sottovoce bench pipeline --json`). Scores are "
            "deterministic; real-time factors and latencies are timings of this run.",
        ),
    ]
    out += _headline(results)
    if results.asr is not None:
        out += _asr_blocks(results.asr, plots)
    if results.wake is not None:
        out += _wake_blocks(results.wake, plots)
    if results.intents is not None:
        out += _intent_blocks(results.intents, plots)
    if results.e2e is not None:
        out += _e2e_blocks(results.e2e)
    if results.time is not None:
        out += _time_blocks(results.time, plots)
    for name, data in benches:
        out += [("h2", f"Benchmark: {name}"), ("table", (["figure", "value"], _flatten(data)))]
    if results.errors:
        out += [
            ("h2", "Not evaluated"),
            ("table", (["evaluation", "why"], sorted(results.errors.items()))),
        ]
    if not plots:
        out.append(("p", "No plots: install matplotlib (`pip install 'sottovoce[eval]'`)."))
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in results.seconds.items())
    out.append(("p", f"Run time: {seconds}."))
    return out


def _headline(r: Results) -> list[Block]:
    rows: list[list[str]] = []
    if r.asr is not None:
        for s in r.asr.engines:
            rows.append(
                [
                    f"ASR WER, {s.engine}",
                    _pct(s.wer),
                    f"{s.reference_words} words; CPU {s.cpu_rtf:.2f} x real time",
                ]
            )
    if r.wake is not None:
        rows.append(
            [
                "wake false rejects",
                f"{r.wake.false_rejects}/{r.wake.positives}",
                f"threshold {r.wake.threshold}",
            ]
        )
        rows.append(
            [
                "wake false accepts per hour",
                f"{r.wake.false_accepts_per_hour:.1f}",
                f"{r.wake.false_accepts} in {r.wake.negative_hours * 60:.1f} model-minutes",
            ]
        )
    if r.intents is not None:
        i = r.intents
        rows.append(["intent accuracy", _pct(i.accuracy), f"{i.total} utterances"])
        rows.append(["out-of-scope fallback", _pct(i.fallback_rate), f"{i.out_of_scope} rows"])
        rows.append(["intent latency p95", f"{i.latency_ms_p95:.2f} ms", ""])
    if r.e2e is not None:
        for run in r.e2e.engines:
            rows.append(
                [
                    f"spoken commands, {run.engine}",
                    f"{run.exact_matches}/{run.transcripts} exact transcripts",
                    f"{run.intents_correct}/{run.intents_scored} intents in our label "
                    f"space, {run.foreign_labels} labels outside it",
                ]
            )
    if r.time is not None:
        rows.append(["time expressions", _pct(r.time.accuracy), f"{r.time.total} cases"])
    return [("h2", "Headline"), ("table", (["figure", "value", "on"], rows))]


def _asr_blocks(r: asr.AsrReport, plots: dict[str, str]) -> list[Block]:
    out: list[Block] = [
        ("h2", "Speech recognition"),
        ("p", f"Set `{r.dataset}`. Normalisation: {r.normalisation}."),
    ]
    rows = [
        [
            s.engine,
            _pct(s.wer),
            str(s.errors),
            str(s.reference_words),
            f"{s.substitutions}/{s.deletions}/{s.insertions}",
            f"{s.cpu_rtf:.3f}",
            f"{s.wall_rtf:.3f}",
            f"{s.load_s:.1f}",
        ]
        for s in r.engines
    ]
    out.append(
        (
            "table",
            (
                [
                    "engine",
                    "WER",
                    "errors",
                    "words",
                    "sub/del/ins",
                    "CPU RTF",
                    "wall RTF",
                    "load s",
                ],
                rows,
            ),
        )
    )
    if "asr" in plots:
        out.append(("img", plots["asr"]))
    files = [
        [s.engine, f.file, f"{f.errors}/{f.reference_words}", f.hypothesis, " ".join(f.edits)]
        for s in r.engines
        for f in s.files
    ]
    out.append(("table", (["engine", "file", "errors", "heard", "edits"], files)))
    out += [("p", f"Skipped {s.name}: {s.reason}") for s in r.skipped]
    return out + _problems(r.problems)


def _wake_blocks(r: wake.WakeReport, plots: dict[str, str]) -> list[Block]:
    negatives = f" + negatives {', '.join(f'`{n}`' for n in r.negatives)}" if r.negatives else ""
    rows = [
        [
            s.model,
            f"{s.false_rejects}/{s.positives}",
            str(s.false_accepts),
            f"{s.negative_s / 60:.2f}",
            f"{s.false_accepts_per_hour:.1f}",
            "-" if s.latency_ms_median is None else f"{s.latency_ms_median:.0f}",
            "-" if s.latency_ms_p95 is None else f"{s.latency_ms_p95:.0f}",
            f"{s.cpu_ms_per_second:.1f}",
        ]
        for s in r.models
    ]
    out: list[Block] = [
        ("h2", "Wake word"),
        (
            "p",
            f"Set `{r.dataset}`{negatives}; threshold {r.threshold}. With this little negative "
            "audio one false accept is a large rate: read FA/h together with the minutes.",
        ),
        (
            "table",
            (
                [
                    "model",
                    "false rejects",
                    "false accepts",
                    "negative min",
                    "FA/h",
                    "latency p50 ms",
                    "latency p95 ms",
                    "CPU ms per s",
                ],
                rows,
            ),
        ),
    ]
    if "wake" in plots:
        out.append(("img", plots["wake"]))
    out += [("p", f"Skipped {s.name}: {s.reason}") for s in r.skipped]
    return out + _problems(r.problems)


def _intent_blocks(r: intents.IntentReport, plots: dict[str, str]) -> list[Block]:
    rows = [
        [s.intent, f"{s.precision:.2f}", f"{s.recall:.2f}", str(s.support)] for s in r.per_intent
    ]
    out: list[Block] = [
        ("h2", "Intents"),
        (
            "p",
            f"Set `{r.dataset}`: accuracy {_pct(r.accuracy)} ({r.correct}/{r.total}), in "
            f"scope {_pct(r.in_scope_accuracy)}; out-of-scope rows that fell back to `answer`: "
            f"{_pct(r.fallback_rate)} of {r.out_of_scope}. Latency p50 "
            f"{r.latency_ms_p50:.2f} ms, p95 {r.latency_ms_p95:.2f} ms.",
        ),
        ("table", (["intent", "precision", "recall", "support"], rows)),
    ]
    out += [("img", plots[k]) for k in ("confusion", "intent_latency") if k in plots]
    misses = [[str(m.line), m.expected, m.got, m.text] for m in r.misses[:30]]
    out.append(("p", f"First {len(misses)} of {len(r.misses)} misses:"))
    out.append(("table", (["line", "expected", "got", "text"], misses)))
    return out + _problems(r.problems)


def _e2e_blocks(r: e2e.E2eReport) -> list[Block]:
    out: list[Block] = [
        ("h2", "Spoken commands end to end"),
        (
            "p",
            f"Set `{r.dataset}`, {r.rows} rows. Wake word detected on {r.wake_detected} of "
            f"{r.wake_rows} rows whose wake word a bundled model knows; {r.wake_without_model} "
            f"rows name one no bundled model knows; false triggers of {r.wake_model} on the "
            f"{r.rows_without_wake} rows without a wake word: {r.false_triggers}.",
        ),
    ]
    for run in r.engines:
        out.append(
            (
                "p",
                f"{run.engine}: {run.exact_matches}/{run.transcripts} exact transcripts "
                f"(WER {_pct(run.wer)}); intents {run.intents_correct}/"
                f"{run.intents_scored} in our label space; {run.foreign_labels} rows "
                f"carry a label outside it, {run.unlabelled} none.",
            )
        )
        rows = [
            [
                str(x.line),
                x.file,
                x.wake,
                x.transcript,
                x.expected_intent or "-",
                x.got_intent,
                x.intent,
            ]
            for x in run.rows
        ]
        out.append(("table", (["line", "file", "wake", "heard", "label", "got", "outcome"], rows)))
    out += [("p", f"Skipped {s.name}: {s.reason}") for s in r.skipped]
    return out + _problems(r.problems)


def _time_blocks(r: timeexpr.TimeReport, plots: dict[str, str]) -> list[Block]:
    rows = [[k, f"{ok}/{n}", _pct(ok / n if n else 0.0)] for k, (ok, n) in r.by_kind.items()]
    rows += [
        [f"source {k}", f"{ok}/{n}", _pct(ok / n if n else 0.0)]
        for k, (ok, n) in r.by_source.items()
    ]
    out: list[Block] = [
        ("h2", "Time expressions"),
        ("p", f"Set `{r.dataset}`: {_pct(r.accuracy)} ({r.correct}/{r.total})."),
        ("table", (["kind", "correct", "accuracy"], rows)),
    ]
    if "time" in plots:
        out.append(("img", plots["time"]))
    failures = [[str(f.line), f.text, f.expected, f.got] for f in r.failures[:30]]
    out.append(("p", f"First {len(failures)} of {len(r.failures)} failures:"))
    out.append(("table", (["line", "text", "expected", "got"], failures)))
    return out + _problems(r.problems)


def _problems(problems: Sequence[Any]) -> list[Block]:
    if not problems:
        return []
    return [("p", "Not scored: " + "; ".join(p.describe() for p in problems))]


def _flatten(data: Any, prefix: str = "") -> list[list[str]]:
    if isinstance(data, dict):
        rows: list[list[str]] = []
        for key, value in data.items():
            rows += _flatten(
                value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}"
            )
        return rows
    return [[prefix.rstrip("."), json.dumps(data) if not isinstance(data, str) else data]]


def to_markdown(page: Sequence[Block]) -> str:
    parts: list[str] = []
    for kind, body in page:
        if kind in ("h1", "h2"):
            parts.append(f"{'#' * int(kind[1])} {body}")
        elif kind == "p":
            parts.append(str(body))
        elif kind == "img":
            parts.append(f"![{body}]({body})")
        elif kind == "table":
            head, rows = body
            cell = _md_cell
            lines = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
            parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_html(page: Sequence[Block]) -> str:
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>sottovoce evaluation</title>',
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:"
        "collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
        "img{max-width:100%}</style></head><body>",
    ]
    for kind, body in page:
        if kind in ("h1", "h2"):
            parts.append(f"<{kind}>{esc(str(body))}</{kind}>")
        elif kind == "p":
            parts.append("<p>" + re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(str(body))) + "</p>")
        elif kind == "img":
            parts.append(f'<p><img src="{esc(str(body))}" alt="{esc(str(body))}"></p>')
        elif kind == "table":
            head, rows = body
            parts.append("<table><tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in head) + "</tr>")
            parts += [
                "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows
            ]
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write(outdir: Path, results: Results, *, benches: Sequence[Path] = ()) -> list[Path]:
    """results.json, report.md, report.html and the plots; the paths written."""
    outdir.mkdir(parents=True, exist_ok=True)
    loaded: list[tuple[str, Any]] = []
    for path in benches:
        try:
            loaded.append((path.stem, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as err:
            results.errors[f"bench {path}"] = f"cannot read: {err}"
    from assistant.evaluate import plots as plotting

    plots = plotting.draw(outdir, results) if plotting.available() else {}
    page = blocks(results, plots, loaded)
    written = [outdir / "results.json", outdir / "report.md", outdir / "report.html"]
    data = {**asdict(results), "benchmarks": dict(loaded)}
    written[0].write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    written[1].write_text(to_markdown(page), encoding="utf-8")
    written[2].write_text(to_html(page), encoding="utf-8")
    return written + [outdir / name for name in plots.values()]
