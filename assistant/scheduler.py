"""Fires reminders, alarms and timers on time, from the database, across restarts.

The store is the only state: the scheduler keeps nothing in memory that a crash could lose.
`start()` first announces, once, every job that fell due while the assistant was off (the state is
committed before the announcement, so a crash mid-sentence cannot repeat it), then the loop wakes at
the next due time, at the latest every `poll_s` seconds (so a changed wall clock or a suspended
laptop is noticed within a second), and whenever a job is added or changed.

Recurring jobs roll forward in their own zone's wall-clock time (see `skills.timeexpr`), so "every
day at 8" stays at 8:00 across daylight-saving changes; occurrences missed while off are announced
once, not once per occurrence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from assistant.store import Store
from skills.sdk import Job, JobKind, JobSpec
from skills.timeexpr import Recurrence

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


class Scheduler:
    """`skills.sdk.Jobs` backed by the store, plus the loop that fires due jobs."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        announce: Announce,
        *,
        poll_s: float = 1.0,
        late_after: timedelta = timedelta(minutes=2),
    ) -> None:
        self._store = store
        self._clock = clock
        self._announce = announce
        self._poll_s = poll_s
        self._late_after = late_after
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

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
        """Announce what was missed while off, then fire due jobs in the background."""
        missed = await self.tick(missed=True)
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
        """Fire every job due now. Each is committed as fired before it is announced."""
        now = self._clock.now()
        fired: list[Due] = []
        for job in self._store.due_jobs(now):
            was_missed = missed or now - job.due > self._late_after
            self._settle(job, now)
            due = Due(job, was_missed)
            fired.append(due)
            try:
                await self._announce(due)
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("announcing %s #%d failed", job.kind, job.id)
        return fired

    def _settle(self, job: Job, now: datetime) -> None:
        if not job.recurrence:
            self._store.set_state(job.id, "fired", fired=now)
            return
        rule = Recurrence.from_rule(job.recurrence)
        nxt = rule.next_after(job.due)
        while nxt <= now:
            nxt = rule.next_after(nxt)
        self._store.set_due(job.id, nxt, fired=now)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("scheduler tick failed; retrying")
            delay = self._poll_s
            nxt = self._store.next_due()
            if nxt is not None:
                delay = max(0.0, min(delay, (nxt - self._clock.now()).total_seconds()))
            self._changed.clear()
            sleeper = asyncio.create_task(self._clock.sleep(delay), name="scheduler-sleep")
            waker = asyncio.create_task(self._changed.wait(), name="scheduler-wake")
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()
