"""HTTP(S) for feeds and episodes, with the standard library: timeouts, size caps, redirects,
conditional requests and byte ranges. Every failure becomes a `FetchError` that names the URL.

Only the user's own actions call this (subscribe, refresh, download): nothing here runs by itself.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPMessage, HTTPResponse
from pathlib import Path
from typing import IO, Final, cast
from urllib.parse import urlsplit

from assistant.podcasts.errors import (
    FetchError,
    FetchTimeoutError,
    HttpStatusError,
    TooLargeError,
)

_LOGGER = logging.getLogger(__name__)

USER_AGENT: Final = "sottovoce/0.1 (+offline voice assistant; podcast client)"
CHUNK: Final = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchSettings:
    timeout_s: float = 15.0  # per connect and per read
    feed_deadline_s: float = 60.0  # a whole feed, however slowly the server trickles it
    max_feed_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedResponse:
    url: str  # after redirects
    body: bytes
    etag: str | None
    last_modified: str | None
    permanent_redirect: str | None  # where the feed moved for good (301/308), if it did


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Refuses redirects to other schemes and remembers whether each one was permanent."""

    def __init__(self) -> None:
        super().__init__()
        self.permanent: list[bool] = []

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"{req.full_url} redirects to {newurl}, which is not HTTP(S).")
        self.permanent.append(code in (301, 308))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@contextmanager
def open_url(
    url: str,
    settings: FetchSettings,
    headers: Mapping[str, str] | None = None,
) -> Iterator[tuple[HTTPResponse, _Redirects]]:
    """GET `url`; 304 comes back as a response (callers check `.status`), other errors raise."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"{url} is not an http(s) URL.")
    redirects = _Redirects()
    opener = urllib.request.build_opener(redirects)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        response: HTTPResponse = opener.open(request, timeout=settings.timeout_s)
    except urllib.error.HTTPError as err:
        if err.code != 304:
            raise HttpStatusError(
                _status_message(url, err.code, err.reason), status=err.code
            ) from err
        response = cast(HTTPResponse, err)  # an HTTPError carries its response
    except urllib.error.URLError as err:
        raise _network_error(url, err.reason, settings) from err
    except TimeoutError as err:
        raise _network_error(url, err, settings) from err
    except OSError as err:
        raise _network_error(url, err, settings) from err
    with response:
        yield response, redirects


def read_capped(response: IO[bytes], url: str, limit: int, settings: FetchSettings) -> bytes:
    """The whole body, or `TooLargeError` as soon as it passes `limit` bytes."""
    parts: list[bytes] = []
    size = 0
    deadline = time.monotonic() + settings.feed_deadline_s
    while True:
        if time.monotonic() > deadline:
            raise FetchTimeoutError(
                f"{url} took more than {settings.feed_deadline_s:g} s to send; try again later."
            )
        try:
            chunk = response.read(CHUNK)
        except (TimeoutError, OSError) as err:
            raise _network_error(url, err, settings) from err
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise TooLargeError(
                f"{url} sent more than {_size(limit)}, too much for a feed; check the address."
            )
        parts.append(chunk)


def fetch_feed(
    url: str,
    settings: FetchSettings,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedResponse | None:
    """The feed document, or None when the server says it has not changed (304)."""
    if urlsplit(url).scheme == "file":
        return _read_file(url, settings)
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    with open_url(url, settings, headers) as (response, redirects):
        if response.status == 304:
            _LOGGER.info("%s not modified", url)
            return None
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > settings.max_feed_bytes:
            raise TooLargeError(
                f"{url} is {_size(int(declared))}, too large for a feed; check the address."
            )
        body = read_capped(response, url, settings.max_feed_bytes, settings)
        final = response.geturl()
        moved = final if final != url and redirects.permanent and all(redirects.permanent) else None
        _LOGGER.info(
            "fetched %s (%d bytes) in %.2f s", final, len(body), time.monotonic() - started
        )
        return FeedResponse(
            url=final,
            body=body,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            permanent_redirect=moved,
        )


def _read_file(url: str, settings: FetchSettings) -> FeedResponse:
    path = Path(urllib.request.url2pathname(urlsplit(url).path))
    try:
        size = path.stat().st_size
        if size > settings.max_feed_bytes:
            raise TooLargeError(f"{path} is {_size(size)}, too large for a feed.")
        body = path.read_bytes()
    except OSError as err:
        raise FetchError(f"Cannot read the feed file {path}: {err.strerror or err}.") from err
    return FeedResponse(url=url, body=body, etag=None, last_modified=None, permanent_redirect=None)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def _status_message(url: str, status: int, reason: object) -> str:
    if status == 404:
        return f"{url} was not found (HTTP 404). Check the address, or the podcast has moved."
    if status in (401, 403):
        return f"{url} refused access (HTTP {status}). Private feeds need their full URL."
    if status >= 500:
        return f"The server for {url} failed (HTTP {status} {reason}). Try again later."
    return f"{url} answered HTTP {status} {reason}."


def _network_error(url: str, reason: object, settings: FetchSettings) -> FetchError:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return FetchTimeoutError(
            f"{url} did not answer within {settings.timeout_s:g} s. Check the connection and "
            "try again."
        )
    return FetchError(f"Cannot reach {url}: {reason}. Check the connection and the address.")
