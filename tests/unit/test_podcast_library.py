"""Subscriptions and episodes in SQLite: local feed files, lookups, refresh keeps user state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.podcasts.errors import UnknownPodcastError
from assistant.podcasts.feeds import parse_feed
from assistant.podcasts.fetch import FetchSettings
from assistant.podcasts.library import Library
from assistant.podcasts.sync import refresh, subscribe
from assistant.store import Store
from tests.corpora import corpus
from tests.podcast_support import rss


def _items(n: int) -> list[dict[str, str]]:
    return [
        {"title": f"Episode {i}", "guid": f"g{i}", "date": f"Mon, {i:02d} Jan 2024 10:00:00 GMT",
         "url": f"http://e.org/{i}.mp3"}
        for i in range(1, n + 1)
    ]  # fmt: skip


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    lib = Library.open(tmp_path)
    yield lib
    lib.close()


def test_shares_the_database_with_the_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.kv_set("x", "k", "1")
    library = Library.open(tmp_path)
    library.save_feed("http://e.org/f", parse_feed(rss("A", _items(1)), "http://e.org/f"))
    store.close()
    store = Store.open(tmp_path)  # its integrity check passes with our tables beside its own
    assert store.kv_get("x", "k") == "1"
    assert library.path == store.path
    store.close()
    library.close()


def test_subscribe_to_a_local_file(library: Library, tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss("Local Show", _items(3)))
    result = subscribe(library, str(feed), FetchSettings())
    assert result.subscription.title == "Local Show" and result.new_episodes == 3
    assert result.subscription.url == feed.resolve().as_uri()
    assert [e.title for e in library.episodes()] == ["Episode 3", "Episode 2", "Episode 1"]
    feed.write_bytes(rss("Local Show", _items(4)))
    again = subscribe(library, str(feed), FetchSettings())  # already there: a refresh
    assert again.new_episodes == 1 and len(library.subscriptions()) == 1


def test_real_narro_feed_from_file(library: Library) -> None:
    path = corpus("podcast_feeds", "real", "narro.rss")
    sub = subscribe(library, str(path), FetchSettings()).subscription
    assert sub.episodes == len(library.episodes(sub.id)) > 0


def test_lookup_by_id_title_and_part(library: Library) -> None:
    for title in ("Interconnects", "Interconnects Extra", "The Daily"):
        library.save_feed(f"http://e.org/{title}", parse_feed(rss(title, _items(1)), "http://e/"))
    assert library.subscription("interconnects").title == "Interconnects"
    assert library.subscription("daily").title == "The Daily"
    assert library.subscription("3").title == "The Daily"
    with pytest.raises(UnknownPodcastError, match="several podcasts"):
        library.subscription("inter")
    with pytest.raises(UnknownPodcastError, match="podcasts list"):
        library.subscription("knitting")


def test_refresh_and_remove(library: Library, tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss("Show", _items(2)))
    sub = subscribe(library, str(feed), FetchSettings()).subscription
    newest, oldest = library.episodes(sub.id)
    library.save_position(newest.id, 61.5)
    library.set_file(newest.id, "1/x.mp3", 10)
    feed.write_bytes(rss("Show renamed", _items(2)))
    result = refresh(library, library.subscription("show"), FetchSettings())
    assert result.subscription.title == "Show renamed" and result.new_episodes == 0
    kept = library.episode(newest.id)
    assert kept is not None and kept.position_s == 61.5 and kept.file == "1/x.mp3"
    assert library.last_played() == kept
    assert library.neighbour(kept, -1) == library.episode(oldest.id)
    assert library.neighbour(kept, +1) is None
    assert library.remove(sub.id) == ["1/x.mp3"]
    assert library.subscriptions() == [] and library.episodes() == []
