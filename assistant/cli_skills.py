"""CLI commands for intents and reminders: `intent TEXT|- [--json]`, `intent --eval FILE`,
`reminders list [--json]`, `reminders cancel ID`.

Wire them in with `cli_skills.add_parsers(subparsers)`; each handler returns an exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from assistant import paths
from assistant.scheduler import local_zone, sweep
from assistant.store import FailedJob, Store, StoreError
from skills.intents import IntentRecognizer
from skills.sdk import Job
from skills.sdk.timeexpr import Recurrence


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intent = subparsers.add_parser("intent", help="recognize the intent of text")
    intent.add_argument("text", nargs="*", help="the utterance, or - to read one per line")
    intent.add_argument("--json", action="store_true", help="print JSON")
    intent.add_argument(
        "--eval", metavar="FILE", help="JSONL with text and intent: print accuracy per intent"
    )
    intent.add_argument(
        "--no-semantic",
        action="store_true",
        help="templates and keyword rules only, without the semantic fallback",
    )
    intent.set_defaults(handler=cmd_intent)

    reminders = subparsers.add_parser("reminders", help="stored reminders, alarms and timers")
    reminders.add_argument("--home", help="data dir (default: $SOTTOVOCE_HOME or user data dir)")
    sub = reminders.add_subparsers(dest="reminders_command", required=True)
    listing = sub.add_parser("list", help="pending reminders, alarms and timers")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_reminders_list)
    cancel = sub.add_parser("cancel", help="cancel one by its id")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(handler=cmd_reminders_cancel)


def load_recognizer(args: argparse.Namespace) -> IntentRecognizer:
    """The recognizer `run` uses (config's `[intent]`), unless --no-semantic."""
    from assistant.config import load_settings
    from assistant.engines import load_intents

    settings, _path = load_settings(getattr(args, "config", None))
    return load_intents(settings, semantic=False if args.no_semantic else None)


def _intent_json(recognizer: IntentRecognizer, text: str) -> dict[str, Any]:
    out = {"text": text, **recognizer.recognize(text).to_json()}
    closest = recognizer.closest(text)
    if closest is not None:  # what the semantic fallback saw, whether it decided or not
        out["semantic"] = {
            "intent": closest.intent,
            "score": round(closest.score, 4),
            "runner_up": closest.runner_up,
            "runner_up_score": round(closest.runner_up_score, 4),
            "example": closest.example,
            "accepted": closest.accepted,
        }
    return out


def cmd_intent(args: argparse.Namespace) -> int:
    recognizer = load_recognizer(args)
    if args.eval:
        return _evaluate(recognizer, Path(args.eval))
    words: list[str] = args.text
    if not words:
        print("intent: give TEXT, or - to read lines from stdin", file=sys.stderr)
        return 2
    if words == ["-"]:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(_intent_json(recognizer, line.strip())))
        return 0
    text = " ".join(words)
    if args.json:
        print(json.dumps(_intent_json(recognizer, text)))
    else:
        intent = recognizer.recognize(text)
        slots = " ".join(f"{k}={v!r}" for k, v in intent.slots.items())
        print(f"{intent.name} ({intent.source} {intent.confidence:.2f}) {slots}".rstrip())
    return 0


def _evaluate(recognizer: IntentRecognizer, path: Path) -> int:
    from assistant.evaluate import intents as intent_eval
    from assistant.evaluate.data import EvalError

    try:
        report = intent_eval.evaluate(path, recognizer)
    except EvalError as err:
        print(f"intent: {err.message}", file=sys.stderr)
        return 1
    print("\n".join(intent_eval.render(report)))
    return 0


def _open(args: argparse.Namespace) -> Store | None:
    try:
        return Store.open(paths.data_dir(getattr(args, "home", None)))
    except StoreError as err:
        _say_store_error(err)
        return None


def _say_store_error(err: StoreError) -> None:
    print(f"error [{err.code}]: {err.message}", file=sys.stderr)


def cmd_reminders_list(args: argparse.Namespace) -> int:
    """Pending jobs in local time, repeats in words, then the failed ones and why."""
    store = _open(args)
    if store is None:
        return 1
    try:
        sweep(store)  # a job `run` could not handle shows as failed here too
        jobs = store.jobs(state="pending")
        failed = store.failed_jobs()
    except StoreError as err:
        _say_store_error(err)
        return 1
    finally:
        store.close()
    zone = local_zone()
    if args.json:
        for job in jobs:
            print(json.dumps(_job_json(job)))
        for bad in failed:
            print(json.dumps(_failed_json(bad)))
        return 0
    if not jobs and not failed:
        print("no pending reminders, alarms or timers")
    for job in jobs:
        what = job.text or job.label
        if job.recurrence:
            repeat = _repeats(job.recurrence)
            what = f"{what}  ({repeat})" if what else repeat
        print(f"#{job.id:<4} {job.kind:<8} {_local(job.due, zone)}  {what}".rstrip())
    if failed:
        print("failed, so skipped (`sottovoce reminders cancel ID` removes one):")
    for bad in failed:
        when = _local(bad.due, zone) if bad.due else "unknown time"
        what = f"  {bad.text}" if bad.text else ""
        print(f"#{bad.id:<4} {bad.kind:<8} {when}{what}: {bad.error}")
    return 0


def _local(moment: datetime, zone: tzinfo) -> str:
    """ "Wed 2024-03-06 14:30 CET": the time speech would say, with its zone."""
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def _repeats(rule: str) -> str:
    """ "every weekday at 8 am" for `weekly;at=08:00;days=0,1,2,3,4`."""
    try:
        return Recurrence.from_rule(rule).describe()
    except Exception:  # a rule the scheduler will mark failed: show it as stored
        return f"repeats {rule!r}"


def cmd_reminders_cancel(args: argparse.Namespace) -> int:
    """Cancel a pending job, or remove a failed one."""
    store = _open(args)
    if store is None:
        return 1
    try:
        job = store.job(args.id)  # None for a row that cannot be read: it is failed now
        failed = {f.id: f for f in store.failed_jobs()}
        kind: str
        if job is not None and job.state == "pending":
            kind, what = job.kind, job.text or job.label
        elif args.id in failed:
            kind, what = failed[args.id].kind, failed[args.id].text
        else:
            print(f"no pending reminder #{args.id}", file=sys.stderr)
            return 1
        store.cancel(args.id)
    except StoreError as err:
        _say_store_error(err)
        return 1
    finally:
        store.close()
    print(f"cancelled {kind} #{args.id}" + (f": {what}" if what else ""))
    return 0


def _job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": "pending",
        "due": job.due.isoformat(),
        "text": job.text,
        "label": job.label,
        "recurrence": job.recurrence,
        "repeats": _repeats(job.recurrence) if job.recurrence else None,
        "created": job.created.isoformat(),
    }


def _failed_json(job: FailedJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": "failed",
        "due": job.due.isoformat() if job.due else None,
        "text": job.text,
        "recurrence": job.recurrence,
        "error": job.error,
    }


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry until the main CLI wires these in: python -m assistant.cli_skills."""
    parser = argparse.ArgumentParser(prog="sottovoce")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
