"""SQLite persistence for skills: per-skill key/value pairs and scheduled jobs.

WAL mode with `synchronous=FULL`: a call that returns has committed, so the assistant may say
"done" afterwards and a crash or power cut cannot lose it. A corrupt or locked database is never
replaced or rewritten: it raises `StoreError` naming the file and the way out.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from skills.sdk import Job, JobKind, JobSpec

_LOGGER = logging.getLogger(__name__)

DB_NAME: Final = "sottovoce.db"
SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS kv (
    skill TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (skill, key)
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    due_utc TEXT NOT NULL,
    zone TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    recurrence TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    created_utc TEXT NOT NULL,
    fired_utc TEXT
);
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (state, due_utc);
"""


class StoreError(Exception):
    """The database cannot be used. `code` is machine-readable; the message names the file."""

    code = "store"

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class StoreCorruptError(StoreError):
    code = "store_corrupt"


class StoreLockedError(StoreError):
    code = "store_locked"


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware one")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _zone_name(moment: datetime) -> str:
    tz = moment.tzinfo
    return tz.key if isinstance(tz, ZoneInfo) else "UTC"


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


class Store:
    """One open database. Not thread-safe: use it from the event loop's thread."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, data_dir: Path, *, timeout_s: float = 2.0) -> Store:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_NAME
        try:
            conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"Cannot open the database {path}: {err}.", path) from err
        store = cls(conn, path)
        with store._errors():
            ok = conn.execute("PRAGMA quick_check").fetchone()
            if ok is None or ok[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {ok}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The database {path} was written by a newer sottovoce (schema {version}); "
                    "upgrade sottovoce or point SOTTOVOCE_HOME elsewhere.",
                    path,
                )
            conn.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        return store

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except StoreError:
            self._close_quietly()
            raise
        except sqlite3.DatabaseError as err:
            raise store_error(err, self.path) from err

    def _close_quietly(self) -> None:
        try:
            self._conn.close()
        except sqlite3.Error:
            _LOGGER.debug("closing %s failed", self.path, exc_info=True)

    def _write(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        with self._errors():
            return self._conn.execute(sql, args)

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._errors():
            return self._conn.execute(sql, args).fetchall()

    # --- key/value ----------------------------------------------------------------------------

    def kv(self, skill: str) -> SkillStorage:
        return SkillStorage(self, skill)

    def kv_get(self, skill: str, key: str) -> str | None:
        rows = self._read("SELECT value FROM kv WHERE skill=? AND key=?", (skill, key))
        return str(rows[0][0]) if rows else None

    def kv_set(self, skill: str, key: str, value: str) -> None:
        self._write(
            "INSERT INTO kv(skill, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT(skill, key) DO UPDATE SET value=excluded.value",
            (skill, key, value),
        )

    def kv_delete(self, skill: str, key: str) -> None:
        self._write("DELETE FROM kv WHERE skill=? AND key=?", (skill, key))

    def kv_keys(self, skill: str) -> list[str]:
        return [str(r[0]) for r in self._read("SELECT key FROM kv WHERE skill=?", (skill,))]

    # --- jobs ---------------------------------------------------------------------------------

    _COLUMNS: Final = "id, kind, due_utc, zone, text, label, recurrence, state, created_utc"

    def add_job(self, spec: JobSpec, created: datetime) -> Job:
        cur = self._write(
            "INSERT INTO jobs(kind, due_utc, zone, text, label, recurrence, created_utc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                spec.kind,
                _utc(spec.due),
                _zone_name(spec.due),
                spec.text,
                spec.label,
                spec.recurrence,
                _utc(created),
            ),
        )
        job = self.job(int(cur.lastrowid or 0))
        if job is None:
            raise StoreError(f"A job written to {self.path} could not be read back.", self.path)
        return job

    def job(self, job_id: int) -> Job | None:
        rows = self._read(f"SELECT {self._COLUMNS} FROM jobs WHERE id=?", (job_id,))
        return _row_to_job(rows[0]) if rows else None

    def jobs(self, *, state: str | None = "pending", kind: JobKind | None = None) -> list[Job]:
        sql = f"SELECT {self._COLUMNS} FROM jobs WHERE 1=1"
        args: list[Any] = []
        if state is not None:
            sql += " AND state=?"
            args.append(state)
        if kind is not None:
            sql += " AND kind=?"
            args.append(kind)
        return [_row_to_job(r) for r in self._read(sql + " ORDER BY due_utc, id", tuple(args))]

    def due_jobs(self, now: datetime) -> list[Job]:
        rows = self._read(
            f"SELECT {self._COLUMNS} FROM jobs WHERE state='pending' AND due_utc<=? "
            "ORDER BY due_utc, id",
            (_utc(now),),
        )
        return [_row_to_job(r) for r in rows]

    def next_due(self) -> datetime | None:
        rows = self._read("SELECT MIN(due_utc) FROM jobs WHERE state='pending'")
        return datetime.fromisoformat(rows[0][0]) if rows and rows[0][0] else None

    def set_state(self, job_id: int, state: str, fired: datetime | None = None) -> Job | None:
        self._write(
            "UPDATE jobs SET state=?, fired_utc=COALESCE(?, fired_utc) WHERE id=?",
            (state, _utc(fired) if fired else None, job_id),
        )
        return self.job(job_id)

    def set_due(self, job_id: int, due: datetime, *, fired: datetime | None = None) -> Job | None:
        self._write(
            "UPDATE jobs SET due_utc=?, state='pending', fired_utc=COALESCE(?, fired_utc) "
            "WHERE id=?",
            (_utc(due), _utc(fired) if fired else None, job_id),
        )
        return self.job(job_id)

    def last_fired(self) -> Job | None:
        rows = self._read(
            f"SELECT {self._COLUMNS} FROM jobs WHERE fired_utc IS NOT NULL "
            "ORDER BY fired_utc DESC, id DESC LIMIT 1"
        )
        return _row_to_job(rows[0]) if rows else None


def _row_to_job(row: tuple[Any, ...]) -> Job:
    job_id, kind, due_utc, zone, text, label, recurrence, state, created_utc = row
    tz = _zone(str(zone))
    return Job(
        id=int(job_id),
        kind=cast(JobKind, kind),
        due=datetime.fromisoformat(due_utc).astimezone(tz),
        text=str(text),
        label=str(label),
        recurrence=recurrence,
        state=cast(Literal["pending", "fired", "cancelled"], state),
        created=datetime.fromisoformat(created_utc).astimezone(tz),
    )


class SkillStorage:
    """`skills.sdk.Storage` for one skill: JSON values under the skill's name."""

    def __init__(self, store: Store, skill: str) -> None:
        self._store = store
        self._skill = skill

    def get(self, key: str, default: Any = None) -> Any:
        raw = self._store.kv_get(self._skill, key)
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        self._store.kv_set(self._skill, key, json.dumps(value))

    def delete(self, key: str) -> None:
        self._store.kv_delete(self._skill, key)

    def keys(self) -> list[str]:
        return self._store.kv_keys(self._skill)


def store_error(err: sqlite3.DatabaseError, path: Path) -> StoreError:
    """The error to show for an SQLite failure on `path`: locked, corrupt, or other."""
    if isinstance(err, sqlite3.OperationalError):
        if "locked" in str(err) or "busy" in str(err):
            return StoreLockedError(
                f"The database {path} is locked by another process (is another sottovoce "
                "running?). Stop it and try again.",
                path,
            )
        return StoreError(f"Database error in {path}: {err}.", path)
    return StoreCorruptError(
        f"The database {path} is corrupt or not a database ({err}). It was left untouched: "
        "move it aside to start afresh, or restore a backup.",
        path,
    )
