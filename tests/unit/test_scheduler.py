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

BERLIN = ZoneInfo("Europe/Berlin")


class FakeClock:
    """Time moves only when the test says so; `sleep` waits for `advance`."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta
        self._moved.set()

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + timedelta(seconds=seconds)
        while self._now < deadline:
            self._moved.clear()
            await self._moved.wait()


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
