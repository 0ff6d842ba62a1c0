"""`sottovoce podcasts ...`: add, list, remove, refresh, episodes, download, play.

Wire in with `podcasts_cli.add_parsers(subparsers)`; each handler returns an exit status. Errors
print one line that says what to do, and exit 1; nothing stored changes on an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC

from assistant import paths
from assistant.audio import AudioSink
from assistant.errors import AudioError, SottovoceError
from assistant.podcasts.download import DownloadSettings, delete_files, download
from assistant.podcasts.fetch import FetchSettings
from assistant.podcasts.library import Episode, Library
from assistant.podcasts.media import MediaSettings, PodcastMedia
from assistant.podcasts.sync import refresh, refresh_all, subscribe
from assistant.shutdown import until_signalled
from assistant.store import StoreError
from skills.sdk import MediaError


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    podcasts = subparsers.add_parser("podcasts", help="podcast subscriptions and episodes")
    podcasts.add_argument("--home", help="data dir (default: $SOTTOVOCE_HOME or user data dir)")
    podcasts.add_argument("--timeout", type=float, default=15.0, help="network timeout, seconds")
    sub = podcasts.add_subparsers(dest="podcasts_command", required=True)

    p = sub.add_parser("add", help="subscribe to a feed (URL or file)")
    p.add_argument("source", help="feed URL, or a path to a feed file")
    p.set_defaults(handler=cmd_add)

    p = sub.add_parser("list", help="subscriptions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("remove", help="unsubscribe and delete its downloads")
    p.add_argument("name", help="id, title or a unique part of the title")
    p.set_defaults(handler=cmd_remove)

    p = sub.add_parser("refresh", help="fetch new episodes (all podcasts, or one)")
    p.add_argument("name", nargs="?", help="id, title or a unique part of the title")
    p.set_defaults(handler=cmd_refresh)

    p = sub.add_parser("episodes", help="a podcast's episodes, newest first")
    p.add_argument("name", help="id, title or a unique part of the title")
    p.add_argument("--limit", type=int, default=None, help="at most this many")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_episodes)

    p = sub.add_parser("download", help="download episodes for offline listening")
    p.add_argument("name", help="id, title or a unique part of the title")
    p.add_argument("episode", nargs="?", help="episode id (default: the latest)")
    p.add_argument("--cap-gb", type=float, default=4.0, help="storage cap for all downloads")
    p.set_defaults(handler=cmd_download)

    p = sub.add_parser(
        "play", help="play an episode from where it stopped (Ctrl-C saves); downloads it if needed"
    )
    p.add_argument("name", help="id, title or a unique part of the title")
    p.add_argument("episode", nargs="?", help="episode id (default: the latest)")
    p.add_argument("--device", help="output device (index or part of its name)")
    p.add_argument("--out", metavar="WAV", help="write to a WAV file instead of a speaker")
    p.add_argument("--from-start", action="store_true", help="ignore the saved position")
    p.set_defaults(handler=cmd_play)


def _fetch_settings(args: argparse.Namespace) -> FetchSettings:
    return FetchSettings(timeout_s=float(getattr(args, "timeout", 15.0)))


@contextmanager
def _library(args: argparse.Namespace) -> Iterator[Library]:
    library = Library.open(paths.data_dir(getattr(args, "home", None)))
    try:
        yield library
    finally:
        library.close()


def _run(args: argparse.Namespace, body: Callable[[Library], int]) -> int:
    try:
        with _library(args) as library:
            return body(library)
    except (SottovoceError, MediaError, StoreError) as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1


def cmd_add(args: argparse.Namespace) -> int:
    def body(library: Library) -> int:
        result = subscribe(library, args.source, _fetch_settings(args))
        sub = result.subscription
        print(f"Subscribed to {sub.title} (#{sub.id}): {sub.episodes} episodes.")
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return 0

    return _run(args, body)


def cmd_list(args: argparse.Namespace) -> int:
    def body(library: Library) -> int:
        subs = library.subscriptions()
        if args.json:
            rows = [
                {"id": s.id, "title": s.title, "url": s.url, "episodes": s.episodes,
                 "refreshed": s.refreshed}
                for s in subs
            ]  # fmt: skip
            for row in rows:  # JSON Lines, like every --json list
                print(json.dumps(row, ensure_ascii=False))
        elif not subs:
            print("No subscriptions. Add one with: sottovoce podcasts add URL")
        for s in subs if not args.json else []:
            print(f"#{s.id}  {s.title}  ({s.episodes} episodes)  {s.url}")
        return 0

    return _run(args, body)


def cmd_remove(args: argparse.Namespace) -> int:
    def body(library: Library) -> int:
        sub = library.subscription(args.name)
        files = library.remove(sub.id)
        delete_files(library, files)
        print(f"Removed {sub.title} and {len(files)} downloaded episode(s).")
        return 0

    return _run(args, body)


def cmd_refresh(args: argparse.Namespace) -> int:
    def body(library: Library) -> int:
        settings = _fetch_settings(args)
        if args.name:
            results = [refresh(library, library.subscription(args.name), settings)]
        else:
            results = refresh_all(library, settings)
        failed = 0
        for r in results:
            if r.error is not None:
                failed += 1
                print(f"{r.subscription.title}: error: {r.error.message}", file=sys.stderr)
            elif r.not_modified:
                print(f"{r.subscription.title}: not modified")
            else:
                print(f"{r.subscription.title}: {r.new_episodes} new episode(s)")
        return 1 if failed else 0

    return _run(args, body)


def _when(ep: Episode) -> str:
    at = ep.published_at
    return at.astimezone(UTC).strftime("%Y-%m-%d") if at else "-"


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def cmd_episodes(args: argparse.Namespace) -> int:
    def body(library: Library) -> int:
        sub = library.subscription(args.name)
        eps = library.episodes(sub.id, limit=args.limit)
        if args.json:
            for ep in eps:  # JSON Lines, like every --json list
                print(json.dumps(ep.to_json(), ensure_ascii=False))
            return 0
        for ep in eps:
            flags = ("D" if ep.file else "-") + ("F" if ep.finished else "-")
            size = f"{ep.size / 1e6:.0f} MB" if ep.size > 0 else "?"
            position = f" at {_clock(ep.position_s)}" if ep.position_s else ""
            print(
                f"#{ep.id:<5} {_when(ep)} {flags} {_clock(ep.duration_s)} {size:>7}  "
                f"{ep.title}{position}\n        {ep.mime_type or '-'}  {ep.audio_url or '-'}"
            )
        return 0

    return _run(args, body)


def _pick(library: Library, args: argparse.Namespace) -> Episode:
    sub = library.subscription(args.name)
    if args.episode:
        ep = library.episode(int(args.episode)) if str(args.episode).isdigit() else None
        if ep is None or ep.feed_id != sub.id:
            raise MediaError(f"{sub.title} has no episode #{args.episode}.")
        return ep
    eps = library.episodes(sub.id, limit=1, audio_only=True)
    if not eps:
        raise MediaError(f"{sub.title} has no episodes with audio.")
    return eps[0]


class _ProgressBar:
    def __init__(self, title: str) -> None:
        self._title = title[:40]
        self._last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < 0.2 and (total is None or done < total):
            return
        self._last = now
        if total:
            filled = int(30 * done / total)
            bar = "#" * filled + "." * (30 - filled)
            line = f"{self._title} [{bar}] {done / 1e6:.1f}/{total / 1e6:.1f} MB"
        else:
            line = f"{self._title} {done / 1e6:.1f} MB"
        print(f"\r{line}", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        print(file=sys.stderr)


def cmd_download(args: argparse.Namespace) -> int:
    def body(library: Library) -> int:
        ep = _pick(library, args)
        bar = _ProgressBar(ep.title)
        settings = DownloadSettings(
            fetch=FetchSettings(timeout_s=max(30.0, float(args.timeout))),
            storage_cap_bytes=int(args.cap_gb * 1024**3),
        )
        try:
            done = download(library, ep, settings, progress=bar)
        finally:
            bar.finish()
        print(f"Downloaded {done.title} ({(done.file_size or 0) / 1e6:.1f} MB).")
        return 0

    return _run(args, body)


def _sink(args: argparse.Namespace) -> AudioSink:
    from assistant.audio_io import SpeakerSink, WavFileSink

    if args.out:
        return WavFileSink(args.out)
    device = int(args.device) if args.device and args.device.isdigit() else args.device
    try:
        return SpeakerSink(device)
    except AudioError as err:  # the audio layer names `run`'s flags; this command's is --out
        message = err.message.replace("--output FILE.wav", "--out FILE.wav")
        raise AudioError(
            message.replace("--input FILE.wav", "--out FILE.wav"), code=err.code
        ) from err


def cmd_play(args: argparse.Namespace) -> int:
    def body(library: Library) -> int:
        ep = _pick(library, args)
        play = _play(library, ep, _sink(args), from_start=args.from_start)
        try:  # SIGTERM or Ctrl-C stops the player, which saves the position
            result = asyncio.run(until_signalled(play, name="podcasts-play"))
        except KeyboardInterrupt:  # a second Ctrl-C, while stopping
            result = None
        if result is not None and not isinstance(result, signal.Signals):
            return result  # played to the end, or stopped while playing (said by _play)
        saved = library.episode(ep.id)
        where = _clock(saved.position_s) if saved else "?"
        print(f"\nStopped; {ep.title} will resume at {where}.")
        return 130 if result is None else 0

    return _run(args, body)


async def _play(library: Library, ep: Episode, sink: AudioSink, *, from_start: bool) -> int:
    media = PodcastMedia(library, sink, MediaSettings())
    try:
        info = await media.play(ep.id, from_start=from_start)
        print(f"Playing {info.title} from {_clock(media.player.position_s)} (Ctrl-C to stop).")
        with contextlib.suppress(asyncio.CancelledError):
            await media.player.wait()
    finally:
        await media.close()
        await sink.close()
    saved = library.episode(ep.id)
    if saved is not None:
        state = "finished" if saved.finished else f"stopped at {_clock(saved.position_s)}"
        print(f"{saved.title}: {state}.")
    return 0
