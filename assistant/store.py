"""SQLite persistence for skills: per-skill key/value pairs and scheduled jobs.

WAL mode with `synchronous=FULL`: a call that returns has committed, so the assistant may say
"done" afterwards and a crash or power cut cannot lose it.

A damaged, locked or newer database is never replaced or rewritten: `Store.open` first checks the
file read-only (its size against its page size, SQLite's `quick_check`, the schema) and raises
`StoreError` naming the file and the way out. SQLite alone misses two kinds of damage: a file cut
short by less than a page reads as zeros at its end, and an empty or table-less file would be
initialised afresh. A new database is built aside and linked into place, so a file that is there
but empty was never one of ours half-made: it is damage.

Several processes may share the file (an assistant, `reminders list`, a second assistant): a due
job is claimed in one transaction (`claim`), so exactly one of them announces it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.errors import SottovoceError
from skills.sdk import Job, JobKind, JobSpec

_LOGGER = logging.getLogger(__name__)

DB_NAME: Final = "sottovoce.db"
SCHEMA_VERSION: Final = 1
KINDS: Final = ("reminder", "alarm", "timer")
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
    fired_utc TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (state, due_utc);
"""
# What schema 1 must have. `jobs.error` (why a job failed) came later within schema 1: open()
# adds it, and older versions, which name their columns, never notice it.
_REQUIRED: Final = {
    "kv": {"skill", "key", "value"},
    "jobs": {"id", "kind", "due_utc", "zone", "text", "label", "recurrence", "state",
             "created_utc", "fired_utc"},
}  # fmt: skip
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"


class StoreError(SottovoceError):
    """The database cannot be used. `code` is machine-readable; `problem` names the file and
    `fix` says what to do; `message` is both."""

    code = "store"

    def __init__(self, problem: str, path: Path, fix: str = "") -> None:
        super().__init__(f"{problem} {fix}".strip())
        self.problem = problem
        self.fix = fix
        self.path = path


class StoreCorruptError(StoreError):
    code = "store_corrupt"


class StoreLockedError(StoreError):
    code = "store_locked"


def damaged(path: Path, what: str) -> StoreCorruptError:
    """The error for a database file that is there but cannot be trusted."""
    name = path.name
    return StoreCorruptError(
        f"The database {path} {what}.",
        path,
        f"It was left untouched. Restore it from a backup (copy {name}-wal beside it too, if "
        f"the backup has one), or move {name} and any {name}-wal and {name}-shm aside: "
        "sottovoce then starts with an empty one.",
    )


@dataclass(frozen=True, slots=True)
class FailedJob:
    """A job the scheduler could not handle: skipped, kept for `reminders list` to show."""

    id: int
    kind: str
    text: str
    due: datetime | None  # None when the stored time itself is unreadable
    recurrence: str | None
    error: str


@dataclass(frozen=True, slots=True)
class Inspection:
    """What `sottovoce doctor` says about the database: it exists, and how many jobs."""

    path: Path
    exists: bool
    pending: int = 0
    failed: tuple[FailedJob, ...] = ()


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware one")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_utc(value: object) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no zone")
    return moment


def _zone_name(moment: datetime) -> str:
    tz = moment.tzinfo
    return tz.key if isinstance(tz, ZoneInfo) else "UTC"


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


class Store:
    """One open database. Not thread-safe: use it from the event loop's thread."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, data_dir: Path, *, timeout_s: float = 2.0) -> Store:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_NAME
        if not path.exists():
            _create(path)
        columns = _check(path, timeout_s)
        try:
            conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"Cannot open the database {path}: {err}.", path) from err
        store = cls(conn, path)
        missing_error = columns and "error" not in columns
        add_error = "ALTER TABLE jobs ADD COLUMN error TEXT;" if missing_error else ""
        with store._errors():
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            # IMMEDIATE: a database another program holds locked is said now, not mid-turn.
            conn.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} {add_error} "
                f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            )
        return store

    @classmethod
    def inspect(cls, data_dir: Path, *, timeout_s: float = 2.0) -> Inspection:
        """Check the database read-only (creating nothing) and count its jobs."""
        path = data_dir / DB_NAME
        if not path.exists():
            return Inspection(path, exists=False)
        columns = _check(path, timeout_s)
        conn = _connect_read_only(path, timeout_s)
        try:
            store = cls(conn, path)
            if not columns:  # a database of podcasts only: the store's tables come later
                return Inspection(path, exists=True)
            (pending,) = store._read("SELECT COUNT(*) FROM jobs WHERE state='pending'")[0]
            failed = store.failed_jobs() if "error" in columns else []
            return Inspection(path, exists=True, pending=int(pending), failed=tuple(failed))
        finally:
            conn.close()

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
        """The job, or None if there is none by that id or its row cannot be read."""
        jobs = self._jobs(f"SELECT {self._COLUMNS} FROM jobs WHERE id=?", (job_id,))
        return jobs[0] if jobs else None

    def jobs(self, *, state: str | None = "pending", kind: JobKind | None = None) -> list[Job]:
        sql = f"SELECT {self._COLUMNS} FROM jobs WHERE 1=1"
        args: list[Any] = []
        if state is not None:
            sql += " AND state=?"
            args.append(state)
        if kind is not None:
            sql += " AND kind=?"
            args.append(kind)
        return self._jobs(sql + " ORDER BY due_utc, id", tuple(args))

    def due_jobs(self, now: datetime) -> list[Job]:
        return self._jobs(
            f"SELECT {self._COLUMNS} FROM jobs WHERE state='pending' AND due_utc<=? "
            "ORDER BY due_utc, id",
            (_utc(now),),
        )

    def _jobs(self, sql: str, args: tuple[Any, ...]) -> list[Job]:
        """Rows as jobs. A pending row that cannot be read is marked failed and left out, so
        one bad row never stops the others."""
        jobs = []
        for row in self._read(sql, args):
            try:
                jobs.append(_row_to_job(row))
            except (ValueError, TypeError, OverflowError) as err:
                if row[7] == "pending":
                    self.fail(int(row[0]), f"its stored fields cannot be read ({err})")
                else:
                    _LOGGER.warning("job #%s in %s cannot be read: %s", row[0], self.path, err)
        return jobs

    def next_due(self) -> datetime | None:
        rows = self._read("SELECT MIN(due_utc) FROM jobs WHERE state='pending'")
        if not rows or not rows[0][0]:
            return None
        try:
            return _parse_utc(rows[0][0])
        except ValueError:
            return None  # an unreadable row: the next read marks it failed

    def claim(self, job: Job, fired: datetime, next_due: datetime | None) -> bool:
        """Take a due job for announcing: True for exactly one of the processes that try.

        In one write transaction: still pending and still due when `job` was read? Then it is
        fired (or, recurring, moved to `next_due`) and committed before anyone announces it."""
        with self._errors():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute(
                    "SELECT state, due_utc FROM jobs WHERE id=?", (job.id,)
                ).fetchone()
                ours = row is not None and row[0] == "pending" and _same_time(row[1], job.due)
                if ours and next_due is None:
                    self._conn.execute(
                        "UPDATE jobs SET state='fired', fired_utc=? WHERE id=?",
                        (_utc(fired), job.id),
                    )
                elif ours and next_due is not None:
                    self._conn.execute(
                        "UPDATE jobs SET due_utc=?, fired_utc=? WHERE id=?",
                        (_utc(next_due), _utc(fired), job.id),
                    )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return ours

    def fail(self, job_id: int, reason: str) -> bool:
        """Mark a pending job failed (skipped from now on, shown by `reminders list`)."""
        cur = self._write(
            "UPDATE jobs SET state='failed', error=? WHERE id=? AND state='pending'",
            (reason, job_id),
        )
        if cur.rowcount:
            _LOGGER.error(
                "job #%d in %s cannot be scheduled and was marked failed: %s. "
                "`sottovoce reminders cancel %d` removes it.",
                job_id, self.path, reason, job_id,
            )  # fmt: skip
        return cur.rowcount > 0

    def failed_jobs(self) -> list[FailedJob]:
        rows = self._read(
            "SELECT id, kind, text, label, due_utc, zone, recurrence, error FROM jobs "
            "WHERE state='failed' ORDER BY id"
        )
        failed = []
        for job_id, kind, text, label, due_utc, zone, recurrence, error in rows:
            try:
                due: datetime | None = _parse_utc(due_utc).astimezone(_zone(str(zone)))
            except (ValueError, TypeError, OverflowError):
                due = None
            failed.append(
                FailedJob(
                    id=int(job_id),
                    kind=str(kind),
                    text=str(text or label or ""),
                    due=due,
                    recurrence=None if recurrence is None else str(recurrence),
                    error=str(error or "unknown"),
                )
            )
        return failed

    def cancel(self, job_id: int) -> bool:
        """Cancel a pending or failed job; False if there is none such."""
        cur = self._write(
            "UPDATE jobs SET state='cancelled' WHERE id=? AND state IN ('pending', 'failed')",
            (job_id,),
        )
        return cur.rowcount > 0

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
        jobs = self._jobs(
            f"SELECT {self._COLUMNS} FROM jobs WHERE fired_utc IS NOT NULL "
            "ORDER BY fired_utc DESC, id DESC LIMIT 1",
            (),
        )
        return jobs[0] if jobs else None


def _same_time(stored: object, due: datetime) -> bool:
    try:
        return _parse_utc(stored) == due
    except ValueError:
        return False


def _row_to_job(row: tuple[Any, ...]) -> Job:
    """A row as a `Job`; ValueError naming the field when one cannot be read."""
    job_id, kind, due_utc, zone, text, label, recurrence, state, created_utc = row
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    tz = _zone(str(zone))
    return Job(
        id=int(job_id),
        kind=cast(JobKind, kind),
        due=_parse_utc(due_utc).astimezone(tz),
        text=str(text),
        label=str(label),
        recurrence=None if recurrence is None else str(recurrence),
        state=cast(Literal["pending", "fired", "cancelled"], state),
        created=_parse_utc(created_utc).astimezone(tz),
    )


# --- creating and checking the file -------------------------------------------------------------


def _create(path: Path) -> None:
    """A new, empty database at `path`, built aside and linked into place: whoever sees the
    file sees it complete. Another process creating it at the same moment wins quietly."""
    if _wal(path).is_file() and _wal(path).stat().st_size > 0:
        raise damaged(path, f"is missing, but its {_wal(path).name} is still there")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        finally:
            conn.close()  # checkpoints: the whole database is in `tmp` now
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(tmp, path)
        _sync_dir(path.parent)
    except (sqlite3.Error, OSError) as err:
        raise StoreError(f"Cannot create the database {path}: {err}.", path) from err
    finally:
        for leftover in (tmp, _wal(tmp), tmp.with_name(tmp.name + "-shm")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check(path: Path, timeout_s: float) -> set[str]:
    """Raise `StoreError` if the file at `path` is not a database this version can use, without
    writing to it. Returns the columns of its jobs table (empty for a database the store has not
    set up yet, such as one the podcast library made)."""
    _check_bytes(path)
    conn = _connect_read_only(path, timeout_s)
    try:
        ok = conn.execute("PRAGMA quick_check").fetchone()
        if ok is None or ok[0] != "ok":
            raise damaged(path, f"fails SQLite's integrity check ({ok[0] if ok else 'no answer'})")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {
            name: {str(c[1]) for c in conn.execute(f"PRAGMA table_info({name})")}
            for name in _REQUIRED
        }
    except sqlite3.DatabaseError as err:
        raise store_error(err, path) from err
    finally:
        conn.close()  # read-only: closing checkpoints nothing and keeps any -wal file
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"The database {path} was written by a newer sottovoce (schema {version}; this one "
            f"reads schema {SCHEMA_VERSION}).",
            path,
            "Upgrade sottovoce, or set SOTTOVOCE_HOME to another folder.",
        )
    if version == 0 and not any(tables.values()):
        return set()  # nothing of ours in it yet: open() sets it up
    for name, needed in _REQUIRED.items():
        if not tables[name]:
            raise damaged(path, f"has lost its {name} table")
        if missing := needed - tables[name]:
            raise damaged(path, f"has a {name} table without {', '.join(sorted(missing))}")
    return tables["jobs"]


def _check_bytes(path: Path) -> None:
    """Damage SQLite itself does not report: an empty file, a foreign one, one cut short."""
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            header = file.read(100)
    except OSError as err:
        raise StoreError(f"Cannot read the database {path}: {err}.", path) from err
    if size == 0:
        raise damaged(path, "is empty (0 bytes)")
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise damaged(path, "is not an SQLite database")
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise damaged(path, f"has a damaged header (page size {page})")
    if size % page:
        raise damaged(
            path, f"is cut short: {size} bytes is not a whole number of {page}-byte pages"
        )


def _connect_read_only(path: Path, timeout_s: float) -> sqlite3.Connection:
    try:
        return sqlite3.connect(
            path.resolve().as_uri() + "?mode=ro", uri=True, timeout=timeout_s,
            isolation_level=None,
        )  # fmt: skip
    except sqlite3.Error as err:
        raise StoreError(f"Cannot open the database {path}: {err}.", path) from err


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
                f"The database {path} is locked by another program.",
                path,
                "Close whatever holds it (a sqlite3 shell, a backup in progress?) and try again.",
            )
        return StoreError(f"Database error in {path}: {err}.", path)
    return damaged(path, f"is corrupt or not a database ({err})")
