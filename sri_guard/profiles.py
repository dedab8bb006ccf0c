"""Client profiles: the header sets real browsers send, so servers that cloak (serve their
addition only to some visitors) or block bare HTTP clients show us what visitors get.

Each profile imitates one browser's request headers for a document and for a script or
stylesheet (User-Agent, Accept, Accept-Language, Accept-Encoding, Sec-Fetch-*, client hints
where that browser sends them), with the embedding page as Referer and no cookies. It does
not imitate the TLS or HTTP/2 handshake (see README: "Client profiles"). Accept-Encoding
omits zstd, which current browsers also offer, because we remove only gzip, deflate and br.
The `-tls` profiles add the browser's TLS and HTTP/2 handshake through curl_cffi.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Destination = Literal["document", "script", "style", "file"]

_CHROME_VERSION = "142"


@dataclass(frozen=True, slots=True)
class Profile:
    """One kind of visitor."""

    name: str
    """Short id used in config, baselines and findings (desktop, iphone, android)."""
    user_agent: str
    """The User-Agent header."""
    hints: tuple[tuple[str, str], ...] = ()
    """Client hints this browser sends on every request (sec-ch-ua*), empty for Safari."""
    accept_language: str = "en-US,en;q=0.9"
    """The Accept-Language header."""
    extra: tuple[tuple[str, str], ...] = field(default=())
    """User-defined headers added to every request of this profile."""
    impersonate: str | None = None
    """curl_cffi browser target whose TLS/HTTP2 handshake requests present (None: Python's)."""


def _chrome_hints(mobile: bool, platform: str) -> tuple[tuple[str, str], ...]:
    v = _CHROME_VERSION
    return (
        ("sec-ch-ua", f'"Chromium";v="{v}", "Google Chrome";v="{v}", "Not_A Brand";v="99"'),
        ("sec-ch-ua-mobile", "?1" if mobile else "?0"),
        ("sec-ch-ua-platform", f'"{platform}"'),
    )


BUILTIN: dict[str, Profile] = {
    "desktop": Profile(
        "desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{_CHROME_VERSION}.0.0.0 Safari/537.36",
        _chrome_hints(False, "Windows"),
    ),
    "iphone": Profile(
        "iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1",
        (),
        "en-US,en;q=0.9",
    ),
    "android": Profile(
        "android",
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{_CHROME_VERSION}.0.0.0 Mobile Safari/537.36",
        _chrome_hints(True, "Android"),
    ),
}
BUILTIN["desktop-tls"] = Profile(
    "desktop-tls", BUILTIN["desktop"].user_agent, BUILTIN["desktop"].hints, impersonate="chrome"
)
BUILTIN["iphone-tls"] = Profile(
    "iphone-tls", BUILTIN["iphone"].user_agent, (), impersonate="safari_ios"
)
"""The built-in profiles; the default set is desktop, iphone and android, so mobile-only
tampering is seen. The `-tls` variants also present the browser's own TLS and HTTP/2
handshake (optional extra `sri-guard[impersonate]`)."""

DEFAULT_PROFILES: tuple[str, ...] = ("desktop", "iphone", "android")

_ACCEPT = {
    "document": (
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
        "image/apng,*/*;q=0.8"
    ),
    "script": "*/*",
    "style": "text/css,*/*;q=0.1",
    "file": "*/*",
}


def request_headers(
    profile: Profile | None,
    destination: Destination,
    *,
    referer: str | None = None,
    site: Literal["none", "same-origin", "same-site", "cross-site"] = "cross-site",
    cors: bool = False,
) -> dict[str, str]:
    """The headers `profile`'s browser sends for one request (Fetch §3.1 Sec-Fetch-*)."""
    profile = profile or BUILTIN["desktop"]
    headers: dict[str, str] = dict(profile.hints)
    headers["user-agent"] = profile.user_agent
    headers["accept"] = _ACCEPT[destination]
    headers["accept-language"] = profile.accept_language
    if destination == "document":
        headers["upgrade-insecure-requests"] = "1"
        headers["sec-fetch-site"] = "none" if referer is None else site
        headers["sec-fetch-mode"] = "navigate"
        headers["sec-fetch-user"] = "?1"
        headers["sec-fetch-dest"] = "document"
    elif destination == "file":
        # A hosted SDK fetched the way a page embeds it: a cross-site script request.
        headers["sec-fetch-site"] = site
        headers["sec-fetch-mode"] = "cors" if cors else "no-cors"
        headers["sec-fetch-dest"] = "script"
    else:
        headers["sec-fetch-site"] = site
        headers["sec-fetch-mode"] = "cors" if cors else "no-cors"
        headers["sec-fetch-dest"] = destination
    if referer:
        headers["referer"] = referer
    headers.update(profile.extra)
    return headers
