"""`reminders list` and `cancel` as a new user reads them (issue 13): local time with its zone,
repeats in words, failed jobs with the reason; and one summary for jobs missed while off."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant import cli
from assistant.store import Store
from skills.sdk import JobSpec
from tests.unit.test_skills_remind import Harness

CREATED = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    monkeypatch.setenv("TZ", "Europe/Berlin")
    return Store.open(tmp_path / "data")


def listing(capsys: pytest.CaptureFixture[str], *options: str) -> list[str]:
    assert cli.main(["reminders", "list", *options]) == 0
    return capsys.readouterr().out.splitlines()


def test_times_are_local_with_their_zone(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """A job stored in UTC (a machine whose zone has no name) is listed in local time."""
    store.add_job(JobSpec(kind="reminder", due=datetime(2024, 3, 6, 13, 30, tzinfo=UTC),
                          text="call mom"), CREATED)  # fmt: skip
    (line,) = listing(capsys)
    assert "Wed 2024-03-06 14:30 CET" in line and "call mom" in line
    assert "UTC" not in line


def test_repeats_are_in_words(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    rule = "weekly;at=08:00;days=0,1,2,3,4"
    store.add_job(JobSpec(kind="alarm", due=datetime(2024, 3, 7, 7, 0, tzinfo=UTC),
                          recurrence=rule), CREATED)  # fmt: skip
    (line,) = listing(capsys)
    assert line.endswith("CET  every weekday at 8 am") and rule not in line
    (row,) = [json.loads(x) for x in listing(capsys, "--json")]
    assert row["recurrence"] == rule and row["repeats"] == "every weekday at 8 am"


def test_failed_jobs_are_listed_with_the_reason_and_can_be_removed(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    good = store.add_job(JobSpec(kind="timer", due=CREATED + timedelta(hours=1)), CREATED)
    bad = store.add_job(JobSpec(kind="reminder", due=CREATED + timedelta(hours=2), text="water",
                                recurrence="daily;at=08:00"), CREATED)  # fmt: skip
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("UPDATE jobs SET recurrence='fortnightly;at=08:00' WHERE id=?", (bad.id,))
    conn.close()

    lines = listing(capsys)
    assert lines[0].startswith(f"#{good.id} ")
    assert "failed" in lines[1] and "reminders cancel" in lines[1]
    assert lines[2].startswith(f"#{bad.id} ") and "water" in lines[2]
    assert "'fortnightly;at=08:00' is not understood" in lines[2]
    rows = [json.loads(x) for x in listing(capsys, "--json")]
    assert [(r["id"], r["state"]) for r in rows] == [(good.id, "pending"), (bad.id, "failed")]
    assert "fortnightly" in rows[1]["error"]

    assert cli.main(["reminders", "cancel", str(bad.id)]) == 0
    assert capsys.readouterr().out.strip() == f"cancelled reminder #{bad.id}: water"
    assert len(listing(capsys)) == 1
    assert cli.main(["reminders", "cancel", str(bad.id)]) == 1


def test_cancel_a_pending_one(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    job = store.add_job(JobSpec(kind="timer", due=CREATED, label="tea"), CREATED)
    assert cli.main(["reminders", "cancel", str(job.id)]) == 0
    assert capsys.readouterr().out.strip() == f"cancelled timer #{job.id}: tea"
    assert listing(capsys) == ["no pending reminders, alarms or timers"]
    assert cli.main(["reminders", "cancel", "99"]) == 1


async def test_six_timers_missed_while_off_are_one_announcement(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    for minutes in range(1, 7):
        h.host.scheduler.add(JobSpec(kind="timer", due=h.clock.now() + timedelta(minutes=minutes)))
    h.host.scheduler.add(JobSpec(kind="reminder", due=h.clock.now() + timedelta(minutes=30),
                                 text="call mom"))  # fmt: skip
    h.clock.advance(timedelta(hours=1))
    await h.host.start()
    await h.host.close()
    assert h.said == ["While I was off: 6 timers finished; a reminder at 2:50 pm: call mom."]
    assert len(h.events) == 1 and h.events[0].missed


async def test_one_missed_timer_is_said_as_before(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.host.scheduler.add(JobSpec(kind="timer", due=h.clock.now() + timedelta(minutes=1),
                                 label="pasta"))  # fmt: skip
    h.clock.advance(timedelta(hours=1))
    await h.host.start()
    await h.host.close()
    assert h.said == ["While I was off, your pasta timer finished at 2:21 pm."]
