"""Skill "remind": reminders, alarms and timers, kept by the scheduler so restarts lose nothing.

Every job is committed (`ctx.jobs.add` returns only after the database has it) before the skill
says "OK". A time that cannot be understood, or that has passed, turns into a follow-up question.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from skills.sdk import (
    BaseSkill,
    Intent,
    Job,
    JobKind,
    JobSpec,
    SkillContext,
    sentence_files,
    timeexpr,
)

_LOGGER = logging.getLogger(__name__)

SNOOZE_DEFAULT: Final = timedelta(minutes=9)
# A timer that went off this recently is the one "stop the timer" means.
_JUST_RANG: Final = timedelta(minutes=2)
_MAX_LISTED: Final = 5
_YES: Final = re.compile(r"\b(yes|yeah|yep|sure|ok|okay|do it|please|correct|confirm)\b")


def announcement(job: Job, now: datetime, *, missed: bool) -> str:
    """What the assistant says when a job falls due (or was missed while it was off)."""
    what = job.text or job.label
    if missed:
        at = timeexpr.say_when(job.due, now)
        if job.kind == "timer":
            return f"While I was off, your {_timer_name(job)} finished {at}."
        noun = "an alarm" if job.kind == "alarm" else "a reminder"
        return f"While I was off, you had {noun} {at}" + (f": {what}." if what else ".")
    if job.kind == "timer":
        return f"Your {_timer_name(job)} is done."
    if job.kind == "alarm":
        return f"It's {timeexpr.say_time(now)}. " + (
            f"Alarm: {what}." if what else "Time to wake up."
        )
    return f"Reminder: {what}." if what else "Here is your reminder."


def missed_summary(jobs: Sequence[Job], now: datetime) -> str:
    """One announcement for several jobs that fell due while the assistant was off: timers
    counted, reminders and alarms each with their time and text (the first few)."""
    timers = [j for j in jobs if j.kind == "timer"]
    others = [j for j in jobs if j.kind != "timer"]
    parts = []
    if len(timers) == 1:
        parts.append(f"your {_timer_name(timers[0])} finished")
    elif timers:
        parts.append(f"{len(timers)} timers finished")
    for job in others[:_MAX_LISTED]:
        what = job.text or job.label
        noun = "an alarm" if job.kind == "alarm" else "a reminder"
        parts.append(f"{noun} {timeexpr.say_when(job.due, now)}" + (f": {what}" if what else ""))
    if len(others) > _MAX_LISTED:
        parts.append(f"and {len(others) - _MAX_LISTED} more")
    return "While I was off: " + "; ".join(parts) + "."


def _timer_name(job: Job) -> str:
    return f"{job.label} timer" if job.label else "timer"


def _describe(job: Job, now: datetime) -> str:
    if job.recurrence:
        when = timeexpr.Recurrence.from_rule(job.recurrence).describe()
    else:
        when = timeexpr.say_when(job.due, now)
    if job.kind == "alarm":
        return f"an alarm {when}" + (f" for {job.label}" if job.label else "")
    return f"{job.text or 'a reminder'} {when}"


class RemindSkill(BaseSkill):
    name = "remind"
    intents = frozenset(
        {"reminder.create", "reminder.list", "reminder.cancel", "alarm.set", "timer.start",
         "timer.status", "timer.cancel"}
    )  # fmt: skip
    sentences = sentence_files(__package__, "remind.yaml")

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        match intent.name:
            case "reminder.create":
                await self._create(intent, ctx, "reminder")
            case "alarm.set":
                if intent.slots.get("snooze"):
                    await self._snooze(intent, ctx)
                else:
                    await self._create(intent, ctx, "alarm")
            case "timer.start":
                await self._timer(intent, ctx)
            case "timer.status":
                await self._timer_status(intent, ctx)
            case "timer.cancel":
                await self._timer_cancel(intent, ctx)
            case "reminder.list":
                await self._list(ctx, alarms_only=intent.slots.get("kind") == "alarm")
            case "reminder.cancel":
                await self._cancel(intent, ctx)
            case _:
                _LOGGER.warning("remind skill got unexpected intent %s", intent.name)

    # --- reminders and alarms ---------------------------------------------------------------

    async def _create(self, intent: Intent, ctx: SkillContext, kind: JobKind) -> None:
        text = str(intent.slots.get("text") or "").strip()
        label = str(intent.slots.get("name") or "").strip()
        if kind == "reminder" and not text:
            answer = await ctx.ask("What should I remind you about?")
            if not answer:
                await ctx.say("OK, no reminder.")
                return
            text, span = timeexpr.split(answer)
            if span is not None and not intent.slots.get("when"):
                intent = Intent(intent.name, {**intent.slots, "when": span.text})
        expr = await self._resolve_when(str(intent.slots.get("when") or ""), ctx, kind)
        if expr is None or expr.when is None:
            await ctx.say(f"OK, no {kind}.")
            return
        rule = expr.recurrence.to_rule() if expr.recurrence else None
        job = ctx.jobs.add(
            JobSpec(kind=kind, due=expr.when, text=text, label=label, recurrence=rule)
        )
        now = ctx.now()
        if kind == "alarm":
            await ctx.say(f"Alarm set {_when_phrase(job, now)}.")
        else:
            await ctx.say(f"OK, I'll remind you {_when_phrase(job, now)}: {text}.")
        await ctx.display(f"{kind} #{job.id} {timeexpr.say_when(job.due, now)} {text}".strip())

    async def _resolve_when(
        self, when: str, ctx: SkillContext, kind: JobKind
    ) -> timeexpr.TimeExpr | None:
        question = "When?" if kind == "reminder" else "For what time?"
        for _attempt in range(3):
            if not when:
                answer = await ctx.ask(question)
                if not answer:
                    return None
                when = answer
            # An alarm is for waking: "6 tomorrow" is 6 am, whatever words came with it.
            expr = timeexpr.parse(when, ctx.now(), waking=(kind == "alarm") or None)
            if expr is None or expr.when is None:
                question = "Sorry, I didn't understand the time. When?"
                when = ""
                continue
            if expr.when <= ctx.now():
                question = "That time has already passed. When should it be?"
                when = ""
                continue
            return expr
        return None

    async def _snooze(self, intent: Intent, ctx: SkillContext) -> None:
        job = ctx.jobs.last_fired()
        if job is None:
            await ctx.say("There's nothing to snooze.")
            return
        length = SNOOZE_DEFAULT
        if intent.slots.get("duration"):
            parsed = timeexpr.parse_duration(str(intent.slots["duration"]))
            if parsed is not None and parsed.total_seconds > 0:
                length = timedelta(seconds=parsed.total_seconds)
        ctx.jobs.reschedule(job.id, ctx.now() + length)
        await ctx.say(f"Snoozed for {timeexpr.say_duration(length.total_seconds())}.")

    async def _list(self, ctx: SkillContext, *, alarms_only: bool = False) -> None:
        """What is coming up; only the alarms when the question was about alarms ("is my
        alarm set?", "when do I wake up?")."""
        wanted = ("alarm",) if alarms_only else ("alarm", "reminder")
        jobs = [j for j in ctx.jobs.pending() if j.kind in wanted]
        now = ctx.now()
        if not jobs:
            await ctx.say(
                "You have no alarms set." if alarms_only else "You have no reminders or alarms."
            )
            return
        jobs.sort(key=lambda j: j.due)
        spoken = [_describe(j, now) for j in jobs[:_MAX_LISTED]]
        more = f", and {len(jobs) - _MAX_LISTED} more" if len(jobs) > _MAX_LISTED else ""
        if alarms_only:
            noun = "alarm" if len(jobs) == 1 else "alarms"
        else:
            noun = "thing" if len(jobs) == 1 else "things"
        await ctx.say(f"You have {len(jobs)} {noun}: " + "; ".join(spoken) + more + ".")
        await ctx.display("\n".join(f"#{j.id} {_describe(j, now)}" for j in jobs))

    async def _cancel(self, intent: Intent, ctx: SkillContext) -> None:
        slots = intent.slots
        kind = slots.get("kind")
        jobs = [j for j in ctx.jobs.pending() if j.kind != "timer" and kind in (None, j.kind)]
        if not jobs:
            await ctx.say("There's nothing to cancel.")
            return
        if slots.get("which") == "last":
            targets = [max(jobs, key=lambda j: (j.created, j.id))]
        elif slots.get("text"):
            targets = _matching(jobs, str(slots["text"]))
            if not targets and not slots.get("all"):
                await ctx.say(f"I couldn't find a reminder about {slots['text']}.")
                return
        elif slots.get("all") or len(jobs) == 1:
            targets = jobs
        else:
            answer = await ctx.ask(f"You have {len(jobs)}. Which one should I cancel?")
            targets = _matching(jobs, answer or "")
            if not targets:
                await ctx.say("OK, I'll keep them.")
                return
        if len(targets) > 1:
            answer = await ctx.ask(f"Cancel all {len(targets)}?")
            if not answer or not _YES.search(answer.lower()):
                await ctx.say("OK, I'll keep them.")
                return
        for job in targets:
            ctx.jobs.cancel(job.id)
        if len(targets) == 1:
            await ctx.say(f"Cancelled {_describe(targets[0], ctx.now())}.")
        else:
            await ctx.say(f"Cancelled {len(targets)}.")

    # --- timers -------------------------------------------------------------------------------

    async def _timer(self, intent: Intent, ctx: SkillContext) -> None:
        label = str(intent.slots.get("name") or "").strip()
        text = str(intent.slots.get("duration") or "")
        for _attempt in range(3):
            if not text:
                answer = await ctx.ask("For how long?")
                if not answer:
                    await ctx.say("OK, no timer.")
                    return
                text = answer
            duration = timeexpr.parse_duration(text)
            if duration is not None and duration.total_seconds > 0:
                break
            text = ""
        else:
            await ctx.say("Sorry, I couldn't understand how long. No timer set.")
            return
        seconds = duration.total_seconds
        ctx.jobs.add(JobSpec(kind="timer", due=ctx.now() + timedelta(seconds=seconds), label=label))
        name = f"{label.capitalize()} timer" if label else "Timer"
        await ctx.say(f"{name} set for {timeexpr.say_duration(seconds)}.")

    async def _timer_status(self, intent: Intent, ctx: SkillContext) -> None:
        timers = _timers(ctx, str(intent.slots.get("name") or ""))
        if not timers:
            await ctx.say("You have no timers running.")
            return
        now = ctx.now()
        parts = [
            f"your {_timer_name(t)} has "
            f"{timeexpr.say_duration(max(0.0, (t.due - now).total_seconds()))} left"
            for t in sorted(timers, key=lambda t: t.due)
        ]
        reply = "; ".join(parts)
        await ctx.say(reply[0].upper() + reply[1:] + ".")

    async def _timer_cancel(self, intent: Intent, ctx: SkillContext) -> None:
        timers = _timers(ctx, str(intent.slots.get("name") or ""))
        if not timers:
            last = ctx.jobs.last_fired()
            if (
                last is not None
                and last.kind == "timer"
                and timedelta(0) <= ctx.now() - last.due <= _JUST_RANG
            ):
                # "stop the timer" as it rings: the announcement is already cut off.
                await ctx.say("OK.")
                return
            await ctx.say("You have no timers running.")
            return
        for t in timers:
            ctx.jobs.cancel(t.id)
        if len(timers) == 1:
            await ctx.say(f"{_timer_name(timers[0]).capitalize()} cancelled.")
        else:
            await ctx.say(f"{len(timers)} timers cancelled.")


def _when_phrase(job: Job, now: datetime) -> str:
    if job.recurrence:
        return timeexpr.Recurrence.from_rule(job.recurrence).describe()
    return timeexpr.say_when(job.due, now)


def _timers(ctx: SkillContext, name: str) -> list[Job]:
    timers = ctx.jobs.pending("timer")
    name = re.sub(r"\b(the|my|all|timers?)\b", " ", name.lower()).strip()
    if name:
        named = [t for t in timers if name in t.label.lower()]
        return named
    return timers


def _matching(jobs: list[Job], words: str) -> list[Job]:
    wanted = set(re.findall(r"[a-z']{3,}", words.lower())) - {
        "the", "reminder", "reminders", "alarm", "alarms", "about", "for", "one", "that", "all",
        "my", "and",
    }  # fmt: skip
    if not wanted:
        return []
    return [
        j for j in jobs if wanted & set(re.findall(r"[a-z']{3,}", f"{j.text} {j.label}".lower()))
    ]
