"""Browser-exact verdicts: what a browser does with one fetched subresource, as findings.

Follows `../shared/docs/sri-notes.md`: same-origin vs cross-origin against the page's origin
(HTML §7.1.1 "origin"); the request mode each element implies (a classic script, stylesheet
or preload without `crossorigin` is a no-cors request whose opaque response fails any
integrity check, SRI §3.3.5; module scripts and modulepreload are always CORS); the CORS check
of Fetch §4.9 on the final response; the strongest-algorithm rule; and the page's
Integrity-Policy (SRI Level 2 draft) where it blocks requests without integrity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sri_guard import sri
from sri_guard.discover import Reference
from sri_guard.fetch import FetchResult, is_private_address
from sri_guard.model import Finding
from sri_guard.rules import Severity

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, default ports filled in (HTML §7.1.1)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def serialize_origin(url: str) -> str:
    """The origin as a browser sends it in the `Origin` header."""
    scheme, host, port = origin(url)
    if scheme == "file":
        return "null"
    host_part = f"[{host}]" if ":" in host else host
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host_part}"
    return f"{scheme}://{host_part}:{port}"


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs share an origin (file: URLs are each an opaque origin)."""
    if urlsplit(a).scheme == "file" or urlsplit(b).scheme == "file":
        return urlsplit(a).scheme == urlsplit(b).scheme == "file"
    return origin(a) == origin(b)


def potentially_trustworthy(url: str) -> bool:
    """Secure Contexts §3.1: https, or http to loopback, counts as a secure transport."""
    scheme, host, _ = origin(url)
    if scheme in ("https", "file"):
        return True
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return is_private_address(host.strip("[]")) and (
            host.startswith("127.") or host.strip("[]") == "::1"
        )
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class PagePolicy:
    """What the page's headers say about integrity enforcement."""

    blocked_destinations: frozenset[str] = frozenset()
    """Destinations the enforced Integrity-Policy blocks without integrity (script, style)."""
    report_only_destinations: frozenset[str] = frozenset()
    """Destinations Integrity-Policy-Report-Only reports on."""

    @classmethod
    def from_headers(cls, policy: str | None, report_only: str | None) -> PagePolicy:
        """Parse the structured-field dictionaries of Integrity-Policy(-Report-Only)."""
        return cls(_destinations(policy), _destinations(report_only))


def _destinations(value: str | None) -> frozenset[str]:
    if not value:
        return frozenset()
    match = re.search(r"blocked-destinations\s*=\s*\(([^)]*)\)", value, re.IGNORECASE)
    if not match:
        return frozenset()
    return frozenset(token.lower() for token in match.group(1).split())


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    values = [v for k, v in headers if k == name]
    return ", ".join(values) if values else None


def _cors_failure(ref: Reference, page_url: str, result: FetchResult) -> tuple[str, str] | None:
    """The first response of a CORS-mode fetch that fails the CORS check (Fetch §4.9), as
    (what it sent, what it must send); None when every response passes.

    Every response is checked once the fetch has left the page's origin, redirects
    included (Fetch §4.4 "HTTP fetch"; Chromium 156 blocks a script whose redirect lacks
    Access-Control-Allow-Origin), and a redirect from one other origin to another taints
    the request's origin to "null" (Fetch §4.5 "HTTP-redirect fetch").
    """
    # Without redirects the response is the reference's own (its final_url may be where a
    # caller found the bytes, e.g. a file of a build directory standing for an https URL).
    hops = list(zip(result.redirects, result.redirect_cors, strict=False))
    hops.append((result.final_url if result.redirects else ref.url, result.headers))
    origin = serialize_origin(page_url)
    left_page_origin = False
    previous: str | None = None
    for index, (url, headers) in enumerate(hops):
        crossed = previous is not None and not same_origin(previous, url)
        if crossed and not same_origin(page_url, url):
            origin = "null"
        previous = url
        if not left_page_origin and same_origin(url, page_url):
            continue
        left_page_origin = True
        acao = _header(headers, "access-control-allow-origin")
        acac = (_header(headers, "access-control-allow-credentials") or "").strip()
        seen = f"Access-Control-Allow-Origin: {acao}" if acao is not None else "no ACAO header"
        if ref.credentials:
            seen += f", Access-Control-Allow-Credentials: {acac or '(absent)'}"
            ok = acao is not None and acao.strip() == origin and acac == "true"
            need = (
                f"Access-Control-Allow-Origin: {origin} and Access-Control-Allow-Credentials: true"
            )
        else:
            ok = acao is not None and acao.strip() in ("*", origin)
            need = f"Access-Control-Allow-Origin: * (or {origin})"
        if not ok:
            if index < len(hops) - 1:
                return f"its redirect at {url} has {seen}", f"{need} on that redirect too"
            if len(hops) > 1:
                return f"the response (from {url}, after redirects) has {seen}", need
            return f"the response has {seen}", need
    return None


def judge(
    ref: Reference,
    page_url: str,
    result: FetchResult | None,
    *,
    policy: PagePolicy | None = None,
    map_integrity: str | None = None,
    algorithm: str = "sha384",
) -> list[Finding]:
    """Findings for one reference whose response is `result` (None when the fetch failed,
    which the caller reports as `fetch-failed`)."""
    policy = policy or PagePolicy()
    findings: list[Finding] = []
    url = ref.url
    declared = ref.integrity if ref.integrity is not None else map_integrity
    meta = sri.parse(declared)
    cross = not same_origin(url, page_url)
    label = _label(ref)

    def add(rule: str, message: str, **extra: object) -> None:
        findings.append(Finding(rule, url, message, page=page_url, **extra))  # type: ignore[arg-type]

    if urlsplit(url).scheme == "http" and not potentially_trustworthy(url):
        mixed = urlsplit(page_url).scheme == "https"
        add(
            "insecure-transport",
            f"{label} is loaded over plain http:"
            + (
                " (browsers block it as mixed content on this https page)"
                if mixed
                else "; anyone on the network path can replace it"
            )
            + "; serve it over https",
        )

    dest = ref.destination
    blocked_by_policy = dest in policy.blocked_destinations and ref.kind != "importmap"
    # The verdict is Chromium's reading of the attribute (it drops malformed digests and reads
    # `sha-NNN-`, observed in Chromium 156); where Firefox and the draft read it otherwise,
    # the message says so (sri-notes.md rows 4-6).
    chromium_meta = meta.for_chromium()
    if blocked_by_policy and not chromium_meta.enforced:
        # Integrity-Policy blocks a request without valid integrity metadata.
        if meta.blank:
            add(
                "integrity-missing",
                f"{label} has no integrity and the page's Integrity-Policy blocks "
                f"{dest} requests without it: browsers refuse it",
                severity=Severity.HIGH,
            )
        else:
            reason = meta.warnings[0] if meta.warnings else "use sha256, sha384 or sha512"
            add(
                "integrity-missing",
                f"integrity {declared!r} has no metadata Chromium accepts ({reason}) and the "
                f"page's Integrity-Policy blocks {dest} requests without valid integrity: "
                "browsers refuse it",
                severity=Severity.HIGH,
                expected=declared,
            )
    elif not meta.enforced:
        if meta.blank and cross and ref.kind != "importmap":
            add(
                "integrity-missing",
                f"cross-origin {label} has no integrity; "
                "if its host is compromised the page runs whatever is served",
            )
        elif not meta.blank and chromium_meta.enforced:
            add(
                "integrity-malformed",
                f"integrity {declared!r} has no metadata Firefox or the SRI spec accept, so "
                f"they load it unchecked, while Chromium checks it ({meta.warnings[0]})",
                expected=declared,
            )
        elif not meta.blank:
            add(
                "integrity-malformed",
                f"integrity {declared!r} has no valid metadata, so browsers load it unchecked"
                + (f" ({meta.warnings[0]})" if meta.warnings else "; use sha256, sha384 or sha512"),
                expected=declared,
            )

    for entry in meta.entries:
        if entry.malformed:
            add("integrity-malformed", f"integrity {entry.note}", expected=declared)
        elif entry.note:
            # base64url, unpadded or wrong-length digests: unportable, not broken.
            add(
                "integrity-malformed",
                f"integrity {entry.note}",
                severity=Severity.LOW,
                expected=declared,
            )

    # No-cors mode (a classic script, stylesheet or preload without crossorigin): an opaque
    # response never passes an integrity check (SRI §3.3.5), and Integrity-Policy blocks
    # no-cors requests even same-origin. Decided by the markup alone.
    if chromium_meta.enforced and not ref.cors and ref.kind != "importmap":
        unlike_firefox = (
            ""
            if meta.enforced
            else " (Chromium, which reads the 'sha-NNN' spelling; Firefox ignores it and loads "
            "the file unchecked)"
        )
        if cross:
            add(
                "crossorigin-missing",
                f"cross-origin {label} declares integrity without a crossorigin attribute: "
                f"browsers make a no-cors request, cannot check it, and block it{unlike_firefox}; "
                'add crossorigin="anonymous"',
            )
        elif blocked_by_policy:
            add(
                "crossorigin-missing",
                f"{label} has no crossorigin attribute, so it is a no-cors request, and the "
                f"page's Integrity-Policy blocks {dest} requests in no-cors mode, even "
                f"same-origin ones: browsers refuse it{unlike_firefox}; "
                'add crossorigin="anonymous"',
            )

    if result is None:
        return findings

    if ref.cors:
        failure = _cors_failure(ref, page_url, result)
        if failure is not None:
            seen, need = failure
            add(
                "cors-missing",
                f"{label} is fetched in CORS mode but {seen}: "
                f"browsers block it; the server must send {need}",
                actual=seen,
            )
    elif (
        not cross
        and not blocked_by_policy
        and chromium_meta.enforced
        and ref.kind != "importmap"
        and result.redirects
        and not same_origin(result.final_url, page_url)
    ):
        add(
            "crossorigin-missing",
            f"same-origin {label} redirects to another origin ({result.final_url}), where a "
            "request without a crossorigin attribute is no-cors: browsers cannot check it "
            'and block it; add crossorigin="anonymous"',
        )

    if chromium_meta.enforced or meta.enforced:
        fix = sri.format_entry(algorithm, result.digests[algorithm])
        spec = sri.verify(meta, result.digests)
        chromium = sri.verify(chromium_meta, result.digests)
        dashed = ", ".join(f"'{_short(e.token)}'" for e in meta.chromium_only)
        if chromium is sri.Outcome.MISMATCH:
            strongest = chromium_meta.strongest_algorithm or algorithm
            served = sri.format_entry(strongest, result.digests[strongest])
            if spec is sri.Outcome.MISMATCH:
                verdict = (
                    f"declared {strongest} does not match the bytes served ({served}); "
                    "browsers block it"
                )
            else:
                others = (
                    "load it unchecked"
                    if spec is sri.Outcome.UNCHECKED
                    else f"load it ({meta.strongest_algorithm} matches)"
                )
                verdict = (
                    f"Chromium reads {dashed} as {strongest}, which does not match the bytes "
                    f"served ({served}), and blocks it; Firefox and the SRI spec ignore the "
                    f"'sha-NNN' spelling and {others}"
                )
            add(
                "integrity-mismatch",
                f'{label}: {verdict}; if the new file is trusted, use integrity="{fix}"',
                expected=" ".join(e.token for e in chromium_meta.strongest),
                actual=served,
            )
        elif spec is sri.Outcome.MISMATCH and not meta.malformed:
            # Only Chromium's `sha-NNN` reading lets it in; malformed digests, the other way
            # this happens, were reported above with both outcomes.
            strongest = meta.strongest_algorithm or algorithm
            served = sri.format_entry(strongest, result.digests[strongest])
            add(
                "integrity-malformed",
                f"{label}: Firefox and the SRI spec block it (declared {strongest} does not "
                f"match the bytes served, {served}); Chromium reads {dashed} and loads it; "
                f'if the file is trusted, use integrity="{fix}"',
                expected=declared,
                actual=served,
            )
    return findings


def _short(token: str, limit: int = 24) -> str:
    return token if len(token) <= limit else token[: limit - 1] + "…"


def _label(ref: Reference) -> str:
    if ref.kind == "importmap":
        return "import-map module"
    if ref.kind == "preload":
        return f"preloaded {ref.destination}"
    if ref.kind == "script" and ref.module:
        return "module script"
    if ref.kind == "script" and ref.nomodule:
        return "nomodule script (run only by browsers without module support)"
    return {"style": "stylesheet"}.get(ref.kind, ref.kind)
