"""Real loopback HTTP(S) servers whose every response a test controls, misbehaviour included.

Each `Server` listens on 127.0.0.1 on its own port (so two servers are two origins). A route
is either a canned response or a handler that writes raw bytes to the socket, which is how
tests truncate, stall, drip-feed, bomb and lie about Content-Length.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import brotli

Handler = Callable[["_RequestHandler"], None]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    handler: Handler | None = None


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        path = self.path.split("?", 1)[0] if self.path not in owner.routes else self.path
        route = owner.routes.get(self.path) or owner.routes.get(path)
        if route is None:
            self.send_raw(404, b"not found", {"content-type": "text/plain"})
            return
        if route.handler is not None:
            route.handler(self)
            return
        self.send_raw(route.status, route.body, route.headers)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.owner.posts.append((self.path, body))
        self.send_raw(200, b"{}", {"Content-Type": "application/json"})

    def send_raw(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        lowered = {k.lower() for k in headers}
        for k, v in headers.items():
            self.send_header(k, v)
        if "content-length" not in lowered:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    @property
    def stopping(self) -> threading.Event:
        return self.server.owner.stopping


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: Server

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up (a CLI run ending, a deadline cutting a drip-feed) is routine
        # here: only other errors are worth a traceback on the terminal.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class Server:
    """One origin on loopback. `route()` sets what a path returns."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1"):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.posts: list[tuple[str, bytes]] = []
        self.stopping = threading.Event()
        self._httpd = _HTTPServer((host, 0), _RequestHandler)
        self._httpd.owner = self
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https" if ssl_context else "http"
        self.host = host
        self.port = self._httpd.server_address[1]
        # A short poll interval: shutdown() waits for it, once per server per test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        handler: Handler | None = None,
        content_type: str | None = None,
    ) -> str:
        data = body.encode() if isinstance(body, str) else body
        hdrs = dict(headers or {})
        if content_type:
            hdrs["Content-Type"] = content_type
        self.routes[path] = Route(data, status, hdrs, handler)
        return self.url(path)

    def close(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()


# Misbehaviours: handlers a test installs with route(path, handler=...).


def truncated(body: bytes, claimed: int) -> Handler:
    """Claims `claimed` bytes of Content-Length, sends `body`, closes."""

    def handle(h: _RequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(claimed))
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()
        h.close_connection = True

    return handle


def stall_before_headers(seconds: float) -> Handler:
    def handle(h: _RequestHandler) -> None:
        h.stopping.wait(seconds)
        h.close_connection = True

    return handle


def drip(body: bytes, interval: float) -> Handler:
    """Sends one byte every `interval` seconds, with an honest Content-Length."""

    def handle(h: _RequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.flush()
        try:
            for i in range(len(body)):
                if h.stopping.wait(interval):
                    return
                h.wfile.write(body[i : i + 1])
                h.wfile.flush()
        except OSError:
            return

    return handle


def gzip_bomb(decoded_size: int) -> Handler:
    """A small gzip body that inflates to `decoded_size` zero bytes."""
    payload = gzip.compress(b"\0" * decoded_size, compresslevel=9)

    def handle(h: _RequestHandler) -> None:
        h.send_raw(200, payload, {"Content-Encoding": "gzip", "Content-Type": "text/javascript"})

    return handle


def br_bomb(decoded_size: int) -> Handler:
    """A small br body that decodes to `decoded_size` zero bytes."""
    payload = brotli.compress(b"\0" * decoded_size)

    def handle(h: _RequestHandler) -> None:
        h.send_raw(200, payload, {"Content-Encoding": "br", "Content-Type": "text/javascript"})

    return handle


def long_content_length(body: bytes, claimed: int) -> Handler:
    """Claims `claimed` bytes of Content-Length, sends `body` and keeps the connection open
    (the client waits for bytes that never come)."""

    def handle(h: _RequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(claimed))
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()
        h.stopping.wait(60)
        h.close_connection = True

    return handle


def reset(h: _RequestHandler) -> None:
    """Resets the connection (TCP RST) before any response."""
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def close_before_response(h: _RequestHandler) -> None:
    """Closes the connection cleanly without sending a response."""
    h.close_connection = True


def redirect(location: str, status: int = 302) -> Handler:
    def handle(h: _RequestHandler) -> None:
        h.send_raw(status, b"", {"Location": location})

    return handle


def cut_mid_body(body: bytes, sent: int) -> Handler:
    """Chunked response cut after `sent` bytes, without the terminating chunk."""

    def handle(h: _RequestHandler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        part = body[:sent]
        h.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        h.wfile.flush()
        h.close_connection = True

    return handle


def sequence(*handlers: Handler) -> Handler:
    """Each request gets the next handler; the last one repeats."""
    calls = {"n": 0}

    def handle(h: _RequestHandler) -> None:
        index = min(calls["n"], len(handlers) - 1)
        calls["n"] += 1
        handlers[index](h)

    return handle


def respond(
    body: bytes | str, status: int = 200, headers: Mapping[str, str] | None = None
) -> Handler:
    data = body.encode() if isinstance(body, str) else body

    def handle(h: _RequestHandler) -> None:
        h.send_raw(status, data, headers or {})

    return handle


def wait_a_bit() -> None:
    time.sleep(0.01)
