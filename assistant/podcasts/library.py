"""Subscriptions, episodes and play positions, in the assistant's SQLite database.

The tables live beside the store's (`assistant.store`: same file, WAL, `synchronous=FULL`), in
their own `podcast_*` namespace, so a call that returns has committed. A refresh updates what
the feed says about an episode and never touches what the user did with it (download, position).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from assistant.podcasts.errors import UnknownPodcastError
from assistant.podcasts.feeds import Feed
from assistant.store import DB_NAME, Store, StoreError, store_error

_LOGGER = logging.getLogger(__name__)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS podcast_feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    image_url TEXT,
    etag TEXT,
    last_modified TEXT,
    added_utc TEXT NOT NULL,
    refreshed_utc TEXT
);
CREATE TABLE IF NOT EXISTS podcast_episodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    feed_id INTEGER NOT NULL REFERENCES podcast_feeds(id) ON DELETE CASCADE,
    guid TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    published INTEGER NOT NULL DEFAULT 0,
    link TEXT NOT NULL DEFAULT '',
    duration_s INTEGER NOT NULL DEFAULT 0,
    audio_url TEXT,
    mime_type TEXT,
    size INTEGER NOT NULL DEFAULT -1,
    episode_type TEXT,
    transcript_url TEXT,
    transcript_type TEXT,
    chapters_url TEXT,
    file TEXT,
    file_size INTEGER,
    downloaded_utc TEXT,
    position_s REAL NOT NULL DEFAULT 0,
    played_utc TEXT,
    finished INTEGER NOT NULL DEFAULT 0,
    transcript TEXT,
    UNIQUE (feed_id, guid)
);
CREATE INDEX IF NOT EXISTS podcast_episodes_feed ON podcast_episodes (feed_id, published);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    id: int
    url: str
    title: str
    link: str
    description: str
    etag: str | None
    last_modified: str | None
    refreshed: str | None
    episodes: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    id: int
    feed_id: int
    podcast: str
    guid: str
    title: str
    description: str
    published: int
    link: str
    duration_s: int
    audio_url: str | None
    mime_type: str | None
    size: int
    episode_type: str | None
    transcript_url: str | None
    transcript_type: str | None
    chapters_url: str | None
    file: str | None  # path of the downloaded audio, relative to the episodes folder
    file_size: int | None
    position_s: float
    played: str | None
    finished: bool
    transcript: str | None

    @property
    def published_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.published, UTC) if self.published else None

    def to_json(self) -> dict[str, Any]:
        at = self.published_at
        return {
            "id": self.id,
            "podcast": self.podcast,
            "title": self.title,
            "published": at.isoformat() if at else None,
            "duration_s": self.duration_s or None,
            "url": self.audio_url,
            "type": self.mime_type,
            "size": self.size if self.size >= 0 else None,
            "downloaded": self.file is not None,
            "position_s": round(self.position_s, 1),
            "finished": self.finished,
            "transcript_url": self.transcript_url,
            "chapters_url": self.chapters_url,
        }


_EPISODE_COLUMNS: Final = (
    "e.id, e.feed_id, f.title, e.guid, e.title, e.description, e.published, e.link, "
    "e.duration_s, e.audio_url, e.mime_type, e.size, e.episode_type, e.transcript_url, "
    "e.transcript_type, e.chapters_url, e.file, e.file_size, e.position_s, e.played_utc, "
    "e.finished, e.transcript"
)
_EPISODES_FROM: Final = "podcast_episodes e JOIN podcast_feeds f ON f.id = e.feed_id"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Library:
    """One connection to the database. Use it from one thread at a time."""

    def __init__(self, conn: sqlite3.Connection, path: Path, episodes_dir: Path) -> None:
        self._conn = conn
        self.path = path
        self.episodes_dir = episodes_dir
        # Downloads run in a worker thread while the player saves positions on the loop.
        self._lock = threading.RLock()

    @classmethod
    def open(cls, data_dir: Path, *, timeout_s: float = 2.0) -> Library:
        # The store's file: the store opens it first, so a damaged, locked or newer database is
        # the same StoreError (naming the file and the fix, the file left as it was), and a new
        # one is made whole by the store, never half-made here.
        Store.open(data_dir, timeout_s=timeout_s).close()
        path = data_dir / DB_NAME
        try:
            conn = sqlite3.connect(
                path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise StoreError(f"Cannot open the database {path}: {err}.", path) from err
        library = cls(conn, path, data_dir / "episodes")
        with library._errors():
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(f"BEGIN; {_SCHEMA} COMMIT;")
        return library

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            with self._lock:
                yield
        except sqlite3.DatabaseError as err:
            raise store_error(err, self.path) from err

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._errors():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._errors():
            return self._conn.execute(sql, tuple(args)).fetchall()

    # --- subscriptions ------------------------------------------------------------------------

    def subscriptions(self) -> list[Subscription]:
        rows = self._read(
            "SELECT f.id, f.url, f.title, f.link, f.description, f.etag, f.last_modified, "
            "f.refreshed_utc, (SELECT COUNT(*) FROM podcast_episodes e WHERE e.feed_id = f.id) "
            "FROM podcast_feeds f ORDER BY f.title COLLATE NOCASE"
        )
        return [
            Subscription(
                id=r[0],
                url=r[1],
                title=r[2],
                link=r[3],
                description=r[4],
                etag=r[5],
                last_modified=r[6],
                refreshed=r[7],
                episodes=r[8],
            )
            for r in rows
        ]

    def subscription(self, name: str) -> Subscription:
        """By id, URL, title (any case) or a part of the title that only one has."""
        subs = self.subscriptions()
        key = name.strip().casefold()
        for test in (
            lambda s: str(s.id) == key or s.url.casefold() == key,
            lambda s: s.title.casefold() == key,
            lambda s: key in s.title.casefold(),
        ):
            found = [s for s in subs if test(s)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                names = ", ".join(s.title for s in found)
                raise UnknownPodcastError(f"{name!r} matches several podcasts: {names}.")
        raise UnknownPodcastError(
            f"No subscription matches {name!r}. `sottovoce podcasts list` shows them."
        )

    def find_url(self, url: str) -> Subscription | None:
        return next((s for s in self.subscriptions() if s.url == url), None)

    def save_feed(
        self,
        url: str,
        feed: Feed,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        new_url: str | None = None,
    ) -> tuple[Subscription, int]:
        """Insert or update a subscription and its episodes in one transaction.

        Returns the subscription and how many episodes were new.
        """
        now = _now()
        with self._transaction() as conn:
            row = conn.execute("SELECT id FROM podcast_feeds WHERE url=?", (url,)).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO podcast_feeds(url, title, link, description, image_url, etag, "
                    "last_modified, added_utc, refreshed_utc) VALUES (?,?,?,?,?,?,?,?,?)",
                    (url, feed.title, feed.link, feed.description, feed.image_url, etag,
                     last_modified, now, now),
                )  # fmt: skip
                feed_id = int(cur.lastrowid or 0)
            else:
                feed_id = int(row[0])
                conn.execute(
                    "UPDATE podcast_feeds SET title=?, link=?, description=?, image_url=?, "
                    "etag=?, last_modified=?, refreshed_utc=? WHERE id=?",
                    (feed.title, feed.link, feed.description, feed.image_url, etag,
                     last_modified, now, feed_id),
                )  # fmt: skip
            if new_url and new_url != url:
                clash = conn.execute("SELECT 1 FROM podcast_feeds WHERE url=?", (new_url,))
                if clash.fetchone() is None:
                    _LOGGER.info("feed %s moved to %s", url, new_url)
                    conn.execute("UPDATE podcast_feeds SET url=? WHERE id=?", (new_url, feed_id))
            before = conn.execute(
                "SELECT COUNT(*) FROM podcast_episodes WHERE feed_id=?", (feed_id,)
            ).fetchone()[0]
            conn.executemany(
                "INSERT INTO podcast_episodes(feed_id, guid, title, description, published, "
                "link, duration_s, audio_url, mime_type, size, episode_type, transcript_url, "
                "transcript_type, chapters_url) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(feed_id, guid) DO UPDATE SET title=excluded.title, "
                "description=excluded.description, published=excluded.published, "
                "link=excluded.link, duration_s=excluded.duration_s, "
                "audio_url=excluded.audio_url, mime_type=excluded.mime_type, size=excluded.size, "
                "episode_type=excluded.episode_type, transcript_url=excluded.transcript_url, "
                "transcript_type=excluded.transcript_type, chapters_url=excluded.chapters_url",
                [
                    (feed_id, ep.guid, ep.title, ep.description, ep.published, ep.link,
                     ep.duration_s, ep.audio.url if ep.audio else None,
                     ep.audio.mime_type if ep.audio else None, ep.audio.size if ep.audio else -1,
                     ep.episode_type, ep.transcript_url, ep.transcript_type, ep.chapters_url)
                    for ep in feed.episodes
                ],
            )  # fmt: skip
            after = conn.execute(
                "SELECT COUNT(*) FROM podcast_episodes WHERE feed_id=?", (feed_id,)
            ).fetchone()[0]
        sub = next(s for s in self.subscriptions() if s.id == feed_id)
        return sub, int(after) - int(before)

    def mark_checked(self, feed_id: int) -> None:
        """A conditional refresh found nothing new."""
        with self._transaction() as conn:
            conn.execute("UPDATE podcast_feeds SET refreshed_utc=? WHERE id=?", (_now(), feed_id))

    def remove(self, feed_id: int) -> list[str]:
        """Forget a subscription; returns its downloaded files (the caller deletes them)."""
        with self._transaction() as conn:
            files = [
                str(r[0])
                for r in conn.execute(
                    "SELECT file FROM podcast_episodes WHERE feed_id=? AND file IS NOT NULL",
                    (feed_id,),
                )
            ]
            conn.execute("DELETE FROM podcast_episodes WHERE feed_id=?", (feed_id,))
            conn.execute("DELETE FROM podcast_feeds WHERE id=?", (feed_id,))
        return files

    # --- episodes -----------------------------------------------------------------------------

    def episodes(
        self, feed_id: int | None = None, *, limit: int | None = None, audio_only: bool = False
    ) -> list[Episode]:
        """Newest first."""
        sql = f"SELECT {_EPISODE_COLUMNS} FROM {_EPISODES_FROM} WHERE 1=1"
        args: list[Any] = []
        if feed_id is not None:
            sql += " AND e.feed_id=?"
            args.append(feed_id)
        if audio_only:
            sql += " AND e.audio_url IS NOT NULL"
        sql += " ORDER BY e.published DESC, e.id ASC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_row_to_episode(r) for r in self._read(sql, args)]

    def episode(self, episode_id: int) -> Episode | None:
        rows = self._read(
            f"SELECT {_EPISODE_COLUMNS} FROM {_EPISODES_FROM} WHERE e.id=?", (episode_id,)
        )
        return _row_to_episode(rows[0]) if rows else None

    def last_played(self) -> Episode | None:
        rows = self._read(
            f"SELECT {_EPISODE_COLUMNS} FROM {_EPISODES_FROM} WHERE e.played_utc IS NOT NULL "
            "ORDER BY e.played_utc DESC, e.id DESC LIMIT 1"
        )
        return _row_to_episode(rows[0]) if rows else None

    def neighbour(self, episode: Episode, step: int) -> Episode | None:
        """The next newer (`step` > 0) or older (`step` < 0) audio episode of the same podcast."""
        if step > 0:
            cond, order = "(e.published > ? OR (e.published = ? AND e.id < ?))", "ASC, e.id DESC"
        else:
            cond, order = "(e.published < ? OR (e.published = ? AND e.id > ?))", "DESC, e.id ASC"
        rows = self._read(
            f"SELECT {_EPISODE_COLUMNS} FROM {_EPISODES_FROM} WHERE e.feed_id=? "
            f"AND e.audio_url IS NOT NULL AND {cond} ORDER BY e.published {order} LIMIT 1",
            (episode.feed_id, episode.published, episode.published, episode.id),
        )
        return _row_to_episode(rows[0]) if rows else None

    def save_position(self, episode_id: int, position_s: float, *, finished: bool = False) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE podcast_episodes SET position_s=?, played_utc=?, finished=? WHERE id=?",
                (0.0 if finished else max(0.0, position_s), _now(), int(finished), episode_id),
            )

    def set_file(self, episode_id: int, file: str | None, size: int | None) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE podcast_episodes SET file=?, file_size=?, downloaded_utc=? WHERE id=?",
                (file, size, _now() if file else None, episode_id),
            )

    def set_transcript(self, episode_id: int, text: str) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE podcast_episodes SET transcript=? WHERE id=?", (text, episode_id))

    def downloaded(self) -> list[Episode]:
        """Downloaded episodes, the ones to delete first (played longest ago) first."""
        rows = self._read(
            f"SELECT {_EPISODE_COLUMNS} FROM {_EPISODES_FROM} WHERE e.file IS NOT NULL "
            "ORDER BY e.finished DESC, e.played_utc IS NULL, e.played_utc, e.downloaded_utc"
        )
        return [_row_to_episode(r) for r in rows]


def _row_to_episode(r: tuple[Any, ...]) -> Episode:
    return Episode(
        id=r[0], feed_id=r[1], podcast=r[2], guid=r[3], title=r[4], description=r[5],
        published=r[6], link=r[7], duration_s=r[8], audio_url=r[9], mime_type=r[10], size=r[11],
        episode_type=r[12], transcript_url=r[13], transcript_type=r[14], chapters_url=r[15],
        file=r[16], file_size=r[17], position_s=float(r[18]), played=r[19],
        finished=bool(r[20]), transcript=r[21],
    )  # fmt: skip
