"""Fires reminders, alarms and timers on time, from the database, across restarts.

The store is the only state: the scheduler keeps nothing in memory that a crash could lose.
`start()` first announces, once, every job that fell due while the assistant was off (the state is
committed before the announcement, so a crash mid-sentence cannot repeat it), then the loop wakes at
the next due time, at the latest every `poll_s` seconds (so a changed wall clock or a suspended
laptop is noticed within a second), and whenever a job is added or changed.

Recurring jobs roll forward in their own zone's wall-clock time (see `skills.sdk.timeexpr`), so
"every day at 8" stays at 8:00 across daylight-saving changes; occurrences missed while off are
announced once, not once per occurrence, and several jobs missed at once are announced together in
one summary (`announce_missed`).

A job the scheduler cannot handle (a repeat rule it does not understand, a row it cannot read) is
marked failed, logged and skipped: it never blocks the jobs after it, nor the start. Several
processes may run a scheduler on one database: each due job is claimed in one transaction
(`Store.claim`), so exactly one of them announces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from assistant.store import Store, StoreError
from skills.sdk import Job, JobKind, JobSpec
from skills.sdk.timeexpr import Recurrence

_LOGGER = logging.getLogger(__name__)


class Clock(Protocol):
    """Wall-clock time (aware) and a way to wait; tests inject a fake that never sleeps."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock, in the machine's local zone."""

    def __init__(self) -> None:
        self._zone = local_zone()

    def now(self) -> datetime:
        return datetime.now(self._zone)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def local_zone() -> tzinfo:
    """The machine's zone as a ZoneInfo when it can be named (so DST rules travel with jobs)."""
    import os
    from pathlib import Path
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        link = Path("/etc/localtime")
        if link.is_symlink():
            name = str(link.resolve()).split("zoneinfo/", 1)[-1]
        elif Path("/etc/timezone").is_file():
            name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
    if name:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(name)
    return datetime.now().astimezone().tzinfo or UTC


@dataclass(frozen=True, slots=True)
class Due:
    """A job that fell due: `missed` when it fell due while the assistant was off."""

    job: Job
    missed: bool


Announce = Callable[[Due], Awaitable[None]]
AnnounceMissed = Callable[[list[Due]], Awaitable[None]]


def problem(job: Job) -> str | None:
    """Why the scheduler cannot handle `job`, or None if it can."""
    if not job.recurrence:
        return None
    try:
        rule = Recurrence.from_rule(job.recurrence)
        rule.next_after(job.due)
        rule.describe()
    except Exception as err:  # whatever a stored rule does wrong, it must not stop the others
        return _bad_rule(job, err)
    return None


def _bad_rule(job: Job, err: Exception) -> str:
    return f"its repeat rule {job.recurrence!r} is not understood ({err})"


def next_occurrence(recurrence: str, due: datetime, now: datetime) -> datetime:
    """The first occurrence after `now` of a job repeating by `recurrence` from `due`:
    occurrences missed while the assistant was off are skipped, not caught up one by one."""
    rule = Recurrence.from_rule(recurrence)
    if rule.freq != "interval":  # wall-clock rules: the next one after now, in the job's zone
        return rule.next_after(max(now, due).astimezone(due.tzinfo))
    step = timedelta(seconds=max(rule.seconds, 1))
    # Jump close to now: "every second" missed for a year would be 31 million steps.
    nxt = due + step * max(1, (now - due) // step)
    while nxt <= now:
        nxt = rule.next_after(nxt)
    return nxt


def sweep(store: Store) -> list[int]:
    """Mark failed every pending job the scheduler cannot handle; their ids. (Rows that cannot
    even be read are marked by the store as it reads them.)"""
    failed = []
    for job in store.jobs(state="pending"):
        reason = problem(job)
        if reason is not None and store.fail(job.id, reason):
            failed.append(job.id)
    return failed


class Scheduler:
    """`skills.sdk.Jobs` backed by the store, plus the loop that fires due jobs."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        announce: Announce,
        *,
        announce_missed: AnnounceMissed | None = None,
        poll_s: float = 1.0,
        late_after: timedelta = timedelta(minutes=2),
    ) -> None:
        self._store = store
        self._clock = clock
        self._announce = announce
        self._announce_missed = announce_missed
        self._poll_s = poll_s
        self._late_after = late_after
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._trouble = ""  # the last error logged by the loop, so a lasting one is logged once

    # --- skills.sdk.Jobs ----------------------------------------------------------------------

    def add(self, spec: JobSpec) -> Job:
        job = self._store.add_job(spec, self._clock.now())
        _LOGGER.info("scheduled %s #%d at %s", job.kind, job.id, job.due.isoformat())
        self._changed.set()
        return job

    def pending(self, kind: JobKind | None = None) -> list[Job]:
        return self._store.jobs(state="pending", kind=kind)

    def cancel(self, job_id: int) -> Job | None:
        job = self._store.job(job_id)
        if job is None or job.state == "cancelled":
            return None
        self._changed.set()
        return self._store.set_state(job_id, "cancelled")

    def reschedule(self, job_id: int, due: datetime) -> Job | None:
        if self._store.job(job_id) is None:
            return None
        self._changed.set()
        return self._store.set_due(job_id, due)

    def last_fired(self) -> Job | None:
        return self._store.last_fired()

    # --- running ------------------------------------------------------------------------------

    async def start(self) -> list[Due]:
        """Set aside the jobs it cannot handle, announce what was missed while off, then fire
        due jobs in the background. A database error here is logged: the loop tries again."""
        missed: list[Due] = []
        try:
            sweep(self._store)
            missed = await self.tick(missed=True)
        except StoreError as err:
            self._log_trouble(err)
        self._task = asyncio.create_task(self._run(), name="scheduler")
        return missed

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def tick(self, *, missed: bool = False) -> list[Due]:
        """Fire every job due now. Each is claimed (committed as fired) before it is announced;
        one that another process claimed first is left to it."""
        now = self._clock.now()
        due = self._store.due_jobs(now)
        late = {j.id for j in due if missed or now - j.due > self._late_after}
        fired: list[Due] = []
        if len(late) > 1 and self._announce_missed is not None:
            together = [Due(j, True) for j in due if j.id in late and self._claim(j, now)]
            fired += together
            if len(together) > 1:
                await self._say(self._announce_missed(together), together[0].job)
            elif together:
                await self._say(self._announce(together[0]), together[0].job)
            due = [j for j in due if j.id not in late]
        for job in due:  # claimed one at a time: a crash mid-announcement loses at most one
            if self._claim(job, now):
                fired.append(Due(job, job.id in late))
                await self._say(self._announce(fired[-1]), job)
        return fired

    def _claim(self, job: Job, now: datetime) -> bool:
        try:
            nxt = next_occurrence(job.recurrence, job.due, now) if job.recurrence else None
        except Exception as err:  # one job the scheduler cannot handle must not block the others
            self._store.fail(job.id, _bad_rule(job, err))
            return False
        return self._store.claim(job, now, nxt)

    async def _say(self, announcement: Awaitable[None], job: Job) -> None:
        try:
            await announcement
        except Exception:
            _LOGGER.exception("announcing %s #%d failed", job.kind, job.id)

    async def _run(self) -> None:
        while True:
            delay = self._poll_s
            try:
                await self.tick()
                nxt = self._store.next_due()
                if nxt is not None:
                    delay = max(0.0, min(delay, (nxt - self._clock.now()).total_seconds()))
                self._trouble = ""
            except Exception as err:  # the database may come back (unlocked): keep trying
                self._log_trouble(err)
            self._changed.clear()
            sleeper = asyncio.create_task(self._clock.sleep(delay), name="scheduler-sleep")
            waker = asyncio.create_task(self._changed.wait(), name="scheduler-wake")
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()

    def _log_trouble(self, err: Exception) -> None:
        if str(err) == self._trouble:
            return
        self._trouble = str(err)
        if isinstance(err, StoreError):
            _LOGGER.error("reminders are on hold: %s (trying again every second)", err.message)
        else:
            _LOGGER.exception("scheduler tick failed; retrying")
