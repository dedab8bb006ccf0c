"""The one fetcher: every command gets its bytes from the network through here.

It fetches as a browser would (GET, redirects followed by hand so each hop is checked,
content codings removed) and hashes the decoded bytes on the fly, so memory stays flat for
any size. Every fetch is bounded: a total deadline (connect, redirects, retries and a server
that drip-feeds included), a maximum body size counted after decompression, a redirect limit,
`http`/`https` only, and optionally no private network addresses. Anything short of a
complete response becomes a `FetchError` with a one-line reason; httpx and aiohttp
exceptions never leave this module.

Trust: TLS certificates are verified against the system trust store (or SSL_CERT_FILE).
The server is otherwise untrusted: its Content-Length, codings and redirects are all checked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import http.cookiejar
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from sri_guard.decode import SUPPORTED, DecodeError, decoder_for
from sri_guard.errors import FetchError, SriGuardError
from sri_guard.sri import ALGORITHMS, MultiHasher, format_entry

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_KEPT_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "etag"})
_RETRY_STATUSES = frozenset({429, 502, 503, 504})

Transport = Literal["aiohttp", "httpx"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on every fetch. The defaults suit a cron job watching public CDNs."""

    deadline: float = 30.0
    """Seconds for the whole fetch: connect, redirects, retries and body."""
    connect_timeout: float = 10.0
    """Seconds to establish one connection."""
    max_bytes: int = 32 * 1024 * 1024
    """Largest body accepted, counted after content codings are removed."""
    max_redirects: int = 10
    """Redirects followed before giving up (browsers allow 20)."""
    retries: int = 2
    """Extra attempts after a transient failure (reset, 429, 502, 503, 504). (aiohttp also
    repeats a request once, at once, when its connection closes before any response, as
    RFC 9112 §9.3.1 allows for a GET: a reset costs up to twice as many requests.)"""
    backoff: float = 0.5
    """First retry delay in seconds; doubles each time; Retry-After wins when given."""
    concurrency: int = 64
    """Fetches in flight at once, across all hosts."""
    per_host: int = 16
    """Fetches in flight at once to one host."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A complete response: where it came from, what it said, and what its bytes hash to."""

    url: str
    """The URL asked for."""
    final_url: str
    """The URL of the response after redirects."""
    redirects: tuple[str, ...]
    """Each URL that redirected, in order, ending with the one before `final_url`."""
    status: int
    """HTTP status of the final response (2xx)."""
    headers: tuple[tuple[str, str], ...]
    """Response headers as sent, names lower-cased, in order."""
    size: int
    """Body length after content codings are removed."""
    digests: Mapping[str, bytes] = field(repr=False)
    """Digest of the decoded body, per algorithm asked for (always includes sha384)."""
    body: bytes | None = field(default=None, repr=False)
    """The decoded body, when the caller asked to keep it."""
    redirect_cors: tuple[tuple[tuple[str, str], ...], ...] = ()
    """The `access-control-*` headers of each redirect response, in the order of
    `redirects`: a browser runs the CORS check on every hop (Fetch §4.4 HTTP fetch)."""

    def header(self, name: str) -> str | None:
        """A header's value, repeated fields joined by ', ' (RFC 9110 §5.3); None if absent."""
        name = name.lower()
        values = [v for k, v in self.headers if k == name]
        return ", ".join(values) if values else None

    @property
    def content_type(self) -> str:
        """The media type, lower-cased, without parameters ('' if none)."""
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    def slim(self) -> FetchResult:
        """The result without its body and with only the headers later stages read, so a
        check of thousands of files keeps little per response."""
        kept = tuple((k, v) for k, v in self.headers if k in _KEPT_HEADERS)
        return dataclasses.replace(self, headers=kept, body=None)

    def integrity(self, algorithm: str = "sha384") -> str:
        """The SRI value of the bytes served, for one algorithm."""
        return format_entry(algorithm, self.digests[algorithm])


# IPv6 ranges whose last 32 bits are the IPv4 address a packet ends up at. `is_global` judges
# most of them by the IPv6 registry alone (Python 3.11: [64:ff9b::a9fe:a9fe] is "global"),
# so the IPv4 address inside is judged too, or a page could reach 169.254.169.254 through a
# NAT64 gateway.
_EMBEDDED_IPV4 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291 §2.5.5.2)
        "::/96",  # IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)
        "::ffff:0:0:0/96",  # IPv4-translated, SIIT (RFC 2765)
        "64:ff9b::/96",  # NAT64 well-known prefix (RFC 6052)
    )
)
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: not globally reachable


def is_private_address(address: str) -> bool:
    """True for loopback, private, link-local (cloud metadata), reserved and similar hosts,
    and for IPv6 addresses that carry such an IPv4 address (mapped, NAT64, 6to4, ...)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return True
        inner = ip.sixtofour  # 2002::/16 (RFC 3056) carries it in bits 16-48
        if inner is None and any(ip in net for net in _EMBEDDED_IPV4):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
        if inner is not None and (not inner.is_global or inner.is_multicast):
            return True
    return not ip.is_global or ip.is_multicast


async def host_is_private(host: str) -> bool:
    """Resolve `host` and report whether any of its addresses is non-public."""
    host = host.strip("[]")
    try:
        return is_private_address(host)
    except ValueError:
        pass
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False  # the fetch itself will fail with a clear DNS error
    return any(is_private_address(str(info[4][0]).split("%", 1)[0]) for info in infos)


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class _NoCookies(http.cookiejar.CookieJar):
    """A jar that never keeps a cookie: every request is a first visit (no tracking state
    carried between fetches), and the per-response cookie parsing costs nothing."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


class Progress(Protocol):
    """Told when each fetch starts and how it ends (a progress display; the fetcher never
    depends on what it does)."""

    def started(self, url: str) -> None:
        """A fetch of `url` was asked for (it may wait for a connection slot)."""

    def finished(self, url: str, ok: bool) -> None:
        """The fetch ended: `ok` when complete, False when it failed (FetchError or other)."""


class _Retry(Exception):
    """Internal: a transient failure worth another attempt."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class Fetcher:
    """Bounded, concurrent, hashing HTTP(S) client. Use as `async with Fetcher() as f`."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        transport: Transport = "aiohttp",
        verify: bool = True,
        allow_private: bool = True,
        progress: Progress | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.progress = progress
        """Told of every fetch, for a progress display."""
        self._transport_name = transport
        self._verify = verify
        self.allow_private = allow_private
        """Default for `fetch(allow_private=...)`: explicit targets are fetched as given."""
        self._global = asyncio.Semaphore(self.limits.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._client: httpx.AsyncClient | None = None
        self._impersonating: dict[str, httpx.AsyncClient] = {}
        self._timeout: dict[str, float | None] = {}

    async def __aenter__(self) -> Fetcher:
        timeout = httpx.Timeout(self.limits.deadline, connect=self.limits.connect_timeout)
        limits = httpx.Limits(
            max_connections=self.limits.concurrency,
            max_keepalive_connections=self.limits.concurrency,
        )
        transport: httpx.AsyncBaseTransport
        if self._transport_name == "aiohttp":
            import aiohttp
            from httpx_aiohttp import AiohttpTransport

            context = self._ssl_context()

            def session() -> aiohttp.ClientSession:
                # The session AiohttpTransport would build, minus aiohttp's own cookie jar,
                # which kept Set-Cookie and sent it back on later fetches to that host.
                connector = aiohttp.TCPConnector(
                    ssl=context,
                    limit=self.limits.concurrency,
                    keepalive_timeout=limits.keepalive_expiry,
                )
                return aiohttp.ClientSession(
                    connector=connector, cookie_jar=aiohttp.DummyCookieJar()
                )

            transport = AiohttpTransport(verify=context, limits=limits, client=session)
        else:
            transport = httpx.AsyncHTTPTransport(verify=self._ssl_context(), limits=limits)
        self._timeout = timeout.as_dict()
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            trust_env=True,  # proxies from the environment, as curl and browsers honour them
            cookies=_NoCookies(),  # the jar itself: httpx copies a Cookies into a real jar
        )
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.__aexit__(exc_type, exc, tb)
            self._client = None
        for client in self._impersonating.values():
            await client.__aexit__(exc_type, exc, tb)
        self._impersonating.clear()

    async def _client_for(self, impersonate: str | None) -> httpx.AsyncClient:
        """The shared client, or one presenting a real browser's TLS and HTTP/2 handshake
        (curl_cffi's impersonation; the optional `impersonate` extra)."""
        if impersonate is None:
            assert self._client is not None
            return self._client
        client = self._impersonating.get(impersonate)
        if client is None:
            try:
                from httpx_curl_cffi import AsyncCurlTransport
            except ImportError:
                raise SriGuardError(
                    f"impersonating {impersonate!r} needs the optional extra: "
                    "pip install 'sri-guard[impersonate]'"
                ) from None
            transport = AsyncCurlTransport(
                impersonate=impersonate,  # type: ignore[arg-type]
                default_headers=False,  # the profile sets every header itself
                verify=self._verify,
            )
            client = httpx.AsyncClient(
                transport=transport,
                timeout=httpx.Timeout(self.limits.deadline, connect=self.limits.connect_timeout),
                follow_redirects=False,
                cookies=_NoCookies(),  # the jar itself: httpx copies a Cookies into a real jar
            )
            await client.__aenter__()
            self._impersonating[impersonate] = client
        return client

    def _ssl_context(self) -> ssl.SSLContext:
        return httpx.create_ssl_context(verify=self._verify, trust_env=True)

    async def fetch(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        keep_body: bool = False,
        allow_private: bool | None = None,
        impersonate: str | None = None,
        algorithms: tuple[str, ...] = ALGORITHMS,
    ) -> FetchResult:
        """Fetch `url` completely and hash its decoded body; raise FetchError otherwise.

        `algorithms` are the digests computed (all three by default; hashing is most of the
        CPU time of a large check, so callers that know what they compare ask for less).
        `impersonate` names a curl_cffi browser target (e.g. "chrome", "safari_ios") whose
        TLS and HTTP/2 handshake the request presents."""
        work = self._fetch(url, headers, keep_body, allow_private, impersonate, algorithms)
        if self.progress is None:
            return await work
        self.progress.started(url)
        ok = False
        try:
            result = await work
            ok = True
            return result
        finally:
            self.progress.finished(url, ok)

    async def _fetch(
        self,
        url: str,
        headers: Mapping[str, str] | None,
        keep_body: bool,
        allow_private: bool | None,
        impersonate: str | None,
        algorithms: tuple[str, ...],
    ) -> FetchResult:
        if self._client is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        algorithms = tuple(dict.fromkeys(("sha384", *algorithms)))
        allow = self.allow_private if allow_private is None else allow_private
        host = urlsplit(url).hostname or ""
        deadline = self.limits.deadline
        started = time.monotonic()
        async with self._global, self._host_slot(host):
            client = await self._client_for(impersonate)
            try:
                async with asyncio.timeout(deadline):
                    return await self._fetch_with_retries(
                        client, url, headers or {}, (keep_body, algorithms), allow, started
                    )
            except TimeoutError:
                raise FetchError(
                    url, f"no complete response within the {deadline:g} s deadline"
                ) from None
            except (FetchError, asyncio.CancelledError):
                raise
            except Exception as exc:
                # A transport raised something of its own (curl_cffi does): still one line.
                raise FetchError(url, f"{type(exc).__name__}: {_describe(exc)}") from None

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self.limits.per_host)
        return slot

    async def _fetch_with_retries(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: Mapping[str, str],
        body: tuple[bool, tuple[str, ...]],
        allow_private: bool,
        started: float,
    ) -> FetchResult:
        attempt = 0
        while True:
            try:
                return await self._fetch_once(client, url, headers, body, allow_private)
            except _Retry as retry:
                if attempt >= self.limits.retries:
                    raise FetchError(url, retry.reason) from None
                wait = self.limits.backoff * (2**attempt)
                if retry.wait is not None:
                    wait = retry.wait
                remaining = self.limits.deadline - (time.monotonic() - started)
                if wait >= remaining:
                    raise FetchError(
                        url,
                        f"{retry.reason}; retrying after {_seconds(wait)} s "
                        "would pass the deadline",
                    ) from None
                attempt += 1
                await asyncio.sleep(wait)

    async def _fetch_once(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: Mapping[str, str],
        body: tuple[bool, tuple[str, ...]],
        allow_private: bool,
    ) -> FetchResult:
        chain: list[str] = []
        hop_cors: list[tuple[tuple[str, str], ...]] = []
        current = url
        request_headers = {"accept-encoding": ", ".join(SUPPORTED), **headers}
        while True:
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https"):
                where = "redirect to" if chain else "URL with"
                raise FetchError(
                    url, f"refused: {where} scheme '{parts.scheme}:' (http/https only)"
                )
            if not parts.hostname:
                raise FetchError(url, f"refused: no host in {current!r}")
            if not allow_private and await host_is_private(parts.hostname):
                raise FetchError(
                    url,
                    f"refused: {parts.hostname} is a private or loopback address "
                    "(a page may not point sri-guard there; use --allow-private to permit)",
                )
            try:
                # Built directly, not by client.build_request: no client defaults or cookies
                # to merge, which matters when thousands of files are checked.
                request = httpx.Request(
                    "GET", current, headers=request_headers, extensions={"timeout": self._timeout}
                )
            except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
                raise FetchError(url, f"invalid URL: {exc}") from None
            try:
                response = await client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                # httpx-aiohttp maps every aiohttp connection error (TLS included) to
                # ConnectTimeout: tell them apart by the original exception.
                root = _root(exc)
                if "certificate" in str(root).lower() or "ssl" in type(root).__name__.lower():
                    raise FetchError(url, f"TLS error: {_describe(root)}") from None
                if isinstance(root, socket.gaierror):
                    raise FetchError(url, f"cannot resolve host: {_describe(root)}") from None
                if root is not exc and "timeout" not in type(root).__name__.lower():
                    raise _Retry(f"connection failed: {_describe(root)}") from None
                raise _Retry("timed out connecting or waiting for headers") from None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                # httpx parses a redirect's Location even when not following it.
                raise FetchError(url, f"refused: invalid redirect target ({exc})") from None
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                reason = _describe(exc)
                if isinstance(_root(exc), socket.gaierror):
                    raise FetchError(url, f"cannot resolve host: {reason}") from None
                if "certificate" in reason.lower() or "ssl" in reason.lower():
                    raise FetchError(url, f"TLS error: {reason}") from None
                raise _Retry(f"connection failed: {reason}") from None
            except httpx.HTTPError as exc:
                raise FetchError(url, _describe(exc)) from None
            try:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(
                            url, f"HTTP {response.status_code} redirect without a Location"
                        )
                    chain.append(current)
                    hop_cors.append(
                        tuple(
                            (k.lower(), v)
                            for k, v in response.headers.multi_items()
                            if k.lower().startswith("access-control-")
                        )
                    )
                    target = urljoin(current, location.strip())
                    if len(chain) > self.limits.max_redirects:
                        raise FetchError(url, f"more than {self.limits.max_redirects} redirects")
                    if target in chain:
                        raise FetchError(url, f"redirect loop at {target}")
                    current = target
                    continue
                if response.status_code in _RETRY_STATUSES:
                    wait = _retry_after(response.headers.get("retry-after"), time.time())
                    raise _Retry(f"HTTP {response.status_code} {response.reason_phrase}", wait)
                if not 200 <= response.status_code < 300:
                    raise FetchError(
                        url,
                        f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
                        + (f" at {current}" if chain else ""),
                    )
                decoded = client is not self._client  # curl removes content codings itself
                result = await self._read_body(url, current, chain, response, *body, decoded)
                return dataclasses.replace(result, redirect_cors=tuple(hop_cors))
            finally:
                await response.aclose()

    async def _read_body(
        self,
        url: str,
        final_url: str,
        chain: list[str],
        response: httpx.Response,
        keep_body: bool,
        algorithms: tuple[str, ...],
        decoded: bool = False,
    ) -> FetchResult:
        max_bytes = self.limits.max_bytes
        hasher = MultiHasher(algorithms)
        body = bytearray() if keep_body else None
        size = 0
        received = 0
        try:
            decoder = decoder_for(None if decoded else response.headers.get("content-encoding"))
        except DecodeError as exc:
            raise FetchError(url, str(exc)) from None

        def take(piece: bytes) -> None:
            nonlocal size
            size += len(piece)
            if size > max_bytes:
                raise FetchError(url, f"body exceeds the {max_bytes:,}-byte limit after decoding")
            hasher.update(piece)
            if body is not None:
                body.extend(piece)

        try:
            async for raw in response.aiter_raw():
                received += len(raw)
                for piece in decoder.feed(raw):
                    take(piece)
            for piece in decoder.finish():
                take(piece)
        except DecodeError as exc:
            raise FetchError(url, str(exc)) from None
        except httpx.TimeoutException:
            raise FetchError(url, f"timed out reading the body after {received:,} bytes") from None
        except httpx.HTTPError as exc:
            raise FetchError(
                url, f"connection cut mid-body after {received:,} bytes ({_describe(exc)})"
            ) from None
        declared = response.headers.get("content-length")
        # (curl counts and checks the encoded bytes itself, and reports a short body.)
        if not decoded and declared and declared.strip().isdigit() and int(declared) != received:
            raise FetchError(
                url, f"truncated: Content-Length is {int(declared):,}, received {received:,} bytes"
            )
        return FetchResult(
            url=url,
            final_url=final_url,
            redirects=tuple(chain),
            status=response.status_code,
            headers=tuple((k.lower(), v) for k, v in response.headers.multi_items()),
            size=size,
            digests=hasher.digests(),
            body=bytes(body) if body is not None else None,
        )


def _root(exc: BaseException) -> BaseException:
    """The innermost cause of an exception (what the transport actually saw)."""
    seen = {id(exc)}
    while (cause := exc.__cause__ or exc.__context__) is not None and id(cause) not in seen:
        seen.add(id(cause))
        exc = cause
    return exc


def _seconds(value: float) -> str:
    """A wait in seconds as a person reads it: `0.5`, `3600`, `2,300,378,880` (a Retry-After
    date far ahead would otherwise print as `2.30038e+09`)."""
    return f"{value:g}" if value < 1e5 else f"{value:,.0f}"


def _describe(exc: BaseException) -> str:
    """One line from an httpx/aiohttp exception, following its causes for the useful part."""
    text = str(exc).strip()
    cause = exc.__cause__ or exc.__context__
    while not text and cause is not None:
        text = str(cause).strip()
        cause = cause.__cause__ or cause.__context__
    text = " ".join(text.split())
    return text or type(exc).__name__
