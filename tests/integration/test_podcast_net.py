"""Subscribe, refresh and download over HTTP against a server on 127.0.0.1, bad input included."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.podcasts import download as download_module
from assistant.podcasts.download import DownloadSettings, download, enforce_cap
from assistant.podcasts.errors import (
    DiskFullError,
    FetchError,
    FetchTimeoutError,
    HttpStatusError,
    NotAFeedError,
    NotAudioError,
    TooLargeError,
)
from assistant.podcasts.fetch import FetchSettings
from assistant.podcasts.library import Library
from assistant.podcasts.sync import refresh, refresh_all, subscribe
from tests.corpora import corpus
from tests.podcast_support import FeedServer, Route, encode_tone, feed_server, rss

FAST = FetchSettings(timeout_s=2.0)
MP3 = encode_tone(2.0)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        yield s


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    lib = Library.open(tmp_path / "data")
    yield lib
    lib.close()


def _feed(server: FeedServer, *, episodes: int = 2, mp3: bytes = MP3) -> str:
    items = []
    for n in range(1, episodes + 1):
        url = server.add(f"/ep{n}.mp3", Route(body=mp3, content_type="audio/mpeg", etag=f'"e{n}"'))
        items.append(
            {"title": f"Episode {n}", "guid": f"g{n}", "date": f"Mon, 0{n} Jan 2024 10:00:00 GMT",
             "url": url, "length": str(len(mp3)), "notes": f"<p>Notes {n}</p>"}
        )  # fmt: skip
    return server.add("/feed.xml", Route(body=rss("Tones", items), etag='"v1"',
                                         content_type="application/rss+xml"))  # fmt: skip


def _download_settings(**kw: int) -> DownloadSettings:
    return DownloadSettings(fetch=FAST, reserve_bytes=0, **kw)


def test_subscribe_real_feed_over_http(server: FeedServer, library: Library) -> None:
    path = corpus("podcast_feeds", "real", "giantbomb_bombcast.rss")
    url = server.add("/bombcast", Route(body=path.read_bytes(), last_modified="Tue, 01 Oct 2019"))
    result = subscribe(library, url, FAST)
    assert result.new_episodes == 730
    assert result.subscription.title == "Giant Bombcast"
    again = refresh(library, library.subscription("bombcast"), FAST)
    assert again.not_modified
    assert server.hits[-1].headers.get("If-Modified-Since") == "Tue, 01 Oct 2019"


def test_refresh_keeps_user_state_and_uses_etag(server: FeedServer, library: Library) -> None:
    url = _feed(server)
    sub = subscribe(library, url, FAST).subscription
    ep = library.episodes(sub.id)[0]
    library.save_position(ep.id, 42.0)
    assert refresh(library, library.subscription("Tones"), FAST).not_modified
    assert server.hits[-1].headers.get("If-None-Match") == '"v1"'
    server.routes["/feed.xml"].etag = '"v2"'  # changed: full fetch, upsert
    result = refresh(library, library.subscription("Tones"), FAST)
    assert not result.not_modified and result.new_episodes == 0
    assert library.episode(ep.id) is not None
    assert library.episode(ep.id).position_s == 42.0  # type: ignore[union-attr]


def test_permanent_redirect_moves_the_subscription(server: FeedServer, library: Library) -> None:
    target = _feed(server)
    old = server.add("/old.xml", Route(status=301, redirect=target))
    sub = subscribe(library, old, FAST).subscription
    assert sub.url == target


@pytest.mark.parametrize(
    ("route", "error", "message"),
    [
        (Route(status=404), HttpStatusError, "not found"),
        (Route(status=503), HttpStatusError, "Try again later"),
        (Route(body=b"<html><body>Hello</body></html>", content_type="text/html"), NotAFeedError,
         "not a podcast feed"),
        (Route(delay_s=1.0, body=b"<rss/>"), FetchTimeoutError, "did not answer"),
        (Route(body=b"<rss>" + b" " * 4096), TooLargeError, "too large"),
    ],
    ids=["404", "503", "not-a-feed", "timeout", "too-large"],
)  # fmt: skip
def test_bad_feeds_leave_the_library_intact(
    server: FeedServer, library: Library, route: Route, error: type[Exception], message: str
) -> None:
    good = _feed(server)
    subscribe(library, good, FAST)
    ep = library.episodes()[0]
    library.save_position(ep.id, 12.5)
    before = (library.subscriptions(), library.episodes())
    bad = server.add("/bad", route)
    settings = FetchSettings(timeout_s=0.3, max_feed_bytes=2048)
    with pytest.raises(error, match=message):
        subscribe(library, bad, settings)
    assert (library.subscriptions(), library.episodes()) == before
    # A feed that goes bad later: refresh reports it, keeps the others.
    server.routes["/feed.xml"] = route
    results = refresh_all(library, settings)
    assert isinstance(results[0].error, error)
    assert (library.subscriptions(), library.episodes()) == before


def test_a_trickling_feed_times_out(server: FeedServer, library: Library) -> None:
    slow = server.add("/slow", Route(body=rss("Slow", []) + b" " * 8192, trickle_s=0.05))
    settings = FetchSettings(timeout_s=2.0, feed_deadline_s=0.2)
    with pytest.raises(FetchTimeoutError, match="took more than"):
        subscribe(library, slow, settings)
    assert library.subscriptions() == []


def test_unreachable_host(library: Library) -> None:
    with pytest.raises(FetchError, match="Cannot reach"):
        subscribe(library, "http://127.0.0.1:9/feed.xml", FAST)
    assert library.subscriptions() == []


def test_download_with_progress_and_length_check(server: FeedServer, library: Library) -> None:
    subscribe(library, _feed(server), FAST)
    ep = library.episodes()[0]
    seen: list[tuple[int, int | None]] = []
    done = download(library, ep, _download_settings(), progress=lambda d, t: seen.append((d, t)))
    assert done.file is not None and done.file_size == len(MP3)
    assert (library.episodes_dir / done.file).read_bytes() == MP3
    assert seen[-1] == (len(MP3), len(MP3))


def test_interrupted_download_resumes_with_range(server: FeedServer, library: Library) -> None:
    subscribe(library, _feed(server), FAST)
    ep = library.episodes()[0]
    server.routes["/ep2.mp3"].cut_after = 10_000
    with pytest.raises(FetchError, match="Run it again to resume"):
        download(library, ep, _download_settings())
    assert library.episode(ep.id).file is None  # type: ignore[union-attr]
    parts = list(library.episodes_dir.rglob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size == 10_000
    done = download(library, ep, _download_settings())
    assert server.hits[-1].headers.get("Range") == "bytes=10000-"
    assert server.hits[-1].headers.get("If-Range") == '"e2"'  # only if it is still that file
    assert server.hits[-1].status == 206
    assert (library.episodes_dir / str(done.file)).read_bytes() == MP3
    assert not list(library.episodes_dir.rglob("*.part"))


def test_a_stale_part_file_is_replaced(server: FeedServer, library: Library) -> None:
    subscribe(library, _feed(server), FAST)
    ep = library.episodes()[0]
    server.routes["/ep2.mp3"].cut_after = 10_000
    with pytest.raises(FetchError, match="Run it again to resume"):
        download(library, ep, _download_settings())
    server.routes["/ep2.mp3"].refuse_ranges = True
    done = download(library, ep, _download_settings())
    assert [h.status for h in server.hits[-2:]] == [416, 200]
    assert (library.episodes_dir / str(done.file)).read_bytes() == MP3


def test_a_part_file_of_unknown_origin_is_not_resumed(server: FeedServer, library: Library) -> None:
    subscribe(library, _feed(server), FAST)
    ep = library.episodes()[0]
    stale = library.episodes_dir / str(ep.feed_id) / f"{ep.id}.mp3.part"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"x" * 5000)  # no record of which version of the file it holds
    done = download(library, ep, _download_settings())
    assert "Range" not in server.hits[-1].headers
    assert (library.episodes_dir / str(done.file)).read_bytes() == MP3


def test_enclosure_that_is_not_audio(server: FeedServer, library: Library) -> None:
    page = server.add("/page", Route(body=b"<html>paywall</html>", content_type="text/html"))
    disguised = server.add("/x.mp3", Route(body=b"<html>login</html>", content_type="audio/mpeg"))
    video = server.add("/v.mov", Route(body=b"\x00" * 100, content_type="video/quicktime"))
    items = [
        {"title": "Page", "guid": "p", "date": "Mon, 01 Jan 2024 10:00:00 GMT", "url": page},
        {"title": "Disguised", "guid": "d", "date": "Tue, 02 Jan 2024 10:00:00 GMT",
         "url": disguised},
        {"title": "Video", "guid": "v", "date": "Wed, 03 Jan 2024 10:00:00 GMT", "url": video,
         "type": "video/quicktime"},
    ]  # fmt: skip
    subscribe(library, server.add("/f.xml", Route(body=rss("Odd", items))), FAST)
    for ep in library.episodes():
        with pytest.raises(NotAudioError):
            download(library, ep, _download_settings())
        assert library.episode(ep.id).file is None  # type: ignore[union-attr]
    assert not list(library.episodes_dir.rglob("*.part"))


def test_full_disk(server: FeedServer, library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    subscribe(library, _feed(server), FAST)
    old, new = library.episodes()[1], library.episodes()[0]
    kept = download(library, old, _download_settings())
    with pytest.raises(DiskFullError, match="Not enough free space"):
        download(library, new, _download_settings(), disk_free=lambda _p: 1000)

    def no_space(self: object, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download_module, "_write", no_space)
    with pytest.raises(DiskFullError, match="disk filled up"):
        download(library, new, _download_settings())
    assert library.episode(new.id).file is None  # type: ignore[union-attr]
    assert (library.episodes_dir / str(kept.file)).read_bytes() == MP3
    assert not list(library.episodes_dir.rglob("*.part"))


def test_storage_cap_deletes_oldest_played_first(server: FeedServer, library: Library) -> None:
    subscribe(library, _feed(server, episodes=3), FAST)
    ep3, ep2, ep1 = library.episodes()
    for ep in (ep1, ep2):
        download(library, ep, _download_settings())
    library.save_position(ep1.id, 1.0, finished=True)
    library.save_position(ep2.id, 1.0)
    done = download(library, ep3, _download_settings(storage_cap_bytes=2 * len(MP3)))
    assert library.episode(ep1.id).file is None  # type: ignore[union-attr]
    assert library.episode(ep2.id).file is not None  # type: ignore[union-attr]
    assert done.file is not None
    assert enforce_cap(library, 0, keep={ep2.id, ep3.id}) == []


def test_transcript_is_fetched_as_text(server: FeedServer, library: Library) -> None:
    vtt = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\n<v Nathan>DeepSeek is cheap.\n\n"
    transcript = server.add("/t.vtt", Route(body=vtt.encode(), content_type="text/vtt"))
    audio = server.add("/a.mp3", Route(body=MP3, content_type="audio/mpeg"))
    items = [{"title": "T", "guid": "t", "date": "Mon, 01 Jan 2024 10:00:00 GMT", "url": audio,
              "transcript": transcript}]  # fmt: skip
    subscribe(library, server.add("/t.xml", Route(body=rss("T", items))), FAST)
    done = download(library, library.episodes()[0], _download_settings())
    assert done.transcript == "DeepSeek is cheap."
