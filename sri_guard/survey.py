"""Survey one page: fetch it, discover its subresources, fetch each, and judge each as a
browser would. `scan` reports the survey; `pin` records it; `check` compares it.

Subresources are fetched concurrently through the one fetcher, each with the request a
browser would make (destination, CORS mode, `Origin` for CORS requests, the page as
Referer under the default `strict-origin-when-cross-origin` policy, no cookies).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sri_guard.discover import Page, Reference, discover
from sri_guard.errors import FetchError
from sri_guard.fetch import Fetcher, FetchResult, host_is_private
from sri_guard.model import Finding
from sri_guard.profiles import Profile, request_headers
from sri_guard.sri import ALGORITHMS, MultiHasher
from sri_guard.verdict import PagePolicy, judge, same_origin, serialize_origin

SECURITY_HEADERS = (
    "content-security-policy",
    "content-security-policy-report-only",
    "integrity-policy",
    "integrity-policy-report-only",
    "strict-transport-security",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
    "cross-origin-embedder-policy",
    "cross-origin-resource-policy",
)
"""Page response headers that change what a browser enforces (PCI DSS 11.6.1)."""


@dataclass(slots=True)
class Fetched:
    """One reference and what fetching it gave."""

    ref: Reference
    """The reference as discovered."""
    result: FetchResult | None
    """The complete response, or None when the fetch failed."""
    error: str | None = None
    """Why the fetch failed, one line."""
    confirm: FetchResult | None = None
    """A second fetch, made when the first was served unexpected bytes (to confirm it)."""


OnResult = Callable[[FetchResult], FetchResult]
"""Called with every complete response (to keep its body as evidence); returns what to keep."""
Confirm = Callable[[str, FetchResult], bool]
"""Called with (url, response); True asks for a second fetch to confirm a change."""


@dataclass(slots=True)
class Survey:
    """Everything learnt about one page."""

    url: str
    """The page as given (URL, or file: URI of a local file)."""
    page: FetchResult | None
    """The page's own response (None for local files or when it failed)."""
    discovered: Page | None
    """What discovery found (None when the page could not be read)."""
    fetched: list[Fetched] = field(default_factory=list)
    """One entry per reference, in document order."""
    findings: list[Finding] = field(default_factory=list)
    """Every browser-verdict finding for the page and its references."""
    error: str | None = None
    """Why the page itself could not be read."""

    def security_headers(self) -> dict[str, str]:
        """The page's security-impacting headers that are present, by lower-case name."""
        if self.page is None:
            return {}
        return {
            name: value
            for name in SECURITY_HEADERS
            if (value := self.page.header(name)) is not None
        }


def _referrer(page_url: str, target: str) -> str | None:
    """Referer under strict-origin-when-cross-origin (Referrer Policy §3, the default)."""
    if urlsplit(page_url).scheme not in ("http", "https"):
        return None
    if urlsplit(page_url).scheme == "https" and urlsplit(target).scheme == "http":
        return None
    if same_origin(page_url, target):
        return page_url.split("#", 1)[0]
    return serialize_origin(page_url) + "/"


def _site(page_url: str, target: str) -> str:
    if same_origin(page_url, target):
        return "same-origin"
    page_host = urlsplit(page_url).hostname or ""
    host = urlsplit(target).hostname or ""
    same = page_host.split(".")[-2:] == host.split(".")[-2:] and "." in host
    return "same-site" if same else "cross-site"


def _hash_local(path: Path) -> FetchResult:
    hasher = MultiHasher(ALGORITHMS)
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            hasher.update(chunk)
            size += len(chunk)
    url = path.as_uri()
    return FetchResult(url, url, (), 200, (), size, hasher.digests())


def local_path(url: str) -> Path:
    """The filesystem path of a file: URL."""
    return Path(unquote(urlsplit(url).path))


class Surveyor:
    """Surveys pages through one shared fetcher, fetching each distinct request once."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        profile: Profile | None = None,
        allow_private: bool = False,
        keep_bodies: bool = False,
        on_result: OnResult | None = None,
        confirm: Confirm | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.profile = profile
        self.allow_private = allow_private
        self.keep_bodies = keep_bodies or on_result is not None
        self.on_result = on_result
        self.confirm = confirm
        self._cache: dict[tuple[str, frozenset[tuple[str, str]]], asyncio.Task[FetchResult]] = {}

    async def survey(self, target: str) -> Survey:
        """Survey a page URL or a local HTML file path."""
        if target.lower().startswith(("http://", "https://")):
            return await self._survey_url(target)
        return await self._survey_file(Path(target))

    async def _survey_file(self, path: Path) -> Survey:
        url = path.resolve().as_uri()
        try:
            html = path.read_bytes()
        except OSError as exc:
            survey = Survey(url, None, None, error=f"cannot read {path}: {exc.strerror or exc}")
            survey.findings.append(Finding("fetch-failed", url, survey.error or ""))
            return survey
        return await self._finish(Survey(url, None, discover(html, url)), private_ok=True)

    async def fetch_page(self, url: str) -> FetchResult:
        """Fetch a document as this profile's browser would navigate to it."""
        headers = request_headers(self.profile, "document")
        return await self.fetcher.fetch(
            url, headers=headers, keep_body=True, allow_private=True, impersonate=self._imitate
        )

    async def _survey_url(self, url: str) -> Survey:
        try:
            page = await self.fetch_page(url)
        except FetchError as exc:
            survey = Survey(url, None, None, error=exc.reason)
            survey.findings.append(
                Finding("fetch-failed", url, f"page could not be fetched: {exc.reason}")
            )
            return survey
        return await self.survey_fetched(url, page)

    async def survey_fetched(self, url: str, page: FetchResult) -> Survey:
        """Survey a page whose document was already fetched (with its body kept)."""
        discovered = discover(page.body or b"", page.final_url, page.header("link"))
        if self.on_result is not None:
            page = self.on_result(page)
        host = urlsplit(page.final_url).hostname or ""
        private_ok = self.allow_private or await host_is_private(host)
        return await self._finish(Survey(url, page, discovered), private_ok=private_ok)

    async def _finish(self, survey: Survey, *, private_ok: bool) -> Survey:
        assert survey.discovered is not None
        page_url = survey.discovered.url
        refs = survey.discovered.references
        outcomes = await asyncio.gather(
            *(self._fetch_ref(ref, page_url, private_ok) for ref in refs)
        )
        policy = PagePolicy.from_headers(
            survey.page.header("integrity-policy") if survey.page else None,
            survey.page.header("integrity-policy-report-only") if survey.page else None,
        )
        map_integrity = {r.url: r.integrity for r in refs if r.kind == "importmap"}
        # An import-map entry whose URL a module element loads with the map's integrity is
        # that element's request: judge (and report a failed fetch) once, as the element.
        loaded_by_element = {
            r.url for r in refs if r.module and r.kind != "importmap" and r.integrity is None
        }
        for ref, outcome in zip(refs, outcomes, strict=True):
            as_element = ref.kind == "importmap" and ref.url in loaded_by_element
            if isinstance(outcome, FetchError):
                fetched = Fetched(ref, None, outcome.reason)
                if not as_element:
                    survey.findings.append(
                        Finding(
                            "fetch-failed",
                            ref.url,
                            f"{ref.kind} could not be fetched: {outcome.reason}",
                            page=page_url,
                        )
                    )
            else:
                fetched = Fetched(ref, outcome)
                if self.confirm is not None and self.confirm(ref.url, outcome):
                    second = await self._fetch_ref(ref, page_url, private_ok, fresh=True)
                    fetched.confirm = None if isinstance(second, FetchError) else second
            survey.fetched.append(fetched)
            from_map = (
                map_integrity.get(ref.url) if ref.module and ref.kind != "importmap" else None
            )
            if not as_element:
                survey.findings.extend(
                    judge(ref, page_url, fetched.result, policy=policy, map_integrity=from_map)
                )
            # Judged: the CORS headers have been read; keep only what later stages use.
            if fetched.result is not None:
                fetched.result = fetched.result.slim()
            if fetched.confirm is not None:
                fetched.confirm = fetched.confirm.slim()
        return survey

    async def _fetch_ref(
        self, ref: Reference, page_url: str, private_ok: bool, *, fresh: bool = False
    ) -> FetchResult | FetchError:
        if urlsplit(ref.url).scheme == "file":
            if urlsplit(page_url).scheme != "file":
                return FetchError(ref.url, "refused: a web page may not load file: URLs")
            try:
                return await asyncio.to_thread(_hash_local, local_path(ref.url))
            except OSError as exc:
                return FetchError(ref.url, f"cannot read {local_path(ref.url)}: {exc.strerror}")
        headers = self._headers(ref, page_url)
        key = (ref.url, frozenset(headers.items()))
        task = None if fresh else self._cache.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch(ref.url, headers, private_ok))
            if not fresh:
                self._cache[key] = task
        try:
            return await asyncio.shield(task)
        except FetchError as exc:
            return exc

    async def _fetch(self, url: str, headers: Mapping[str, str], private_ok: bool) -> FetchResult:
        result = await self.fetcher.fetch(
            url,
            headers=headers,
            keep_body=self.keep_bodies,
            allow_private=private_ok,
            impersonate=self._imitate,
        )
        return self.on_result(result) if self.on_result is not None else result

    @property
    def _imitate(self) -> str | None:
        return self.profile.impersonate if self.profile is not None else None

    def _headers(self, ref: Reference, page_url: str) -> Mapping[str, str]:
        headers = request_headers(
            self.profile,
            ref.destination,
            referer=_referrer(page_url, ref.url),
            site=_site(page_url, ref.url),  # type: ignore[arg-type]
            cors=ref.cors,
        )
        if ref.cors and not same_origin(page_url, ref.url):
            headers["origin"] = serialize_origin(page_url)
        return headers
