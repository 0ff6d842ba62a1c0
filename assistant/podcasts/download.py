"""Episode downloads for offline listening: resumable (HTTP Range), checked, and kept under a cap.

Audio is written to `NAME.part` and renamed only once it is whole: as long as the server said
(Content-Length, Content-Range), or to the end of a chunked answer. Nothing empty is ever kept.
An interrupted download keeps its part file, and beside it (`NAME.part.json`) the version of the
file it holds (ETag, Last-Modified, length). The next attempt asks only for the rest, with
`If-Range`, so the server sends the rest only if the file is still that version, and the whole
new file otherwise; an answer that names another version starts over too. Without an ETag or
Last-Modified nothing proves the bytes on disk belong to the file the server has now, so such a
download starts over. A finished download that is empty or not its recorded size is fetched again.

Deadlines, wall clock: the server must answer within `stall_s`; then a download that gets fewer
than `stall_bytes` in `stall_s` has stalled (a server trickling a byte every few seconds fails
there, whatever size it claims); and whatever happens, one attempt ends after `max_duration_s`.
Progress, not a size-proportional deadline, is the test: a slow but working link never fails, and
a lying Content-Length buys a hostile server nothing. The partial file is kept for the next try.

When the episodes folder passes the storage cap, the files of episodes played longest ago go
first; the one just fetched never does.
"""

from __future__ import annotations

import errno
import json
import logging
import mimetypes
import os
import posixpath
import re
import shutil
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from http.client import HTTPResponse
from pathlib import Path
from typing import Any, BinaryIO, Final
from urllib.parse import urlsplit

from assistant.podcasts.errors import (
    BadResponseError,
    DiskFullError,
    FetchError,
    FetchTimeoutError,
    HttpStatusError,
    IncompleteError,
    NotAudioError,
    PodcastError,
)
from assistant.podcasts.feeds import Enclosure, html_to_text
from assistant.podcasts.fetch import (
    Cancel,
    FetchSettings,
    Guard,
    clean,
    declared_length,
    open_url,
    read_capped,
    read_some,
)
from assistant.podcasts.library import Episode, Library

_LOGGER = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)
DiskFree = Callable[[Path], int]

_MAX_TRANSCRIPT_BYTES: Final = 8 * 1024 * 1024
_ATTEMPTS: Final = 3  # a 416, or an answer for another version, then the whole file


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadSettings:
    fetch: FetchSettings = field(default_factory=lambda: FetchSettings(timeout_s=30.0))
    # Fewer than 128 KiB in 30 s (about 35 kbit/s, below the lowest bitrates podcasts use: a
    # link that slow could not keep up with playback anyway) is a stall.
    stall_s: float = 30.0
    stall_bytes: int = 128 * 1024
    # However it goes, one attempt ends after 2 hours: time for 900 MB at 1 Mbit/s.
    max_duration_s: float = 2 * 3600.0
    storage_cap_bytes: int = 4 * 1024**3
    reserve_bytes: int = 64 * 1024**2  # never fill the disk past this much free space


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


def episode_path(library: Library, episode: Episode) -> Path | None:
    return library.episodes_dir / episode.file if episode.file else None


def usable(library: Library, episode: Episode) -> bool:
    """The episode's download is there and whole (not empty, and the size it was saved at)."""
    path = episode_path(library, episode)
    if path is None:
        return False
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size > 0 and (episode.file_size is None or size == episode.file_size)


def forget(library: Library, episode: Episode) -> None:
    """Delete a download that cannot be used, so that the next download fetches it again."""
    path = episode_path(library, episode)
    if path is not None:
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            _LOGGER.warning("cannot delete %s: %s", path, err)
    library.set_file(episode.id, None, None)


def download(
    library: Library,
    episode: Episode,
    settings: DownloadSettings,
    *,
    progress: Progress | None = None,
    keep: Collection[int] = (),
    disk_free: DiskFree = _disk_free,
    cancel: Cancel | None = None,
) -> Episode:
    """Fetch the episode's audio (resuming a part file), record it, enforce the storage cap.

    `cancel` stops it from another thread (the part file is kept). Raises `PodcastError`.
    """
    if episode.file is not None:
        if usable(library, episode):
            return episode
        _LOGGER.warning(
            "the download of %s is damaged or missing; fetching it again", episode.title
        )
        forget(library, episode)
    url = episode.audio_url
    if not url:
        raise NotAudioError(f"{episode.title!r} has no audio to download.")
    enclosure = Enclosure(url=url, mime_type=episode.mime_type or "", size=episode.size)
    if not enclosure.is_audio:
        raise NotAudioError(
            f"{episode.title!r} is not audio ({episode.mime_type}); sottovoce only plays audio."
        )
    folder = library.episodes_dir / str(episode.feed_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{episode.id}{_extension(url, episode.mime_type)}"
    part = folder / f"{name}.part"
    size = _fetch_to(part, url, episode, settings, folder, progress, disk_free, cancel)
    final = folder / name
    os.replace(part, final)
    _meta_path(part).unlink(missing_ok=True)
    library.set_file(episode.id, f"{episode.feed_id}/{name}", size)
    _LOGGER.info("downloaded %s (%d bytes) to %s", episode.title, size, final)
    enforce_cap(library, settings.storage_cap_bytes, keep={episode.id, *keep})
    if episode.transcript_url and not episode.transcript:
        _fetch_transcript(library, episode, settings.fetch, cancel)
    updated = library.episode(episode.id)
    if updated is None:
        raise PodcastError(f"{episode.title!r} was removed while it downloaded.")
    return updated


# --- the part file and the version it holds -----------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Version:
    """What the server said about the file a part file holds the start of."""

    url: str
    etag: str | None
    last_modified: str | None
    total: int | None

    @classmethod
    def of(cls, url: str, response: HTTPResponse, total: int | None) -> _Version:
        return cls(
            url=url,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            total=total,
        )

    @property
    def validator(self) -> str | None:
        """For If-Range: a strong ETag, else the Last-Modified date (RFC 9110 13.1.5)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified or None

    def same_as(self, response: HTTPResponse, total: int | None) -> bool:
        """Whether a 206 answer is a piece of this version (what it says matches, if it says)."""
        etag = response.headers.get("ETag")
        modified = response.headers.get("Last-Modified")
        return not (
            (etag and self.etag and etag != self.etag)
            or (modified and self.last_modified and modified != self.last_modified)
            or (total is not None and self.total is not None and total != self.total)
        )


def _meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _load_version(part: Path) -> _Version | None:
    try:
        data: Any = json.loads(_meta_path(part).read_text(encoding="utf-8"))
        return _Version(
            url=str(data["url"]),
            etag=data.get("etag"),
            last_modified=data.get("last_modified"),
            total=data.get("total"),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _save_version(part: Path, version: _Version) -> None:
    meta = _meta_path(part)
    tmp = meta.with_name(meta.name + ".tmp")
    try:
        tmp.write_text(json.dumps(asdict(version)), encoding="utf-8")
        os.replace(tmp, meta)
    except OSError as err:
        raise PodcastError(f"Cannot write {meta}: {err.strerror or err}.") from err


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _meta_path(part).unlink(missing_ok=True)


class _StartOver(Exception):
    """The answer to a resumed request is not the rest of the part file's version."""


# --- fetching -----------------------------------------------------------------------------------


def _fetch_to(
    part: Path,
    url: str,
    episode: Episode,
    settings: DownloadSettings,
    folder: Path,
    progress: Progress | None,
    disk_free: DiskFree,
    cancel: Cancel | None,
) -> int:
    for _attempt in range(_ATTEMPTS):
        have = part.stat().st_size if part.exists() else 0
        version = _load_version(part) if have else None
        if version is not None and version.url != url:
            version = None  # the feed moved the episode: another file
        if have and (version is None or version.validator is None):
            _LOGGER.info("cannot resume %s safely (no ETag or Last-Modified); starting over", url)
            _discard(part)
            have, version = 0, None
        elif have and version is not None and version.total and have >= version.total:
            _LOGGER.info("the part file of %s is already as long as the file; starting over", url)
            _discard(part)
            have, version = 0, None
        validator = version.validator if version is not None else None
        headers = {"Range": f"bytes={have}-", "If-Range": validator} if validator else {}
        answer = f"{clean(url)} did not answer within {settings.stall_s:g} s. Try again later."
        try:
            with (
                Guard(min(settings.stall_s, settings.max_duration_s), answer,
                      cancel=cancel) as guard,
                open_url(url, settings.fetch, headers, guard=guard) as (response, _redirects),
            ):  # fmt: skip
                return _receive(response, guard, part, have, version, url, episode, settings,
                                folder, progress, disk_free)  # fmt: skip
        except HttpStatusError as err:
            if err.status != 416 or not have:
                raise
            # 416: the part file is no prefix of what the server has now.
            _LOGGER.info("server refused to resume %s; downloading it again", url)
        except _StartOver as err:
            _LOGGER.info("%s; downloading it again", err)
        _discard(part)
    raise FetchError(
        f"{clean(url)} kept changing while {episode.title!r} downloaded. Try again later."
    )


def _receive(
    response: HTTPResponse,
    guard: Guard,
    part: Path,
    have: int,
    version: _Version | None,
    url: str,
    episode: Episode,
    settings: DownloadSettings,
    folder: Path,
    progress: Progress | None,
    disk_free: DiskFree,
) -> int:
    title = episode.title
    status = response.status
    length = declared_length(response)
    if status == 206:
        start, total = _content_range(response.headers.get("Content-Range"))
        if start is None or (start != have and not have):
            raise BadResponseError(
                f"{clean(url)} sent part of a file without saying which part, or the wrong "
                f"part ({clean(response.headers.get('Content-Range'), 60)}). Try again later."
            )
        if start != have:
            raise _StartOver(f"{url} sent bytes from {start}, not from {have}")
        if total is None and length is not None:
            total = have + length
        if version is not None and not version.same_as(response, total):
            raise _StartOver(f"{url} changed since the download of {title!r} began")
    elif status == 200:
        if have:
            _LOGGER.info("%s sent the whole file (it changed, or ignores ranges)", url)
        have, total = 0, length
    else:
        raise FetchError(f"{clean(url)} answered HTTP {status}, not the audio of {title!r}.")
    # Feeds' lengths are often stale or made up: only the server's count is checked.
    shown = total if total is not None else (episode.size if episode.size > 0 else None)
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type.startswith("text/") or content_type in ("application/json",):
        raise NotAudioError(
            f"{clean(url)} sent {clean(content_type, 60)}, not audio. The episode was not "
            "downloaded."
        )
    needed = (shown - have) if shown else 0
    if disk_free(folder) - needed < settings.reserve_bytes:
        raise DiskFullError(
            f"Not enough free space in {folder} for {title!r} "
            f"({needed // (1024 * 1024)} MiB). Delete played episodes or lower the "
            "storage cap."
        )
    if not have:
        _discard(part)
        _save_version(part, _Version.of(url, response, total))
    else:
        _LOGGER.info("resuming %s at byte %d", url, have)
    # From here on the deadline moves with the progress: `stall_bytes` more within `stall_s`,
    # and never past `max_duration_s` from the start.
    cap_message = (
        f"The download of {title!r} took more than {settings.max_duration_s:g} s, the longest "
        "one may take. Run it again to resume."
    )
    mark = have

    def arm(now: float, done: int) -> None:
        stall_at = now - guard.started + settings.stall_s
        if stall_at < settings.max_duration_s:
            guard.set_deadline(
                stall_at,
                f"The download of {title!r} stalled: less than "
                f"{_kib(settings.stall_bytes)} in {settings.stall_s:g} s, at {done} bytes. "
                "Run it again to resume.",
            )
        else:
            guard.set_deadline(settings.max_duration_s, cap_message)

    arm(time.monotonic(), have)
    done = have
    try:
        with part.open("ab" if have else "wb") as out:
            seen_content = bool(have)
            while True:
                try:
                    chunk = read_some(response, url, guard, settings.fetch, done)
                except (IncompleteError, FetchTimeoutError) as err:
                    if guard.stopped() is not None:
                        raise  # stalled, or too long: the guard's message says so
                    raise type(err)(_broke_off(title, done, total, err.message)) from err
                if not chunk:
                    break
                if not seen_content and chunk.strip():
                    seen_content = True
                    if not _looks_like_audio(chunk):
                        raise NotAudioError(
                            f"{clean(url)} did not send audio (it starts "
                            f"{clean(repr(chunk.lstrip()[:16]), 40)}). The episode was not "
                            "downloaded."
                        )
                _write(out, chunk)
                done += len(chunk)
                if total is not None and done > total:
                    raise BadResponseError(
                        f"{clean(url)} sent more than the {total} bytes it announced for "
                        f"{title!r}. Try again later."
                    )
                now = time.monotonic()
                if done - mark >= settings.stall_bytes:
                    mark = done
                    arm(now, done)
                if progress is not None:
                    progress(done, shown)
            out.flush()
            os.fsync(out.fileno())
    except (NotAudioError, BadResponseError):
        _discard(part)
        raise
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            _discard(part)
            raise DiskFullError(
                f"The disk filled up while downloading {title!r}; the partial file "
                "was removed. Free some space and try again."
            ) from err
        raise PodcastError(f"Cannot write {part}: {err.strerror or err}.") from err
    if done == 0:
        _discard(part)
        raise FetchError(
            f"{clean(url)} sent an empty file for {title!r}; nothing was saved. Try again later."
        )
    if total is not None and done < total:
        raise IncompleteError(
            f"The download of {title!r} is incomplete ({done} of {total} bytes). "
            "Run it again to resume."
        )
    return done


def _broke_off(title: str, done: int, total: int | None, why: str) -> str:
    of = f" of {total}" if total is not None else ""
    return (
        f"The download of {title!r} broke off at {done}{of} bytes ({why.rstrip('.')}). "
        "Run it again to resume."
    )


def _kib(n: int) -> str:
    return f"{n // 1024} KiB" if n >= 1024 else f"{n} bytes"


def _write(out: BinaryIO, data: bytes) -> int:
    """The one place audio reaches the disk (tests make it fail with ENOSPC)."""
    return out.write(data)


def _looks_like_audio(head: bytes) -> bool:
    """Catch web pages and error documents served in place of audio; accept anything else."""
    stripped = head.lstrip()
    return stripped[:1] not in (b"<", b"{")


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, total length or None) of "bytes FIRST-LAST/TOTAL"; (None, None) if bad."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", header or "")
    if match is None or int(match.group(2)) < int(match.group(1)):
        return None, None
    total = int(match.group(3)) if match.group(3) != "*" else None
    if total is not None and total <= int(match.group(2)):
        return None, None
    return int(match.group(1)), total


def _extension(url: str, mime_type: str | None) -> str:
    ext = posixpath.splitext(urlsplit(url).path)[1].lower()
    if re.fullmatch(r"\.[a-z0-9]{2,4}", ext):
        return ext
    guessed = mimetypes.guess_extension(mime_type or "") if mime_type else None
    return guessed or ".mp3"


def enforce_cap(library: Library, cap_bytes: int, *, keep: Collection[int] = ()) -> list[Episode]:
    """Delete the downloads of episodes played longest ago until the total fits `cap_bytes`.

    Episodes never played are deleted only after every played one; `keep` are never deleted.
    Returns the episodes whose files went.
    """
    files = library.downloaded()
    total = sum(ep.file_size or 0 for ep in files)
    removed: list[Episode] = []
    for ep in files:
        if total <= cap_bytes:
            break
        if ep.id in keep or ep.played is None:
            continue
        path = episode_path(library, ep)
        if path is not None:
            path.unlink(missing_ok=True)
        library.set_file(ep.id, None, None)
        total -= ep.file_size or 0
        removed.append(ep)
        _LOGGER.info("storage cap: deleted the download of %s", ep.title)
    return removed


def delete_files(library: Library, files: Collection[str]) -> None:
    for name in files:
        (library.episodes_dir / name).unlink(missing_ok=True)


# --- transcripts ----------------------------------------------------------------------------------


def _fetch_transcript(
    library: Library, episode: Episode, settings: FetchSettings, cancel: Cancel | None
) -> None:
    url = episode.transcript_url or ""
    slow = f"{clean(url)} took more than {settings.feed_deadline_s:g} s to send a transcript."
    try:
        with (
            Guard(settings.feed_deadline_s, slow, cancel=cancel) as guard,
            open_url(url, settings, guard=guard) as (response, _redirects),
        ):
            body = read_capped(response, url, _MAX_TRANSCRIPT_BYTES, settings, guard)
            kind = episode.transcript_type or response.headers.get("Content-Type") or ""
    except PodcastError as err:
        _LOGGER.warning("transcript of %s not fetched: %s", episode.title, err)
        return
    text = transcript_text(body.decode("utf-8", errors="replace"), kind)
    if text:
        library.set_transcript(episode.id, text)


_CUE_TIME: Final = re.compile(r"^\s*(\d+:)?\d+:\d+[.,]\d+\s*-->")


def transcript_text(body: str, kind: str) -> str:
    """Plain text of a Podcasting 2.0 transcript: WebVTT, SRT, HTML, JSON or text."""
    kind = kind.lower()
    if "json" in kind or body.lstrip().startswith("{"):
        try:
            data: Any = json.loads(body)
            segments = data.get("segments", []) if isinstance(data, dict) else []
            return " ".join(str(s.get("body", "")).strip() for s in segments).strip()
        except (ValueError, AttributeError):
            return ""
    if "html" in kind:
        return html_to_text(body)
    if "vtt" in kind or "srt" in kind or "subrip" in kind or body.startswith("WEBVTT"):
        lines = []
        for line in body.splitlines():
            s = line.strip()
            if not s or s.isdigit() or _CUE_TIME.match(s) or s.startswith(("WEBVTT", "NOTE")):
                continue
            lines.append(re.sub(r"<[^>]+>", "", s))
        return " ".join(lines)
    return body.strip()
