"""The fetcher's limits and guarantees, against real loopback servers that misbehave."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import tracemalloc
from typing import Any

import brotli
import pytest

from sri_guard.errors import FetchError
from sri_guard.fetch import Fetcher, FetchResult, Limits
from tests import servers
from tests.servers import Server

TRANSPORTS = ["aiohttp", "httpx"]


def fetch(url: str, transport: str = "aiohttp", **kwargs: Any) -> FetchResult:
    limits = kwargs.pop("limits", Limits(retries=0, deadline=5))

    async def go() -> FetchResult:
        async with Fetcher(limits, transport=transport) as f:  # type: ignore[arg-type]
            return await f.fetch(url, **kwargs)

    return asyncio.run(go())


def failure(url: str, transport: str = "aiohttp", **kwargs: Any) -> str:
    with pytest.raises(FetchError) as info:
        fetch(url, transport, **kwargs)
    return info.value.reason


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_hashes_decoded_bytes(server: Server, transport: str) -> None:
    body = b"let a = 1;\n" * 1000
    server.route("/plain.js", body)
    server.route("/gz.js", gzip.compress(body), headers={"Content-Encoding": "gzip"})
    server.route("/br.js", brotli.compress(body), headers={"Content-Encoding": "br"})
    for path in ("/plain.js", "/gz.js", "/br.js"):
        result = fetch(server.url(path), transport, keep_body=True)
        assert result.digests["sha384"] == hashlib.sha384(body).digest()
        assert result.size == len(body)
        assert result.body == body


def test_redirect_chain_is_recorded(server: Server, cdn: Server, transport: str) -> None:
    cdn.route("/v2/sdk.js", "sdk()")
    server.route("/sdk.js", handler=servers.redirect("/latest/sdk.js", 301))
    server.route("/latest/sdk.js", handler=servers.redirect(cdn.url("/v2/sdk.js")))
    result = fetch(server.url("/sdk.js"), transport)
    assert result.final_url == cdn.url("/v2/sdk.js")
    assert result.redirects == (server.url("/sdk.js"), server.url("/latest/sdk.js"))
    assert result.status == 200


def test_redirect_loop(server: Server, transport: str) -> None:
    server.route("/a", handler=servers.redirect("/b"))
    server.route("/b", handler=servers.redirect("/a"))
    assert "redirect loop" in failure(server.url("/a"), transport)


def test_redirect_limit(server: Server, transport: str) -> None:
    for i in range(5):
        server.route(f"/{i}", handler=servers.redirect(f"/{i + 1}"))
    server.route("/5", "ok")
    limits = Limits(max_redirects=3, retries=0, deadline=5)
    assert "more than 3 redirects" in failure(server.url("/0"), transport, limits=limits)
    assert fetch(server.url("/0"), transport).final_url == server.url("/5")


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.com/x", "data:,x"])
def test_redirect_to_other_schemes_is_refused(server: Server, transport: str, target: str) -> None:
    server.route("/x", handler=servers.redirect(target))
    assert "refused" in failure(server.url("/x"), transport)


def test_only_http_and_https(transport: str) -> None:
    assert "scheme 'file:'" in failure("file:///etc/passwd", transport)


def test_truncated_body_is_an_error(server: Server, transport: str) -> None:
    server.route("/t.js", handler=servers.truncated(b"x" * 1000, 5000))
    reason = failure(server.url("/t.js"), transport)
    assert "1,000" in reason or "truncated" in reason or "mid-body" in reason


def test_connection_cut_mid_chunked_body(server: Server, transport: str) -> None:
    server.route("/c.js", handler=servers.cut_mid_body(b"y" * 4000, 1500))
    reason = failure(server.url("/c.js"), transport)
    assert "mid-body" in reason or "truncated" in reason


def test_truncated_gzip_without_length_is_an_error(server: Server, transport: str) -> None:
    payload = gzip.compress(b"z" * 100_000 + bytes(range(256)) * 100)

    def handle(h: Any) -> None:
        h.send_response(200)
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(payload[: len(payload) // 2])
        h.close_connection = True

    server.route("/g.js", handler=handle)
    assert "ends early" in failure(server.url("/g.js"), transport)


def test_gzip_bomb_is_refused_without_inflating(server: Server, transport: str) -> None:
    server.route("/bomb.js", handler=servers.gzip_bomb(64 * 1024 * 1024))
    limits = Limits(max_bytes=1024 * 1024, retries=0, deadline=10)
    tracemalloc.start()
    try:
        reason = failure(server.url("/bomb.js"), transport, limits=limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "1,048,576-byte limit after decoding" in reason
    assert peak < 8 * 1024 * 1024


def test_size_limit_applies_to_plain_bodies(server: Server, transport: str) -> None:
    server.route("/big.js", b"a" * 20_000)
    limits = Limits(max_bytes=10_000, retries=0, deadline=5)
    assert "limit" in failure(server.url("/big.js"), transport, limits=limits)


def test_drip_feed_is_bounded_by_the_deadline(server: Server, transport: str) -> None:
    server.route("/drip.js", handler=servers.drip(b"x" * 100, 0.2))
    limits = Limits(deadline=1.0, retries=0)
    assert "deadline" in failure(server.url("/drip.js"), transport, limits=limits)


def test_stall_before_headers_is_bounded(server: Server, transport: str) -> None:
    server.route("/stall.js", handler=servers.stall_before_headers(30))
    limits = Limits(deadline=1.0, retries=0)
    assert "deadline" in failure(server.url("/stall.js"), transport, limits=limits)


def test_http_errors(server: Server, transport: str) -> None:
    server.route("/gone.js", "nope", status=404)
    assert failure(server.url("/gone.js"), transport) == "HTTP 404 Not Found"


def test_transient_errors_are_retried(server: Server, transport: str) -> None:
    server.route(
        "/flaky.js",
        handler=servers.sequence(
            servers.respond("busy", 503, {"Retry-After": "0"}),
            servers.respond("", 429, {"Retry-After": "0"}),
            servers.respond("ok()"),
        ),
    )
    limits = Limits(retries=2, backoff=0.01, deadline=5)
    assert fetch(server.url("/flaky.js"), transport, limits=limits).size == 4


def test_retry_after_past_the_deadline_fails_at_once(server: Server, transport: str) -> None:
    server.route("/later.js", "busy", status=503, headers={"Retry-After": "3600"})
    limits = Limits(retries=3, deadline=5)
    reason = failure(server.url("/later.js"), transport, limits=limits)
    assert "HTTP 503" in reason and "deadline" in reason


def test_retries_are_bounded(server: Server, transport: str) -> None:
    server.route("/down.js", "busy", status=502)
    limits = Limits(retries=2, backoff=0.01, deadline=5)
    assert "HTTP 502" in failure(server.url("/down.js"), transport, limits=limits)
    assert sum(1 for path, _ in server.requests if path == "/down.js") == 3


def test_https_with_trusted_ca(
    tls_server: Server, ca_file: Any, monkeypatch: Any, transport: str
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    tls_server.route("/s.js", "secure()")
    assert fetch(tls_server.url("/s.js"), transport).size == 8


def test_https_untrusted_certificate(tls_server: Server, monkeypatch: Any, transport: str) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    tls_server.route("/s.js", "secure()")
    reason = failure(tls_server.url("/s.js"), transport)
    assert "certificate" in reason.lower()


def test_private_addresses_can_be_refused(server: Server, transport: str) -> None:
    server.route("/p.js", "x")
    assert "private or loopback" in failure(server.url("/p.js"), transport, allow_private=False)


def test_private_redirect_hop_is_refused(server: Server, transport: str) -> None:
    server.route("/meta", handler=servers.redirect("http://169.254.169.254/latest/meta-data/"))
    reason = failure(server.url("/meta"), transport, allow_private=False)
    assert "private" in reason


def test_headers_are_kept(server: Server, transport: str) -> None:
    server.route(
        "/h.js", "x", headers={"Content-Type": "text/javascript; charset=utf-8", "X-A": "1"}
    )
    result = fetch(server.url("/h.js"), transport, headers={"referer": "https://page.example/"})
    assert result.content_type == "text/javascript"
    assert result.header("x-a") == "1"
    assert server.requests[-1][1]["referer"] == "https://page.example/"
    assert "br" in server.requests[-1][1]["accept-encoding"]


def test_no_cookie_is_carried_between_fetches(server: Server, transport: str) -> None:
    # By host name: aiohttp's default jar refuses cookies from IP addresses, hiding the bug.
    server.route("/c.js", "x", headers={"Set-Cookie": "visitor=42; Path=/"})
    url = f"http://localhost:{server.port}/c.js"

    async def twice() -> None:
        async with Fetcher(Limits(retries=0, deadline=5), transport=transport) as f:  # type: ignore[arg-type]
            await f.fetch(url)
            await f.fetch(url)

    asyncio.run(twice())
    assert [h.get("cookie") for path, h in server.requests if path == "/c.js"] == [None, None]
