"""Episode downloads for offline listening: resumable (HTTP Range), checked, and kept under a cap.

Audio is written to `NAME.part` and renamed only once its length matches what the server
announced, so a finished download is never half a file. An interrupted download keeps its part
file and the next attempt asks only for the rest. When the episodes folder passes the storage
cap, the files of episodes played longest ago go first; the one just fetched never does.
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
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http.client import HTTPResponse
from pathlib import Path
from typing import Any, BinaryIO, Final
from urllib.parse import urlsplit

from assistant.podcasts.errors import (
    DiskFullError,
    FetchError,
    HttpStatusError,
    NotAudioError,
    PodcastError,
)
from assistant.podcasts.feeds import Enclosure, html_to_text
from assistant.podcasts.fetch import CHUNK, FetchSettings, open_url, read_capped
from assistant.podcasts.library import Episode, Library

_LOGGER = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)
DiskFree = Callable[[Path], int]

_MAX_TRANSCRIPT_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadSettings:
    fetch: FetchSettings = field(default_factory=lambda: FetchSettings(timeout_s=30.0))
    storage_cap_bytes: int = 4 * 1024**3
    reserve_bytes: int = 64 * 1024**2  # never fill the disk past this much free space


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


def episode_path(library: Library, episode: Episode) -> Path | None:
    return library.episodes_dir / episode.file if episode.file else None


def download(
    library: Library,
    episode: Episode,
    settings: DownloadSettings,
    *,
    progress: Progress | None = None,
    keep: Collection[int] = (),
    disk_free: DiskFree = _disk_free,
) -> Episode:
    """Fetch the episode's audio (resuming a part file), record it, enforce the storage cap."""
    existing = episode_path(library, episode)
    if existing is not None and existing.exists():
        return episode
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
    size = _fetch_to(part, url, episode, settings, folder, progress, disk_free)
    final = folder / name
    os.replace(part, final)
    library.set_file(episode.id, f"{episode.feed_id}/{name}", size)
    _LOGGER.info("downloaded %s (%d bytes) to %s", episode.title, size, final)
    enforce_cap(library, settings.storage_cap_bytes, keep={episode.id, *keep})
    if episode.transcript_url and not episode.transcript:
        _fetch_transcript(library, episode, settings.fetch)
    updated = library.episode(episode.id)
    if updated is None:
        raise PodcastError(f"{episode.title!r} was removed while it downloaded.")
    return updated


def _fetch_to(
    part: Path,
    url: str,
    episode: Episode,
    settings: DownloadSettings,
    folder: Path,
    progress: Progress | None,
    disk_free: DiskFree,
) -> int:
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with open_url(url, settings.fetch, headers) as (response, _redirects):
            return _receive(response, part, have, url, episode, settings, folder, progress,
                            disk_free)  # fmt: skip
    except HttpStatusError as err:
        if err.status != 416 or not have:
            raise
    # 416: the part file is no prefix of what the server has now. Start over.
    _LOGGER.info("server refused to resume %s; downloading it again", url)
    part.unlink(missing_ok=True)
    return _fetch_to(part, url, episode, settings, folder, progress, disk_free)


def _receive(
    response: HTTPResponse,
    part: Path,
    have: int,
    url: str,
    episode: Episode,
    settings: DownloadSettings,
    folder: Path,
    progress: Progress | None,
    disk_free: DiskFree,
) -> int:
    if response.status == 206 and _range_start(response.headers.get("Content-Range")) == have:
        total = _range_total(response.headers.get("Content-Range"))
        _LOGGER.info("resuming %s at byte %d", url, have)
    else:
        have = 0
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
    # Feeds' lengths are often stale or made up: only the server's count is checked.
    shown = total if total is not None else (episode.size if episode.size > 0 else None)
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type.startswith("text/") or content_type in ("application/json",):
        raise NotAudioError(
            f"{url} sent {content_type}, not audio. The episode was not downloaded."
        )
    needed = (shown - have) if shown else 0
    if disk_free(folder) - needed < settings.reserve_bytes:
        raise DiskFullError(
            f"Not enough free space in {folder} for {episode.title!r} "
            f"({needed // (1024 * 1024)} MiB). Delete played episodes or lower the "
            "storage cap."
        )
    done = have
    try:
        with part.open("ab" if have else "wb") as out:
            first = True
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (TimeoutError, OSError) as err:
                    raise FetchError(
                        f"The download of {episode.title!r} broke off at {done} bytes "
                        f"({err}). Run it again to resume."
                    ) from err
                if not chunk:
                    break
                if first and not have and not _looks_like_audio(chunk):
                    raise NotAudioError(
                        f"{url} did not send audio (it starts {chunk[:16]!r}). "
                        "The episode was not downloaded."
                    )
                first = False
                _write(out, chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, shown)
            out.flush()
            os.fsync(out.fileno())
    except NotAudioError:
        part.unlink(missing_ok=True)
        raise
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            part.unlink(missing_ok=True)
            raise DiskFullError(
                f"The disk filled up while downloading {episode.title!r}; the partial file "
                "was removed. Free some space and try again."
            ) from err
        raise PodcastError(f"Cannot write {part}: {err.strerror or err}.") from err
    if total is not None and done != total:
        raise FetchError(
            f"The download of {episode.title!r} is incomplete ({done} of {total} bytes). "
            "Run it again to resume."
        )
    return done


def _write(out: BinaryIO, data: bytes) -> int:
    """The one place audio reaches the disk (tests make it fail with ENOSPC)."""
    return out.write(data)


def _looks_like_audio(head: bytes) -> bool:
    """Catch web pages and error documents served in place of audio; accept anything else."""
    stripped = head.lstrip()
    return stripped[:1] not in (b"<", b"{")


def _range_start(header: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", header or "")
    return int(match.group(1)) if match else None


def _range_total(header: str | None) -> int | None:
    match = re.match(r"bytes \d+-\d+/(\d+)", header or "")
    return int(match.group(1)) if match else None


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


def _fetch_transcript(library: Library, episode: Episode, settings: FetchSettings) -> None:
    url = episode.transcript_url or ""
    try:
        with open_url(url, settings) as (response, _redirects):
            body = read_capped(response, url, _MAX_TRANSCRIPT_BYTES, settings)
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
