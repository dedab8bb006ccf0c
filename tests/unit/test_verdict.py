"""Browser verdicts for one reference, where Chromium 156 and the SRI draft disagree.

Each expectation here was observed in headless Chromium by
tests/integration/test_browser_conformance.py; these unit tests pin the logic without a
browser.
"""

from __future__ import annotations

import base64
import hashlib

from sri_guard import sri
from sri_guard.discover import Reference
from sri_guard.fetch import FetchResult
from sri_guard.rules import Severity
from sri_guard.verdict import PagePolicy, judge

PAGE = "https://shop.example/checkout"
CDN = "https://cdn.example/app.js"
SAME = "https://shop.example/app.js"
BODY = b"window.app = 1;\n"
GOOD384 = base64.b64encode(hashlib.sha384(BODY).digest()).decode()
BAD384 = base64.b64encode(hashlib.sha384(b"other").digest()).decode()
BAD512 = base64.b64encode(hashlib.sha512(b"other").digest()).decode()
SCRIPT_POLICY = PagePolicy.from_headers("blocked-destinations=(script)", None)


def served(url: str = CDN, acao: str | None = "*") -> FetchResult:
    headers = (("access-control-allow-origin", acao),) if acao else ()
    return FetchResult(url, url, (), 200, headers, len(BODY), sri.digest_bytes(BODY))


def ref(integrity: str | None, crossorigin: str | None = "anonymous", url: str = CDN) -> Reference:
    return Reference(url, url, "script", integrity, crossorigin, element="script")


def rules(*args: object, **kwargs: object) -> list[tuple[str, Severity]]:
    findings = judge(*args, **kwargs)  # type: ignore[arg-type]
    return sorted((f.rule, f.level) for f in findings)


def test_chromium_reads_sha_dash_384_and_blocks_a_mismatch() -> None:
    findings = judge(ref(f"sha-384-{BAD384}"), PAGE, served())
    assert sorted(f.rule for f in findings) == ["integrity-malformed", "integrity-mismatch"]
    mismatch = next(f for f in findings if f.rule == "integrity-mismatch")
    assert "Chromium" in mismatch.message and "Firefox" in mismatch.message


def test_chromium_dash_spelling_is_its_strongest_algorithm() -> None:
    # The draft compares sha384 (matches); Chromium compares its sha512 (does not).
    assert rules(ref(f"sha384-{GOOD384} sha-512-{BAD512}"), PAGE, served()) == [
        ("integrity-mismatch", Severity.CRITICAL)
    ]


def test_matching_sha_dash_spelling_is_only_unportable() -> None:
    findings = judge(ref(f"sha-384-{GOOD384}"), PAGE, served())
    assert [f.rule for f in findings] == ["integrity-malformed"]
    assert "Chromium checks it" in findings[0].message


def test_upper_case_dash_spelling_is_read_by_no_engine() -> None:
    meta = sri.parse(f"SHA-384-{BAD384}")
    assert not meta.for_chromium().enforced
    assert rules(ref(f"SHA-384-{BAD384}"), PAGE, served()) == [
        ("integrity-malformed", Severity.MEDIUM)
    ]


def test_sha_dash_spelling_without_crossorigin_is_blocked_by_chromium() -> None:
    findings = judge(ref(f"sha-384-{GOOD384}", crossorigin=None), PAGE, served())
    assert sorted(f.rule for f in findings) == ["crossorigin-missing", "integrity-malformed"]


def test_malformed_digest_without_crossorigin_loads_in_chromium() -> None:
    # Chromium drops `sha256-%`, so the no-cors request carries no integrity: it loads.
    assert rules(ref("sha256-%", crossorigin=None), PAGE, served()) == [
        ("integrity-malformed", Severity.MEDIUM)
    ]


def test_integrity_policy_refuses_metadata_chromium_cannot_use() -> None:
    for value in ("foo666-abc", f"SHA384-{GOOD384}", "sha256-%"):
        found = rules(ref(value), PAGE, served(), policy=SCRIPT_POLICY)
        assert ("integrity-missing", Severity.HIGH) in found, value


def test_integrity_policy_accepts_sha_dash_spelling_as_chromium_does() -> None:
    found = rules(ref(f"sha-384-{GOOD384}"), PAGE, served(), policy=SCRIPT_POLICY)
    assert found == [("integrity-malformed", Severity.MEDIUM)]


def test_integrity_policy_blocks_same_origin_no_cors_requests() -> None:
    found = rules(
        ref(f"sha384-{GOOD384}", None, SAME), PAGE, served(SAME, None), policy=SCRIPT_POLICY
    )
    assert found == [("crossorigin-missing", Severity.HIGH)]


def test_integrity_policy_cross_origin_no_cors_is_one_finding() -> None:
    found = rules(ref(f"sha384-{GOOD384}", None), PAGE, served(), policy=SCRIPT_POLICY)
    assert found == [("crossorigin-missing", Severity.HIGH)]


def test_for_chromium_keeps_valid_entries_and_reads_dashes() -> None:
    meta = sri.parse(f"sha512-% sha-384-{GOOD384} md5-x")
    chromium = meta.for_chromium()
    assert [e.algorithm for e in chromium.entries] == ["sha384"]
    assert chromium.ignored == ("md5-x", "sha512-%")
    assert sri.verify(chromium, sri.digest_bytes(BODY)) is sri.Outcome.MATCH
    assert sri.verify(meta, sri.digest_bytes(BODY)) is sri.Outcome.MISMATCH


def redirected(chain: list[tuple[str, str | None]], final: str, acao: str | None) -> FetchResult:
    """A response served at `final` after redirects at each URL of `chain` (with its ACAO)."""
    hops = tuple(url for url, _ in chain)
    hop_cors = tuple(
        (("access-control-allow-origin", value),) if value else () for _, value in chain
    )
    headers = (("access-control-allow-origin", acao),) if acao else ()
    digests = sri.digest_bytes(BODY)
    return FetchResult(CDN, final, hops, 200, headers, len(BODY), digests, None, hop_cors)


def test_a_redirect_without_acao_fails_the_cors_check() -> None:
    result = redirected([(CDN, None)], "https://cdn.example/v2/app.js", "*")
    findings = judge(ref(f"sha384-{GOOD384}"), PAGE, result)
    assert [f.rule for f in findings] == ["cors-missing"]
    assert f"its redirect at {CDN} has no ACAO header" in findings[0].message
    ok = redirected([(CDN, "*")], "https://cdn.example/v2/app.js", "*")
    assert judge(ref(f"sha384-{GOOD384}"), PAGE, ok) == []


def test_a_redirect_to_a_third_origin_taints_the_origin_to_null() -> None:
    # cdn -> other: the request's origin is now "null"; ACAO naming the page no longer fits.
    chain = [(CDN, "https://shop.example")]
    assert rules(
        ref(f"sha384-{GOOD384}"),
        PAGE,
        redirected(chain, "https://other.example/a.js", "https://shop.example"),
    ) == [("cors-missing", Severity.HIGH)]
    assert (
        judge(
            ref(f"sha384-{GOOD384}"), PAGE, redirected(chain, "https://other.example/a.js", "null")
        )
        == []
    )


def test_same_origin_url_redirected_away_is_checked_across_origins() -> None:
    result = FetchResult(
        SAME, CDN, (SAME,), 200, (), len(BODY), sri.digest_bytes(BODY), None, ((),)
    )
    no_cors = judge(ref(f"sha384-{GOOD384}", None, SAME), PAGE, result)
    assert [f.rule for f in no_cors] == ["crossorigin-missing"]
    assert "redirects to another origin" in no_cors[0].message
    # In CORS mode the same-origin redirect itself needs no ACAO, the cross-origin response does.
    cors = judge(ref(f"sha384-{GOOD384}", "anonymous", SAME), PAGE, result)
    assert [f.rule for f in cors] == ["cors-missing"]
    assert f"the response (from {CDN}, after redirects)" in cors[0].message
