"""Scheduler and store: firing with an injected clock, restarts, missed jobs, bad databases."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assistant.scheduler import Due, Scheduler
from assistant.store import Store, StoreCorruptError, StoreLockedError
from skills.sdk import JobSpec
from tests.unit.fakes import FakeClock

BERLIN = ZoneInfo("Europe/Berlin")


class Recorder:
    def __init__(self) -> None:
        self.dues: list[Due] = []

    async def __call__(self, due: Due) -> None:
        self.dues.append(due)


def make(tmp_path: Path, clock: FakeClock) -> tuple[Scheduler, Recorder, Store]:
    store = Store.open(tmp_path)
    recorder = Recorder()
    return Scheduler(store, clock, recorder), recorder, store


async def test_fires_when_due_not_before(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 14, 0, tzinfo=BERLIN))
    scheduler, heard, _ = make(tmp_path, clock)
    job = scheduler.add(JobSpec(kind="reminder", due=clock.now() + timedelta(minutes=10), text="x"))
    clock.advance(timedelta(minutes=9, seconds=59))
    assert await scheduler.tick() == []
    clock.advance(timedelta(seconds=1))
    fired = await scheduler.tick()
    assert [d.job.id for d in fired] == [job.id] and not fired[0].missed
    assert await scheduler.tick() == []
    assert scheduler.pending() == []
    assert heard.dues == fired


async def test_background_loop_fires_within_a_second(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 14, 0, tzinfo=BERLIN))
    scheduler, heard, _ = make(tmp_path, clock)
    await scheduler.start()
    scheduler.add(JobSpec(kind="timer", due=clock.now() + timedelta(seconds=30)))
    for _ in range(31):
        clock.advance(timedelta(seconds=1))
        for _ in range(5):
            await asyncio.sleep(0)
    await scheduler.stop()
    assert len(heard.dues) == 1


async def test_restart_rearms_and_announces_missed_once(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 14, 0, tzinfo=BERLIN))
    scheduler, _, store = make(tmp_path, clock)
    early = scheduler.add(JobSpec(kind="reminder", due=clock.now() + timedelta(hours=1), text="a"))
    late = scheduler.add(JobSpec(kind="reminder", due=clock.now() + timedelta(hours=5), text="b"))
    store.close()

    clock.advance(timedelta(hours=2))  # the assistant was off
    scheduler, _, store = make(tmp_path, clock)
    missed = await scheduler.start()
    await scheduler.stop()
    assert [(d.job.id, d.missed) for d in missed] == [(early.id, True)]
    assert [j.id for j in scheduler.pending()] == [late.id]
    store.close()

    scheduler, _, store = make(tmp_path, clock)  # and restarted again
    assert await scheduler.start() == []
    await scheduler.stop()
    clock.advance(timedelta(hours=3))
    assert [(d.job.id, d.missed) for d in await scheduler.tick()] == [(late.id, False)]


async def test_recurrence_rolls_forward_across_dst(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 30, 7, 0, tzinfo=BERLIN))
    scheduler, _, _ = make(tmp_path, clock)
    job = scheduler.add(
        JobSpec(
            kind="alarm",
            due=datetime(2024, 3, 30, 8, 0, tzinfo=BERLIN),
            recurrence="daily;at=08:00",
        )
    )
    clock.advance(timedelta(hours=1))
    assert len(await scheduler.tick()) == 1
    (nxt,) = scheduler.pending()
    assert nxt.id == job.id
    assert nxt.due == datetime(2024, 3, 31, 8, 0, tzinfo=BERLIN)
    assert nxt.due.utcoffset() == timedelta(hours=2)


async def test_recurrence_missed_many_times_is_announced_once(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 7, 0, tzinfo=BERLIN))
    scheduler, _, _ = make(tmp_path, clock)
    scheduler.add(JobSpec(kind="alarm", due=clock.now() + timedelta(hours=1),
                          recurrence="daily;at=08:00"))  # fmt: skip
    clock.advance(timedelta(days=3))
    assert len(await scheduler.tick(missed=True)) == 1
    (nxt,) = scheduler.pending()
    assert nxt.due == datetime(2024, 3, 9, 8, 0, tzinfo=BERLIN)  # 7:00 + 3 days


def test_snooze_and_cancel(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 7, 0, tzinfo=BERLIN))
    scheduler, _, _ = make(tmp_path, clock)
    job = scheduler.add(JobSpec(kind="alarm", due=clock.now()))
    assert asyncio.run(scheduler.tick())
    assert scheduler.last_fired() is not None
    again = scheduler.reschedule(job.id, clock.now() + timedelta(minutes=9))
    assert again is not None and again.state == "pending"
    cancelled = scheduler.cancel(job.id)
    assert cancelled is not None and cancelled.state == "cancelled"
    assert scheduler.cancel(job.id) is None


def test_corrupt_database_is_named_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "sottovoce.db"
    garbage = b"this is not sqlite" * 100
    path.write_bytes(garbage)
    with pytest.raises(StoreCorruptError) as err:
        Store.open(tmp_path)
    assert str(path) in err.value.message
    assert path.read_bytes() == garbage


def test_locked_database_is_named(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    holder = sqlite3.connect(tmp_path / "sottovoce.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreLockedError) as err:
            Store.open(tmp_path, timeout_s=0.05)
        assert str(tmp_path / "sottovoce.db") in err.value.message
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_skill_storage_round_trip(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    kv = store.kv("remind")
    kv.set("last", {"id": 3})
    assert kv.get("last") == {"id": 3}
    assert kv.keys() == ["last"]
    kv.delete("last")
    assert kv.get("last", "none") == "none"


# --- jobs the scheduler cannot handle (issue 13, defect 5) ----------------------------------------


def _corrupt(store: Store, job_id: int, **columns: str) -> None:
    """Write a row as a hostile or broken tool might, behind the store's back."""
    conn = sqlite3.connect(store.path, isolation_level=None)
    for column, value in columns.items():
        conn.execute(f"UPDATE jobs SET {column}=? WHERE id=?", (value, job_id))
    conn.close()


async def test_an_unknown_repeat_rule_is_failed_and_blocks_nothing(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 7, 0, tzinfo=BERLIN))
    scheduler, heard, store = make(tmp_path, clock)
    bad = scheduler.add(JobSpec(kind="alarm", due=clock.now() + timedelta(hours=1),
                                recurrence="daily;at=08:00"))  # fmt: skip
    good = scheduler.add(JobSpec(kind="reminder", due=clock.now() + timedelta(hours=2), text="b"))
    _corrupt(store, bad.id, recurrence="fortnightly;at=08:00")

    clock.advance(timedelta(hours=3))  # both fall due while running: the bad one first
    fired = await scheduler.tick()
    assert [d.job.id for d in fired] == [good.id]
    assert heard.dues == fired
    (failed,) = store.failed_jobs()
    assert failed.id == bad.id and "fortnightly" in failed.error
    assert scheduler.pending() == []
    assert await scheduler.tick() == []  # skipped from now on


async def test_a_bad_job_due_at_start_does_not_stop_the_start(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 7, 0, tzinfo=BERLIN))
    scheduler, _, store = make(tmp_path, clock)
    bad = scheduler.add(JobSpec(kind="reminder", due=clock.now() + timedelta(hours=1), text="a",
                                recurrence="daily;at=08:00"))  # fmt: skip
    unreadable = scheduler.add(JobSpec(kind="timer", due=clock.now() + timedelta(minutes=5)))
    later = scheduler.add(JobSpec(kind="reminder", due=clock.now() + timedelta(days=1), text="c"))
    good = scheduler.add(JobSpec(kind="reminder", due=clock.now() + timedelta(hours=2), text="b"))
    _corrupt(store, bad.id, recurrence="weekly;at=99:00")
    _corrupt(store, unreadable.id, created_utc="2024-03-06T06:00:00.000000+00:0\x00")
    store.close()

    clock.advance(timedelta(hours=3))  # the assistant was off
    scheduler, _, store = make(tmp_path, clock)
    missed = await scheduler.start()
    await scheduler.stop()
    assert [d.job.id for d in missed] == [good.id]
    assert sorted(f.id for f in store.failed_jobs()) == [bad.id, unreadable.id]
    assert [j.id for j in scheduler.pending()] == [later.id]


async def test_a_rule_that_becomes_bad_while_pending_is_set_aside_at_start(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 7, 0, tzinfo=BERLIN))
    scheduler, _, store = make(tmp_path, clock)
    job = scheduler.add(JobSpec(kind="alarm", due=clock.now() + timedelta(days=2),
                                recurrence="weekly;at=08:00;days=0,1"))  # fmt: skip
    _corrupt(store, job.id, recurrence="weekly;at=08:00;days=9")  # never occurs
    await scheduler.start()
    await scheduler.stop()
    assert scheduler.pending() == []
    assert [f.id for f in store.failed_jobs()] == [job.id]


async def test_every_second_missed_for_years_catches_up_at_once(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 7, 0, tzinfo=BERLIN))
    scheduler, _, _ = make(tmp_path, clock)
    scheduler.add(
        JobSpec(kind="reminder", due=clock.now(), text="x", recurrence="interval;every=1")
    )
    clock.advance(timedelta(days=3 * 365))
    assert len(await scheduler.tick(missed=True)) == 1  # before: 94 million steps
    (nxt,) = scheduler.pending()
    assert clock.now() < nxt.due <= clock.now() + timedelta(seconds=1)


# --- two assistants on one data directory (issue 13, defect 7) ------------------------------------


async def test_two_schedulers_on_one_directory_announce_a_job_once(tmp_path: Path) -> None:
    """B reads the due job, A claims and announces it, then B goes on with what it read."""
    clock = FakeClock(datetime(2024, 3, 6, 7, 0, tzinfo=BERLIN))
    first, heard_first, store_first = make(tmp_path, clock)
    second, heard_second, store_second = make(tmp_path, clock)
    first.add(JobSpec(kind="reminder", due=clock.now() + timedelta(minutes=1), text="once"))
    recurring = first.add(JobSpec(kind="alarm", due=clock.now() + timedelta(minutes=1),
                                  recurrence="daily;at=07:01"))  # fmt: skip
    clock.advance(timedelta(minutes=1))
    read_by_second = store_second.due_jobs(clock.now())
    assert len(read_by_second) == 2
    await first.tick()
    store_second.due_jobs = lambda _now: read_by_second  # type: ignore[method-assign]
    await second.tick()
    assert len(heard_first.dues) == 2
    assert heard_second.dues == []
    (nxt,) = store_first.jobs()
    assert nxt.id == recurring.id and nxt.due == datetime(2024, 3, 7, 7, 1, tzinfo=BERLIN)


# --- several jobs missed at once: one summary ----------------------------------------------------


async def test_jobs_missed_together_are_announced_together(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 14, 0, tzinfo=BERLIN))
    summaries: list[list[Due]] = []

    async def summarize(dues: list[Due]) -> None:
        summaries.append(dues)

    store = Store.open(tmp_path)
    heard = Recorder()
    scheduler = Scheduler(store, clock, heard, announce_missed=summarize)
    timers = [
        scheduler.add(JobSpec(kind="timer", due=clock.now() + timedelta(minutes=m)))
        for m in range(1, 7)
    ]
    clock.advance(timedelta(hours=1))  # six timers finished while the assistant was off
    fired = await scheduler.start()
    await scheduler.stop()
    assert [d.job.id for d in fired] == [t.id for t in timers]
    assert summaries == [fired] and heard.dues == []

    # Running, after a suspend: the late ones together, the one due now on its own.
    late = [scheduler.add(JobSpec(kind="reminder", due=clock.now() + timedelta(minutes=m)))
            for m in (1, 2)]  # fmt: skip
    now = scheduler.add(JobSpec(kind="reminder", due=clock.now() + timedelta(minutes=10)))
    clock.advance(timedelta(minutes=10))
    await scheduler.tick()
    assert [d.job.id for d in summaries[1]] == [j.id for j in late]
    assert [(d.job.id, d.missed) for d in heard.dues] == [(now.id, False)]


async def test_one_missed_job_is_announced_as_before(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 3, 6, 14, 0, tzinfo=BERLIN))
    summaries: list[list[Due]] = []

    async def summarize(dues: list[Due]) -> None:
        summaries.append(dues)

    heard = Recorder()
    scheduler = Scheduler(Store.open(tmp_path), clock, heard, announce_missed=summarize)
    job = scheduler.add(JobSpec(kind="timer", due=clock.now() + timedelta(minutes=1)))
    clock.advance(timedelta(hours=1))
    await scheduler.start()
    await scheduler.stop()
    assert summaries == [] and [(d.job.id, d.missed) for d in heard.dues] == [(job.id, True)]
