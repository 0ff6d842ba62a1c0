"""Test support for podcasts: a feed/episode HTTP server on 127.0.0.1 and audio made with PyAV."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from assistant.podcasts.bench import encode_tone

__all__ = [
    "HOLD",
    "RESET",
    "FeedServer",
    "RawServer",
    "Route",
    "encode_tone",
    "feed_server",
    "header",
    "raw_server",
    "rss",
]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay_s: float = 0.0
    cut_after: int | None = None  # send only this many bytes (once), then drop the connection
    redirect: str | None = None
    trickle_s: float = 0.0  # pause between 1 KiB pieces of the body
    refuse_ranges: bool = False  # answer a Range request with 416
    ignore_ranges: bool = False  # answer a Range request with the whole body (200)
    ignore_if_range: bool = False  # send the range even when If-Range names another version


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    status: int


class FeedServer:
    """Serves `routes` (path -> Route); records every request in `hits`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                # Recorded before the answer goes out, so a test that has its answer sees it.
                self.hit = Hit(self.path, dict(self.headers.items()), 0)
                server.hits.append(self.hit)
                self._serve(server.routes.get(self.path.split("?")[0]))

            def send_response(self, code: int, message: str | None = None) -> None:
                self.hit.status = code
                super().send_response(code, message)

            def _serve(self, route: Route | None) -> int:
                if route is None:
                    self.send_error(404)
                    return 404
                if route.delay_s:
                    time.sleep(route.delay_s)
                if route.redirect:
                    self.send_response(route.status if route.status != 200 else 302)
                    self.send_header("Location", route.redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return route.status
                if route.status >= 400:
                    self.send_error(route.status)
                    return route.status
                etag_ok = route.etag and self.headers.get("If-None-Match") == route.etag
                since = self.headers.get("If-Modified-Since")
                if etag_ok or (route.last_modified and since == route.last_modified):
                    self.send_response(304)
                    self.end_headers()
                    return 304
                body, status = route.body, 200
                first = 0
                wanted = self.headers.get("Range")
                if wanted and route.refuse_ranges:
                    self.send_error(416)
                    return 416
                if_range = self.headers.get("If-Range")
                current = (route.etag, route.last_modified)
                if if_range and if_range not in current and not route.ignore_if_range:
                    wanted = None  # RFC 9110 13.1.5: the file changed, so send all of it
                if wanted and route.ignore_ranges:
                    wanted = None
                if wanted and wanted.startswith("bytes=") and wanted.endswith("-"):
                    first = int(wanted[6:-1])
                    status = 206
                self.send_response(status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body) - first))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {first}-{len(body) - 1}/{len(body)}")
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                payload = body[first:]
                if route.cut_after is not None:
                    payload = payload[: route.cut_after]
                    route.cut_after = None
                    self.wfile.write(payload)
                    self.wfile.flush()
                    self.close_connection = True
                    return status
                if route.trickle_s:
                    for start in range(0, len(payload), 1024):
                        self.wfile.write(payload[start : start + 1024])
                        self.wfile.flush()
                        time.sleep(route.trickle_s)
                    return status
                self.wfile.write(payload)
                return status

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


def rss(title: str, items: list[dict[str, str]]) -> bytes:
    """A small RSS 2.0 + iTunes feed; each item: title, guid, date, url, type, length, notes."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0">',
        f"<channel><title>{title}</title><link>https://example.org/</link>",
    ]
    for item in items:
        extra = ""
        if item.get("transcript"):
            extra = f'<podcast:transcript url="{item["transcript"]}" type="text/vtt"/>'
        parts.append(
            f'<item><title>{item["title"]}</title><guid isPermaLink="false">{item["guid"]}'
            f"</guid><pubDate>{item['date']}</pubDate>"
            f"<description><![CDATA[{item.get('notes', '')}]]></description>"
            f'<enclosure url="{item["url"]}" type="{item.get("type", "audio/mpeg")}" '
            f'length="{item.get("length", "0")}"/>'
            f"<itunes:duration>{item.get('duration', '0:03')}</itunes:duration>{extra}</item>"
        )
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


# --- a hostile server: exactly the bytes a test wants ----------------------------------------

HOLD: float = float("inf")  # a pause in a reply: keep the connection open until the server closes
RESET: bytes = b"\x00RESET"  # in a reply: end the connection with a TCP reset (RST), not a FIN

# What the server answers to one request (its head, up to the blank line): bytes to send, pauses
# in seconds (floats), HOLD or RESET, in order. The connection closes after the last item.
Reply = Callable[[bytes], Iterable[bytes | float]]


class RawServer:
    """A TCP server on 127.0.0.1 for hostile HTTP: `reply` decides every byte of each answer,
    and when it is sent (a trickle is a reply of one-byte pieces with pauses between them).
    `requests` holds the head of every request, in order; `served` counts finished replies."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[bytes] = []
        self.served = 0
        self.got_request = threading.Event()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="raw-server", daemon=True)

    @property
    def base(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        with self._lock:
            clients = list(self._clients)
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.close()
        for thread in list(self._threads):
            thread.join(2.0)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._clients.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            head = self._read_head(conn)
            if head is None:
                return
            self.requests.append(head)
            self.got_request.set()
            for item in self.reply(head):
                if isinstance(item, float | int) and not isinstance(item, bool):
                    if self._stop.wait(None if item == HOLD else float(item)):
                        return
                elif item == RESET:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                else:
                    conn.sendall(item)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client gave up: that is what many tests want
        finally:
            self.served += 1
            with contextlib.suppress(OSError):
                conn.close()

    def _read_head(self, conn: socket.socket) -> bytes | None:
        conn.settimeout(5.0)
        data = b""
        while b"\r\n\r\n" not in data and not self._stop.is_set():
            try:
                piece = conn.recv(65536)
            except OSError:
                return None
            if not piece:
                return None
            data += piece
        conn.settimeout(None)
        return data.split(b"\r\n\r\n", 1)[0]


@contextmanager
def raw_server(reply: Reply) -> Iterator[RawServer]:
    server = RawServer(reply)
    server.start()
    try:
        yield server
    finally:
        server.close()


def header(head: bytes, name: str) -> str | None:
    """The value of header `name` in a request head, or None."""
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None
