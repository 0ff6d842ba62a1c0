"""Damaged databases (issue 13, defect 6): real SQLite files broken on purpose. Every case is a
clear error naming the file and the fix, the file is left as it was, and every command that
opens it (`run`, `reminders list`, `reminders cancel`, `podcasts ...`, `doctor`) says so and
exits 1."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assistant import cli, cli_skills, doctor
from assistant.podcasts.library import Library
from assistant.store import DB_NAME, Store, StoreCorruptError, StoreError, StoreLockedError
from skills.sdk import JobSpec

NOW = datetime(2024, 3, 6, 14, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def a_database(data: Path) -> Path:
    """A database with two reminders, closed (checkpointed: no -wal beside it)."""
    store = Store.open(data)
    store.add_job(JobSpec(kind="reminder", due=NOW + timedelta(hours=1), text="call mom"), NOW)
    store.add_job(JobSpec(kind="timer", due=NOW + timedelta(minutes=5), label="tea"), NOW)
    store.close()
    return data / DB_NAME


def cut_last_byte(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-1])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def drop_jobs(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE jobs")
    conn.close()


def newer_schema(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA user_version=7")
    conn.close()


def garbage(path: Path) -> None:
    path.write_bytes(b"this is not sqlite" * 500)


def overwritten_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # the second page: a table's b-tree
    path.write_bytes(bytes(data))


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "cut short": (cut_last_byte, "cut short"),
    "empty": (empty, "empty (0 bytes)"),
    "jobs table dropped": (drop_jobs, "lost its jobs table"),
    "newer schema": (newer_schema, "newer sottovoce"),
    "not a database": (garbage, "not an SQLite database"),
    "page overwritten": (overwritten_page, "malformed"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_damage_is_named_and_left_alone(tmp_path: Path, case: str) -> None:
    damage, words = DAMAGE[case]
    path = a_database(tmp_path)
    damage(path)
    before = path.read_bytes()
    with pytest.raises(StoreError) as err:
        Store.open(tmp_path)
    assert str(path) in err.value.message and words in err.value.message
    assert err.value.fix
    assert path.read_bytes() == before  # nothing recreated, nothing written
    with pytest.raises(StoreError):  # and it stays refused
        Store.open(tmp_path)


def test_damage_says_how_to_recover(tmp_path: Path) -> None:
    path = a_database(tmp_path)
    cut_last_byte(path)
    with pytest.raises(StoreCorruptError) as err:
        Store.open(tmp_path)
    assert "backup" in err.value.fix and f"{DB_NAME}-wal" in err.value.fix
    assert "aside" in err.value.fix


def test_a_database_gone_but_its_wal_left_is_not_started_afresh(tmp_path: Path) -> None:
    path = a_database(tmp_path)
    wal = path.with_name(f"{DB_NAME}-wal")
    wal.write_bytes(b"\x37\x7f\x06\x82" + b"\0" * 60)  # what a killed assistant leaves
    path.unlink()
    with pytest.raises(StoreCorruptError) as err:
        Store.open(tmp_path)
    assert f"{DB_NAME}-wal" in err.value.message
    assert not path.exists()


def test_a_new_database_is_made_when_there_is_none(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "new")
    assert store.jobs() == []
    store.close()
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [DB_NAME]


def test_a_database_the_podcast_library_made_first_is_set_up(tmp_path: Path) -> None:
    Library.open(tmp_path).close()
    store = Store.open(tmp_path)
    store.add_job(JobSpec(kind="timer", due=NOW + timedelta(minutes=5)), NOW)
    assert len(store.jobs()) == 1
    store.close()


def test_a_database_without_the_error_column_gets_it(tmp_path: Path) -> None:
    """Databases written before jobs could fail: opened as they are, the column added."""
    path = a_database(tmp_path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ALTER TABLE jobs DROP COLUMN error")
    conn.close()
    store = Store.open(tmp_path)
    assert len(store.jobs()) == 2 and store.failed_jobs() == []
    store.close()


# --- the commands ---------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    return tmp_path / "data"


@pytest.mark.parametrize("case", DAMAGE)
@pytest.mark.parametrize(
    "command",
    [["reminders", "list"], ["reminders", "list", "--json"], ["reminders", "cancel", "1"],
     ["run", "--text", "what time is it", "--output", "null"], ["podcasts", "list"],
     ["podcasts", "play", "1", "--out", "x.wav"]],
    ids=" ".join,
)  # fmt: skip
def test_every_command_says_so_and_exits_1(
    home: Path, case: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    damage, words = DAMAGE[case]
    path = a_database(home)
    damage(path)
    before = path.read_bytes()
    assert cli.main(command) == 1
    err = capsys.readouterr().err
    assert str(path) in err and words in err
    assert "Traceback" not in err
    assert path.read_bytes() == before


def test_run_says_a_locked_database_before_loading_models(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = a_database(home)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert cli.main(["run", "--text", "what time is it", "--output", "null"]) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert str(path) in err and "locked" in err


def test_locked_is_its_own_error(tmp_path: Path) -> None:
    path = a_database(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreLockedError) as err:
            Store.open(tmp_path, timeout_s=0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "Close" in err.value.fix


def test_the_stand_alone_reminders_entry_says_so_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut_last_byte(a_database(tmp_path))
    assert cli_skills.main(["reminders", "--home", str(tmp_path), "cancel", "1"]) == 1
    assert "cut short" in capsys.readouterr().err


# --- doctor ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", DAMAGE)
def test_doctor_fails_the_database_check(home: Path, case: str) -> None:
    damage, words = DAMAGE[case]
    path = a_database(home)
    damage(path)
    before = path.read_bytes()
    (check,) = [c for c in doctor.run_checks(None) if c.area == "database"]
    assert check.status == doctor.FAIL
    assert str(path) in check.detail and words in check.detail and check.fix
    assert path.read_bytes() == before


def test_doctor_creates_no_database(home: Path) -> None:
    (check,) = [c for c in doctor.run_checks(None) if c.area == "database"]
    assert check.status == doctor.OK and "not created yet" in check.detail
    assert not (home / DB_NAME).exists()


def test_doctor_counts_jobs_and_warns_of_failed_ones(home: Path) -> None:
    path = a_database(home)
    (check,) = [c for c in doctor.run_checks(None) if c.area == "database"]
    assert check.status == doctor.OK and "2 pending" in check.detail
    store = Store.open(home)
    store.fail(1, "its repeat rule 'x' is not understood")
    store.close()
    (check,) = [c for c in doctor.run_checks(None) if c.area == "database"]
    assert check.status == doctor.WARN and "1 failed" in check.detail and "#1" in check.detail
    assert "reminders cancel" in check.fix
    assert path.exists()
