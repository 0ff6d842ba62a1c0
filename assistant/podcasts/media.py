"""`skills.sdk.MediaController` over the library, the downloader and the player.

The skill host builds one `PodcastMedia` and hands it to skills as `ctx.media`; the pipeline
calls `duck()` while it listens or speaks. Positions are committed on pause, stop, seek, at the
end and every few seconds of playback, so a restart resumes where the user stopped.

Playing an episode that is not downloaded downloads it first, in a thread of its own. One
download at a time, and the newest request wins: a "play" that is interrupted (barge-in,
"stop") or taken over by another "play" stops its download at once (the partial file is kept
to resume), and so does `close()`. The thread is a daemon, so even a download stuck where it
cannot be interrupted (a DNS lookup) never keeps the assistant from exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from assistant.audio import AudioSink
from assistant.podcasts.download import (
    DownloadSettings,
    download,
    episode_path,
    forget,
    usable,
)
from assistant.podcasts.errors import DamagedFileError, PodcastError
from assistant.podcasts.fetch import Cancel
from assistant.podcasts.library import Episode, Library
from assistant.podcasts.player import Player
from assistant.store import StoreError
from skills.sdk import EpisodeInfo, MediaError, NowPlaying, PodcastInfo, ShowNotes

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaSettings:
    download: DownloadSettings = field(default_factory=DownloadSettings)
    save_every_s: float = 10.0
    duck_gain: float = 0.2


def episode_info(ep: Episode, *, downloaded: bool | None = None) -> EpisodeInfo:
    return EpisodeInfo(
        id=ep.id,
        podcast=ep.podcast,
        title=ep.title,
        description=ep.description,
        published=ep.published_at,
        duration_s=float(ep.duration_s) if ep.duration_s else None,
        downloaded=ep.file is not None if downloaded is None else downloaded,
        position_s=ep.position_s,
        finished=ep.finished,
    )


class PodcastMedia:
    """Build once per assistant run with the sink episodes play to; `close()` at the end."""

    def __init__(
        self, library: Library, sink: AudioSink, settings: MediaSettings | None = None
    ) -> None:
        self._library = library
        self._settings = settings or MediaSettings()
        self.player = Player(
            sink,
            on_position=self._save_position,
            save_every_s=self._settings.save_every_s,
            duck_gain=self._settings.duck_gain,
        )
        self._downloading: tuple[Cancel, str] | None = None  # under way, and its title
        self._download_lock = threading.Lock()  # one at a time: an old one ends, then the new
        self._threads: set[threading.Thread] = set()
        self._owns_library = False

    @classmethod
    def open(
        cls, data_dir: Path, sink: AudioSink, settings: MediaSettings | None = None
    ) -> PodcastMedia:
        """Open the library in `data_dir` (the assistant's database); `close()` closes it."""
        media = cls(Library.open(data_dir), sink, settings)
        media._owns_library = True
        return media

    @property
    def library(self) -> Library:
        return self._library

    async def close(self) -> None:
        if self._downloading is not None:
            self._downloading[0].cancel("The assistant is shutting down.")
        await self.player.close()
        for thread in list(self._threads):  # a cancelled download ends within moments
            await asyncio.to_thread(thread.join, 2.0)
        if self._owns_library:
            self._library.close()

    def duck(self, on: bool = True) -> None:
        """The assistant is listening or speaking (on) or done (off)."""
        self.player.duck(on)

    # --- queries ------------------------------------------------------------------------------

    def podcasts(self) -> list[PodcastInfo]:
        with _errors():
            return [
                PodcastInfo(id=s.id, title=s.title, description=s.description, episodes=s.episodes)
                for s in self._library.subscriptions()
            ]

    def episodes(
        self, podcast_id: int | None = None, *, limit: int | None = None
    ) -> list[EpisodeInfo]:
        with _errors():
            eps = self._library.episodes(podcast_id, limit=limit, audio_only=True)
        # A download that is damaged or gone will be fetched again: the skill says so first.
        return [episode_info(ep, downloaded=usable(self._library, ep)) for ep in eps]

    def now_playing(self) -> NowPlaying | None:
        loaded = self.player.loaded
        if loaded is None or self.player.state == "stopped":
            return None
        ep = self._library.episode(loaded.key)
        if ep is None:
            return None
        return NowPlaying(
            episode=episode_info(ep),
            position_s=self.player.position_s,
            paused=self.player.state == "paused",
        )

    def show_notes(self, episode_id: int | None = None) -> ShowNotes | None:
        with _errors():
            if episode_id is None:
                loaded = self.player.loaded
                ep = self._library.episode(loaded.key) if loaded else self._library.last_played()
            else:
                ep = self._library.episode(episode_id)
        if ep is None:
            return None
        return ShowNotes(episode=episode_info(ep), description=ep.description,
                         transcript=ep.transcript)  # fmt: skip

    # --- control ------------------------------------------------------------------------------

    async def play(self, episode_id: int, *, from_start: bool = False) -> EpisodeInfo:
        with _errors():
            ep = self._library.episode(episode_id)
            if ep is None:
                raise MediaError("That episode is no longer in the library.")
            if not usable(self._library, ep):
                ep = await self._download(ep)
            path = episode_path(self._library, ep)
            if path is None:
                raise MediaError(f"{ep.title} could not be downloaded.")
            start = 0.0 if from_start or ep.finished else ep.position_s
            try:
                await self.player.play(path, key=ep.id, start_s=start)
            except DamagedFileError:
                # A damaged download would fail the same way every time: delete it, so that
                # the next "play" (or `podcasts download`) fetches it again.
                _LOGGER.warning("%s cannot be played; deleting its download", path)
                forget(self._library, ep)
                raise
            self._library.save_position(ep.id, self.player.position_s)
        return episode_info(ep)

    async def _download(self, ep: Episode) -> Episode:
        """Download `ep` in a daemon thread; stop whatever download was under way first."""
        if self._downloading is not None:
            old, title = self._downloading
            old.cancel(f"Stopped downloading {title} to play {ep.title}.")
        cancel = Cancel()
        self._downloading = (cancel, ep.title)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Episode] = loop.create_future()

        def deliver(result: Episode | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                assert result is not None
                done.set_result(result)

        def work() -> None:
            result, error = None, None
            try:
                with self._download_lock:  # a cancelled one stops at its first request
                    result = download(self._library, ep, self._settings.download, cancel=cancel)
            except BaseException as err:  # delivered to the awaiting coroutine
                error = err
            finally:
                self._threads.discard(threading.current_thread())
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(deliver, result, error)

        thread = threading.Thread(target=work, name="podcast-download", daemon=True)
        self._threads.add(thread)
        thread.start()
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            cancel.cancel(f"The download of {ep.title!r} was stopped.")
            raise
        except (PodcastError, StoreError):
            raise
        except Exception as err:  # a bug, not the network: still one spoken line, logged in full
            _LOGGER.exception("downloading %s failed", ep.title)
            raise PodcastError(f"Downloading {ep.title!r} failed: {err}.") from err
        finally:
            if self._downloading is not None and self._downloading[0] is cancel:
                self._downloading = None

    async def pause(self) -> bool:
        return await self.player.pause()

    async def resume(self) -> EpisodeInfo | None:
        loaded = self.player.loaded
        if loaded is not None and await self.player.resume():
            ep = self._library.episode(loaded.key)
            return episode_info(ep) if ep else None
        if self.player.state == "playing" and loaded is not None:
            ep = self._library.episode(loaded.key)
            return episode_info(ep) if ep else None
        last = self._library.last_played()
        if last is None:
            return None
        return await self.play(last.id)

    async def stop(self) -> bool:
        was = self.player.state != "stopped"
        await self.player.stop()
        return was

    async def skip(self, seconds: float) -> float | None:
        if self.player.loaded is None:
            return None
        return await self.player.skip(seconds)

    async def next(self) -> EpisodeInfo | None:
        return await self._step(+1)

    async def previous(self) -> EpisodeInfo | None:
        return await self._step(-1)

    async def _step(self, step: int) -> EpisodeInfo | None:
        loaded = self.player.loaded
        current = self._library.episode(loaded.key) if loaded else self._library.last_played()
        if current is None:
            return None
        target = self._library.neighbour(current, step)
        if target is None:
            return None
        return await self.play(target.id)

    def _save_position(self, key: int, position_s: float, finished: bool) -> None:
        self._library.save_position(key, position_s, finished=finished)


@contextmanager
def _errors() -> Iterator[None]:
    """PodcastError and StoreError -> MediaError, whose message the skill says."""
    try:
        yield
    except (PodcastError, StoreError) as err:
        _LOGGER.warning("%s", err.message)  # the whole story, addresses and all, for the log
        raise MediaError(_SPOKEN.get(err.code, _spoken(err.message)), code=err.code) from err


# Spoken messages stay short: nobody wants a URL read aloud.
_SPOKEN = {
    "podcast_fetch": "I couldn't reach the podcast's server. Check the network connection.",
    "podcast_http_status": "The podcast's server refused the request.",
    "podcast_timeout": "The podcast's server took too long to answer.",
    "podcast_bad_response": "The podcast's server sent a broken answer.",
    "podcast_incomplete": "The download broke off before the end. Ask again to resume it.",
    "podcast_too_large": "That download is larger than I allow.",
    "podcast_not_a_feed": "That address is not a podcast feed.",
    "podcast_not_audio": "That episode's file is not audio I can play.",
    "podcast_disk_full": "There is not enough disk space for that episode.",
    "podcast_playback": "I couldn't play that episode.",
    "podcast_damaged": "That episode's download was damaged, so I deleted it. Ask again to "
    "download it again.",
}


def _spoken(message: str) -> str:
    return message if len(message) <= 120 and "://" not in message else "Sorry, that didn't work."
