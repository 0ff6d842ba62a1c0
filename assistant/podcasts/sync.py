"""Subscribe and refresh: fetch a feed (HTTP or a local file), parse it, store it.

Nothing is written unless the feed was fetched and parsed: a 404, a timeout or a page that is not
a feed leaves the subscriptions exactly as they were.

A feed may move itself (itunes:new-feed-url, <newLocation>), but an http(s) feed only to another
http(s) address: a remote document must never point the subscription at a local file (or any
other scheme), as redirects may not either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from assistant.podcasts.errors import PodcastError
from assistant.podcasts.feeds import parse_feed
from assistant.podcasts.fetch import FetchSettings, fetch_feed
from assistant.podcasts.library import Library, Subscription

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshResult:
    subscription: Subscription
    new_episodes: int
    not_modified: bool = False
    warnings: tuple[str, ...] = ()
    error: PodcastError | None = None


def feed_url(source: str) -> str:
    """A URL as given, or a local file's path as a file:// URL."""
    if urlsplit(source).scheme in ("http", "https", "file"):
        return source
    path = Path(source).expanduser()
    if not path.exists():
        raise PodcastError(f"{source} is neither an http(s) URL nor an existing file.")
    return path.resolve().as_uri()


def subscribe(library: Library, source: str, settings: FetchSettings) -> RefreshResult:
    url = feed_url(source)
    existing = library.find_url(url)
    if existing is not None:
        return refresh(library, existing, settings)
    response = fetch_feed(url, settings)
    if response is None:  # no validators were sent, so a 304 means a broken server
        raise PodcastError(f"{url} answered 'not modified' to a first request; try again.")
    feed = parse_feed(response.body, response.url)
    sub, new = library.save_feed(
        response.permanent_redirect or url,
        feed,
        etag=response.etag,
        last_modified=response.last_modified,
        new_url=_allowed_move(response.url, feed.new_url),
    )
    return RefreshResult(subscription=sub, new_episodes=new, warnings=feed.warnings)


def refresh(library: Library, sub: Subscription, settings: FetchSettings) -> RefreshResult:
    response = fetch_feed(sub.url, settings, etag=sub.etag, last_modified=sub.last_modified)
    if response is None:
        library.mark_checked(sub.id)
        return RefreshResult(subscription=sub, new_episodes=0, not_modified=True)
    feed = parse_feed(response.body, response.url)
    updated, new = library.save_feed(
        sub.url,
        feed,
        etag=response.etag,
        last_modified=response.last_modified,
        new_url=response.permanent_redirect or _allowed_move(response.url, feed.new_url),
    )
    return RefreshResult(subscription=updated, new_episodes=new, warnings=feed.warnings)


def _allowed_move(url: str, new_url: str | None) -> str | None:
    """`new_url`, where the feed at `url` says it moved, if it may move there; else None."""
    if not new_url or new_url == url:
        return new_url
    scheme, new_scheme = _scheme(url), _scheme(new_url)
    remote = ("http", "https")
    if new_scheme in remote or (scheme not in remote and new_scheme == "file"):
        return new_url
    _LOGGER.warning(
        "%s says the feed moved to %s; ignored: only an http(s) address may replace an http(s) "
        "feed (a local feed file may also move to another file)",
        url,
        new_url,
    )
    return None


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def refresh_all(library: Library, settings: FetchSettings) -> list[RefreshResult]:
    """Refresh every subscription; one failing feed is reported and the others go on."""
    results = []
    for sub in library.subscriptions():
        try:
            results.append(refresh(library, sub, settings))
        except PodcastError as err:
            _LOGGER.warning("refresh of %s failed: %s", sub.title, err)
            results.append(RefreshResult(subscription=sub, new_episodes=0, error=err))
    return results
