"""HTTP(S) for feeds and episodes, with the standard library: deadlines, size caps, redirects,
conditional requests and byte ranges. Every failure becomes a `FetchError` that names the URL in
one line, whatever the server sends: broken status lines, endless headers, broken chunking, resets.

Deadlines are wall clock. Every request runs under a `Guard`: when its deadline passes, or the
`Cancel` it was made with is set from another thread, the guard shuts the request's sockets down,
so a read blocked on a server that trickles a byte now and then returns at once. The read timeout
(`FetchSettings.timeout_s`) only catches a server that sends nothing at all.

Only the user's own actions call this (subscribe, refresh, download, and playing an episode that
is not downloaded yet): nothing here runs by itself.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import (
    BadStatusLine,
    HTTPException,
    HTTPMessage,
    HTTPResponse,
    IncompleteRead,
    InvalidURL,
    LineTooLong,
    RemoteDisconnected,
    UnknownProtocol,
)
from pathlib import Path
from typing import IO, Any, Final, cast
from urllib.parse import quote, urlsplit, urlunsplit

from assistant.podcasts.errors import (
    BadResponseError,
    CancelledFetchError,
    FetchError,
    FetchTimeoutError,
    HttpStatusError,
    IncompleteError,
    PodcastError,
    TooLargeError,
)

_LOGGER = logging.getLogger(__name__)

USER_AGENT: Final = "sottovoce/0.1 (+offline voice assistant; podcast client)"
CHUNK: Final = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchSettings:
    timeout_s: float = 15.0  # per connect and per read: a server that sends nothing
    feed_deadline_s: float = 60.0  # a whole feed (or transcript), wall clock, however it trickles
    max_feed_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedResponse:
    url: str  # after redirects
    body: bytes
    etag: str | None
    last_modified: str | None
    permanent_redirect: str | None  # where the feed moved for good (301/308), if it did


# --- deadlines and cancelling -------------------------------------------------------------------


class Cancel:
    """Stops requests from another thread: a voice "play" that was interrupted or taken over,
    the assistant shutting down. Every request made with it (see `Guard`) ends at once with
    `CancelledFetchError`, and so does any request started with it afterwards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guards: set[Guard] = set()
        self._message: str | None = None

    @property
    def cancelled(self) -> bool:
        return self._message is not None

    def cancel(self, message: str = "The download was stopped.") -> None:
        with self._lock:
            if self._message is None:
                self._message = message
            guards = list(self._guards)
        for guard in guards:
            guard.stop(CancelledFetchError(self._message))

    def _join(self, guard: Guard) -> None:
        with self._lock:
            message = self._message
            if message is None:
                self._guards.add(guard)
                return
        guard.stop(CancelledFetchError(message))

    def _leave(self, guard: Guard) -> None:
        with self._lock:
            self._guards.discard(guard)


class Guard:
    """The wall-clock deadline of one request, redirects included, and the sockets it opened.

    A watchdog thread waits for the deadline; when it passes, or `stop()` is called (by a
    `Cancel`), the sockets are shut down, so a read blocked on a server that trickles a byte at a
    time returns now instead of whenever the server pleases. Readers then call `check()`, which
    raises the reason. The deadline can move while the request runs (`set_deadline`): a
    download's depends on its progress. Use as a context manager.
    """

    def __init__(self, deadline_s: float, message: str, *, cancel: Cancel | None = None) -> None:
        self.started = time.monotonic()
        self._cond = threading.Condition()
        self._deadline = self.started + deadline_s
        self._message = message
        self._sockets: list[socket.socket] = []
        self._stopped: FetchError | None = None
        self._closed = False
        self._cancel = cancel
        threading.Thread(target=self._watch, name="podcast-deadline", daemon=True).start()
        if cancel is not None:
            cancel._join(self)

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._sockets.clear()
            self._cond.notify_all()
        if self._cancel is not None:
            self._cancel._leave(self)

    def set_deadline(self, deadline_s: float, message: str) -> None:
        """`deadline_s` from the start of the request, and what to say when it passes."""
        with self._cond:
            self._deadline = self.started + deadline_s
            self._message = message
            self._cond.notify_all()

    def attach(self, sock: socket.socket) -> None:
        with self._cond:
            if self._stopped is None:
                self._sockets.append(sock)
                return
        _shutdown(sock)

    def stop(self, error: FetchError) -> None:
        with self._cond:
            if self._stopped is not None or self._closed:
                return
            self._stopped = error
            sockets, self._sockets = self._sockets, []
            self._cond.notify_all()
        for sock in sockets:
            _shutdown(sock)

    def stopped(self) -> FetchError | None:
        """Why the request was stopped (a fresh error each time), or None."""
        with self._cond:
            if self._stopped is None and time.monotonic() >= self._deadline:
                late = FetchTimeoutError(self._message)
            else:
                late = None
        if late is not None:
            self.stop(late)
        with self._cond:
            error = self._stopped
        return None if error is None else type(error)(error.message)

    def check(self) -> None:
        error = self.stopped()
        if error is not None:
            raise error

    def failure(
        self, url: str, err: BaseException, timeout_s: float, *, received: int | None = None
    ) -> FetchError:
        """The error to raise for `err`: the guard's own reason if it stopped the request
        (shutting the socket down is what made the read fail), else what `err` means."""
        return self.stopped() or network_error(url, err, timeout_s, received=received)

    def _watch(self) -> None:
        with self._cond:
            while True:
                if self._closed or self._stopped is not None:
                    return
                left = self._deadline - time.monotonic()
                if left <= 0:
                    error = FetchTimeoutError(self._message)
                    break
                self._cond.wait(left)
        self.stop(error)


def _shutdown(sock: socket.socket) -> None:
    """Wake any thread blocked reading `sock` (it reads an end of file, or an error)."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _guarded(http_class: Any, guard: Guard) -> Callable[..., Any]:
    """`http_class`, whose sockets (the TCP one, then the TLS one) are handed to `guard`."""

    def build(*args: Any, **kwargs: Any) -> Any:
        conn = http_class(*args, **kwargs)
        create = getattr(conn, "_create_connection", None)
        if create is not None:

            def create_connection(*a: Any, **k: Any) -> socket.socket:
                sock: socket.socket = create(*a, **k)
                guard.attach(sock)
                return sock

            conn._create_connection = create_connection
        connect = conn.connect

        def connect_guarded() -> None:
            connect()
            if conn.sock is not None:
                guard.attach(conn.sock)

        conn.connect = connect_guarded
        return conn

    return build


class _GuardedHTTP(urllib.request.HTTPHandler):
    def __init__(self, guard: Guard) -> None:
        super().__init__()
        self._guard = guard

    def do_open(self, http_class: Any, req: urllib.request.Request, **kw: Any) -> HTTPResponse:
        return super().do_open(_guarded(http_class, self._guard), req, **kw)


class _GuardedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, guard: Guard) -> None:
        super().__init__()
        self._guard = guard

    def do_open(self, http_class: Any, req: urllib.request.Request, **kw: Any) -> HTTPResponse:
        return super().do_open(_guarded(http_class, self._guard), req, **kw)


# --- requests -----------------------------------------------------------------------------------


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
        if _scheme(newurl) not in ("http", "https"):
            raise FetchError(
                f"{clean(req.full_url)} redirects to {clean(newurl)}, which is not HTTP(S)."
            )
        self.permanent.append(code in (301, 308))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@contextmanager
def open_url(
    url: str,
    settings: FetchSettings,
    headers: Mapping[str, str] | None = None,
    *,
    guard: Guard,
) -> Iterator[tuple[HTTPResponse, _Redirects]]:
    """GET `url` under `guard`; 304 comes back as a response (callers check `.status`), other
    errors raise a `FetchError`. Read the body with `read_some`."""
    if _scheme(url) not in ("http", "https"):
        raise FetchError(f"{clean(url)} is not an http(s) URL.")
    redirects = _Redirects()
    opener = urllib.request.build_opener(redirects, _GuardedHTTP(guard), _GuardedHTTPS(guard))
    try:
        request = urllib.request.Request(
            _as_uri(url), headers={"User-Agent": USER_AGENT, **(headers or {})}
        )
    except ValueError as err:
        raise FetchError(f"{clean(url)} is not a valid address.") from err
    guard.check()
    try:
        response: HTTPResponse = opener.open(request, timeout=settings.timeout_s)
    except urllib.error.HTTPError as err:
        stopped = guard.stopped()
        if stopped is not None or err.code != 304:
            err.close()
            raise stopped or HttpStatusError(
                _status_message(url, err.code, err.reason), status=err.code
            ) from err
        response = cast(HTTPResponse, err)  # an HTTPError carries its response
    except PodcastError:
        raise
    except (urllib.error.URLError, HTTPException, OSError, ValueError) as err:
        raise guard.failure(url, err, settings.timeout_s) from err
    with response:
        yield response, redirects


def read_some(response: HTTPResponse, url: str, guard: Guard, settings: FetchSettings,
              received: int) -> bytes:  # fmt: skip
    """Up to `CHUNK` bytes of the body, as soon as any arrive (so deadlines are checked however
    slowly they come); b"" at its end. Raises `FetchError`, never anything else."""
    guard.check()
    try:
        chunk = response.read1(CHUNK)
    except (HTTPException, OSError, ValueError) as err:
        raise guard.failure(url, err, settings.timeout_s, received=received) from err
    if not chunk:
        guard.check()  # an end the guard caused is no end of the body
    return chunk


def declared_length(response: HTTPResponse) -> int | None:
    """The body's length from Content-Length, or None (absent, unreadable, or chunked)."""
    if getattr(response, "chunked", False):
        return None
    value = (response.headers.get("Content-Length") or "").strip()
    return int(value) if value.isdigit() else None


def read_capped(
    response: HTTPResponse, url: str, limit: int, settings: FetchSettings, guard: Guard
) -> bytes:
    """The whole body, or `TooLargeError` as soon as it passes `limit` bytes, or
    `IncompleteError` if it ends before its Content-Length."""
    parts: list[bytes] = []
    size = 0
    declared = declared_length(response)
    while chunk := read_some(response, url, guard, settings, size):
        size += len(chunk)
        if size > limit:
            raise TooLargeError(
                f"{clean(url)} sent more than {_size(limit)}, too much for a feed; check the "
                "address."
            )
        parts.append(chunk)
    if declared is not None and size < declared:
        raise IncompleteError(
            f"{clean(url)} stopped after {size} of {declared} bytes. Try again later."
        )
    return b"".join(parts)


def fetch_feed(
    url: str,
    settings: FetchSettings,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedResponse | None:
    """The feed document, or None when the server says it has not changed (304)."""
    if _scheme(url) == "file":
        return _read_file(url, settings)
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    deadline = settings.feed_deadline_s
    slow = f"{clean(url)} took more than {deadline:g} s to send the feed; try again later."
    with (
        Guard(deadline, slow) as guard,
        open_url(url, settings, headers, guard=guard) as (response, redirects),
    ):
        if response.status == 304:
            _LOGGER.info("%s not modified", url)
            return None
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > settings.max_feed_bytes:
            raise TooLargeError(
                f"{clean(url)} is {_size(int(declared))}, too large for a feed; check the address."
            )
        body = read_capped(response, url, settings.max_feed_bytes, settings, guard)
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


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:  # "http://[::1": not a URL at all
        return ""


def _as_uri(url: str) -> str:
    """`url` with what HTTP cannot carry (non-ASCII letters, spaces) percent-encoded, as
    browsers do: feeds are full of "https://example.org/épisode 1.mp3"."""
    if url.isascii() and " " not in url:
        return url
    parts = urlsplit(url)
    safe = "/%:@!$&'()*+,;=?~-._[]"
    return urlunsplit(
        (parts.scheme, parts.netloc, quote(parts.path, safe=safe), quote(parts.query, safe=safe),
         quote(parts.fragment, safe=safe))
    )  # fmt: skip


def clean(text: object, limit: int = 200) -> str:
    """`text` fit for a one-line message: control characters escaped, and not too long. What a
    server sends (URLs, reasons, broken lines) goes through here before anyone sees it."""
    out = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in str(text))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _status_message(url: str, status: int, reason: object) -> str:
    url, reason = clean(url), clean(reason, 60)
    if status == 404:
        return f"{url} was not found (HTTP 404). Check the address, or the podcast has moved."
    if status in (401, 403):
        return f"{url} refused access (HTTP {status}). Private feeds need their full URL."
    if status >= 500:
        return f"The server for {url} failed (HTTP {status} {reason}). Try again later."
    return f"{url} answered HTTP {status} {reason}."


def _describe(err: BaseException) -> str:
    if isinstance(err, RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(err, ConnectionResetError):
        return "the connection was reset"
    if isinstance(err, IncompleteRead):
        return "the answer stopped short"
    if isinstance(err, UnknownProtocol):
        return f"an unknown protocol {clean(repr(err.args[0] if err.args else ''), 40)}"
    if isinstance(err, BadStatusLine) and not isinstance(err, LineTooLong):
        return f"a broken status line {clean(repr(err.args[0] if err.args else ''), 60)}"
    if isinstance(err, urllib.error.URLError):
        return _describe(err.reason) if isinstance(err.reason, BaseException) else clean(err.reason)
    text = str(err) or type(err).__name__
    return clean(text, 120)


def network_error(
    url: str, err: BaseException, timeout_s: float, *, received: int | None = None
) -> FetchError:
    """What a failed request means, in one line. `received`: body bytes already read (the
    failure came while reading the body), or None (before the answer's headers)."""
    reason: BaseException | str = err
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        reason = err.reason
    shown = clean(url)
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        if received is None:
            silent = f"{shown} did not answer within {timeout_s:g} s."
        else:
            after = f" after {received} bytes" if received else ""
            silent = f"{shown} sent nothing for {timeout_s:g} s{after}."
        return FetchTimeoutError(f"{silent} Check the connection and try again.")
    what = _describe(reason) if isinstance(reason, BaseException) else clean(reason)
    if isinstance(reason, InvalidURL):
        return FetchError(f"{shown} is not a valid address ({what}).")
    if received is not None and isinstance(reason, IncompleteRead | ConnectionError):
        return IncompleteError(f"{shown} broke off after {received} bytes ({what}). Try again.")
    if isinstance(reason, HTTPException | ValueError) and not isinstance(reason, ConnectionError):
        return BadResponseError(
            f"{shown} sent a broken answer ({what}). Try again later, or check the address."
        )
    return FetchError(f"Cannot reach {shown}: {what}. Check the connection and the address.")
