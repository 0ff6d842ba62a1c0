"""`sottovoce eval asr|wake|intents|e2e|time` and `sottovoce report OUTDIR`.

Wire them in with `add_parsers(subparsers)`; each handler returns an exit status: 0 when the
set was scored (rows it could not score are listed, and make it 1 with `--strict`), 1 when
nothing could be scored.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from assistant.evaluate.data import EvalError, Problem
from assistant.progress import Steps
from models.catalog import ASR_ENGINES, DEFAULT_ASR_ENGINE, DEFAULT_WAKE_WORD, WAKE_WORD_MODELS

_LOGGER = logging.getLogger(__name__)


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate ASR, wake word, intents, spoken commands or time expressions",
        description="Score a data set in the formats of the shared corpora; --json for machines.",
    )
    sub = p.add_subparsers(title="evaluations", metavar="WHAT")
    p.set_defaults(handler=lambda _a: _help(p))

    a = sub.add_parser("asr", help="word error rate and real-time factor per engine")
    a.add_argument("set", type=Path, metavar="DIR", help="folder with transcripts.tsv (or a TSV)")
    _engine_args(a, default="all")
    a.add_argument("--threads", type=int, default=2, help="CPU threads per recognizer")
    _common(a)
    a.set_defaults(handler=cmd_asr)

    w = sub.add_parser("wake", help="false rejects, false accepts per hour, latency")
    w.add_argument(
        "set", type=Path, metavar="DIR", help="folder with labels.tsv (file, wake_words)"
    )
    w.add_argument(
        "--negatives",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="speech without the wake word: an ASR set or a folder of WAVs (repeatable)",
    )
    w.add_argument(
        "--model",
        action="append",
        metavar="NAME",
        help=f"wake-word model to score (repeatable; default all: {', '.join(WAKE_WORD_MODELS)})",
    )
    w.add_argument("--threshold", type=float, default=0.5)
    w.add_argument("--refractory", type=float, default=2.0, metavar="SECONDS")
    _common(w)
    w.set_defaults(handler=cmd_wake)

    i = sub.add_parser("intents", help="accuracy, per-intent P/R, confusions, latency")
    i.add_argument(
        "set",
        type=Path,
        metavar="FILE",
        help='JSONL rows of {"text", "intent"} or a TSV with those columns; SLURP and Fluent '
        "Speech Commands labels are mapped onto ours (assistant/evaluate/label_maps.py)",
    )
    i.add_argument("--misses", type=int, default=20, metavar="N", help="list the first N misses")
    i.add_argument(
        "--no-semantic",
        action="store_true",
        help="without the semantic fallback (as `[intent] semantic = false`)",
    )
    _common(i)
    i.set_defaults(handler=cmd_intents)

    e = sub.add_parser("e2e", help="spoken commands: wake word -> transcript -> intent")
    e.add_argument("set", type=Path, metavar="DIR", help="folder with labels.tsv")
    _engine_args(e, default=DEFAULT_ASR_ENGINE)
    e.add_argument(
        "--wake-model",
        default=DEFAULT_WAKE_WORD,
        help="listens to rows without a wake word, to count false triggers",
    )
    e.add_argument("--threshold", type=float, default=0.5, help="wake-word threshold")
    _common(e)
    e.set_defaults(handler=cmd_e2e)

    t = sub.add_parser("time", help="time-expression accuracy")
    t.add_argument(
        "set",
        type=Path,
        nargs="*",
        metavar="FILE.jsonl",
        help="cases to score (default: eval/time_expressions.jsonl and eval/time_spoken.jsonl)",
    )
    t.add_argument(
        "--convert",
        type=Path,
        metavar="DIR",
        help="instead: convert the corpora's time_expressions folder into the format",
    )
    t.add_argument("--output", type=Path, help="where --convert writes (default: stdout)")
    t.add_argument("--failures", type=int, default=20, metavar="N", help="list the first N")
    _common(t)
    t.set_defaults(handler=cmd_time)

    r = subparsers.add_parser(
        "report",
        help="run every evaluation and write Markdown, HTML and PNG plots",
        description="Run the evaluations on the dev corpora (or the sets given) and write "
        "report.md, report.html, results.json and PNG plots into OUTDIR.",
    )
    r.add_argument("outdir", type=Path, metavar="OUTDIR")
    r.add_argument("--corpora", type=Path, help="the shared corpora folder (default: found)")
    r.add_argument("--asr", type=Path, metavar="DIR", help="ASR set (default: corpora/asr_en)")
    r.add_argument("--wake", type=Path, metavar="DIR", help="wake set (corpora/wakeword)")
    r.add_argument(
        "--negatives", type=Path, action="append", metavar="DIR", help="(corpora/asr_en)"
    )
    r.add_argument("--intents", type=Path, metavar="FILE", help="(corpora/eval/slurp_devel.jsonl)")
    r.add_argument("--e2e", type=Path, metavar="DIR", help="(corpora/commands_audio)")
    r.add_argument("--time", type=Path, metavar="FILE", help="(eval/time_expressions.jsonl)")
    r.add_argument(
        "--bench",
        type=Path,
        action="append",
        default=[],
        metavar="FILE.json",
        help="JSON of a benchmark (e.g. `sottovoce bench pipeline --json`) to include",
    )
    _engine_args(r, default="all")
    r.set_defaults(handler=cmd_report)


def _engine_args(p: argparse.ArgumentParser, *, default: str) -> None:
    p.add_argument(
        "--engine",
        action="append",
        metavar="E",
        help=f"{', '.join(ASR_ENGINES)} or all (repeatable or comma-separated; default {default})",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="ENGINE=DIR",
        help="model folder for an engine, e.g. vosk=~/vosk-model-small-en-us-0.15",
    )
    p.add_argument("--language", default="en", help="language of the speech (default en)")
    p.set_defaults(engine_default=default)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--strict", action="store_true", help="exit 1 if any row could not be scored")


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def engines_of(args: argparse.Namespace) -> list[str]:
    given: list[str] = args.engine or [args.engine_default]
    return [name.strip() for value in given for name in value.split(",") if name.strip()]


def models_of(args: argparse.Namespace) -> dict[str, str]:
    models: dict[str, str] = {}
    for item in args.model:
        engine, sep, folder = item.partition("=")
        if not sep or not engine.strip() or not folder.strip():
            raise EvalError(f"--model {item!r}: write ENGINE=DIR, e.g. vosk=/models/vosk-en")
        models[engine.strip().lower()] = str(Path(folder.strip()).expanduser())
    return models


def _finish(
    args: argparse.Namespace, report: Any, lines: list[str], problems: Sequence[Problem]
) -> int:
    if args.json:
        print(json.dumps(asdict(report), ensure_ascii=False))  # one object, one line
    else:
        print("\n".join(lines))
    for problem in problems:
        _LOGGER.warning("not scored: %s", problem.describe())
    return 1 if args.strict and problems else 0


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except EvalError as err:
            print(f"sottovoce: {err.message}", file=sys.stderr)
            return 1

    return handler


@_guarded
def cmd_asr(args: argparse.Namespace) -> int:
    from assistant.evaluate import asr

    report = asr.evaluate(
        args.set,
        engines_of(args),
        models=models_of(args),
        language=args.language,
        threads=args.threads,
    )
    code = _finish(args, report, asr.render(report), report.problems)
    return code if report.engines else 1


@_guarded
def cmd_wake(args: argparse.Namespace) -> int:
    from assistant.evaluate import wake

    report = wake.evaluate(
        args.set,
        negatives=args.negatives,
        models=args.model or WAKE_WORD_MODELS,
        threshold=args.threshold,
        refractory_s=args.refractory,
    )
    code = _finish(args, report, wake.render(report), report.problems)
    return code if report.models else 1


@_guarded
def cmd_intents(args: argparse.Namespace) -> int:
    from assistant.evaluate import intents

    recognizer = intents.default_recognizer(
        getattr(args, "config", None), semantic=False if args.no_semantic else None
    )
    report = intents.evaluate(args.set, recognizer)
    return _finish(args, report, intents.render(report, show_misses=args.misses), report.problems)


@_guarded
def cmd_e2e(args: argparse.Namespace) -> int:
    from assistant.evaluate import e2e

    report = e2e.evaluate(
        args.set,
        engines_of(args),
        models=models_of(args),
        language=args.language,
        wake_model=args.wake_model,
        threshold=args.threshold,
    )
    code = _finish(args, report, e2e.render(report), report.problems)
    return code if report.engines else 1


@_guarded
def cmd_time(args: argparse.Namespace) -> int:
    from assistant.evaluate import timeexpr

    if args.convert is not None:
        cases, left_out = timeexpr.convert_corpora(args.convert)
        if args.output is None:
            for case in cases:
                print(json.dumps(case, ensure_ascii=False))
        else:
            timeexpr.write_cases(cases, args.output)
        print(f"{len(cases)} cases; left out: {dict(left_out)}", file=sys.stderr)
        return 0
    sets = args.set or timeexpr.default_sets()
    if not sets:
        print("sottovoce eval time: give FILE.jsonl, or --convert DIR", file=sys.stderr)
        return 2
    code = 0
    for path in sets:
        report = timeexpr.evaluate(path)
        lines = timeexpr.render(report, show_failures=args.failures)
        code = max(code, _finish(args, report, lines, report.problems))
    return code


@_guarded
def cmd_report(args: argparse.Namespace) -> int:
    from assistant.evaluate import report

    chosen = {
        "asr": args.asr,
        "wake": args.wake,
        "intents": args.intents,
        "e2e": args.e2e,
        "time": args.time,
        "negatives": args.negatives,
    }
    sets = replace(
        report.default_sets(args.corpora), **{k: v for k, v in chosen.items() if v is not None}
    )
    steps = Steps(report.STEPS + 1)  # and writing the page
    results = report.run_all(
        sets,
        engines=engines_of(args),
        models=models_of(args),
        language=args.language,
        on_step=steps,
    )
    steps(f"writing the report and plots to {args.outdir}")
    written = report.write(args.outdir, results, benches=args.bench)
    steps.finish()
    for path in written:
        print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry: python -m assistant.evaluate.cli eval asr DIR."""
    parser = argparse.ArgumentParser(prog="sottovoce")
    parser.add_argument("-v", "--verbose", action="store_true")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
