"""Faults at the command level: the real `sri-guard check`, `pin` and `scan` against loopback
servers that misbehave in every way a CDN can, next to targets that behave.

For each fault the target (or subresource) becomes one `fetch-failed` finding with a one-line
reason; the rest of the run completes and the good targets are still checked; every run is
bounded in time (small `--timeout`; the `run` fixture's subprocess timeout catches a hang) and
memory (bombs are refused by `--max-size`); and a failed fetch writes no baseline and no
evidence: a failed re-`pin` leaves every baseline byte for byte as it was.

One config holds every fault, so one `pin`, one `check`, one re-`pin` and one `scan` cover
them all (the faults that wait for the deadline wait concurrently); each fault is then its
own test case over those results. Retries, which count requests, have their own tests.
(Fetcher-level limits are in test_fetch.py.)
"""

from __future__ import annotations

import datetime
import json
import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme

from sri_guard.sri import digest_bytes, format_entry
from tests import servers
from tests.conftest import Result, cli_env, run_cli
from tests.servers import Server

GOOD = b"window.good = function () { return 42; };\n"
BODY = b"window.sdk = { version: '1.20', ready: function () { return true; } };\n"
TIMEOUT = "3"
MAX_SIZE = "1000000"
LIMITS = ("--timeout", TIMEOUT, "--max-size", MAX_SIZE)


def sri(data: bytes) -> str:
    return format_entry("sha384", digest_bytes(data)["sha384"])


def report(r: Result) -> dict[str, Any]:
    assert r.stdout.startswith("{"), r.stdout + r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Fault:
    """A misbehaviour, installed on a path after the first (clean) pin."""

    handler: Callable[[str], servers.Handler]
    """Given the path it is served at, the handler that misbehaves."""
    reason: str
    """A regular expression the one-line reason must match."""


def _loop(path: str) -> servers.Handler:
    # /x -> /x?hop -> /x: the query makes a second URL, then the first comes round again.
    return servers.sequence(servers.redirect(path + "?hop"), servers.redirect(path))


def _chain(path: str) -> servers.Handler:
    def handle(h: Any) -> None:
        # Each hop adds to the query: never the same URL twice, so only the limit stops it.
        servers.redirect(h.path + ("&" if "?" in h.path else "?") + "n")(h)

    return handle


HTTP_FAULTS: dict[str, Fault] = {
    "truncated-then-closed": Fault(
        lambda _: servers.truncated(BODY[:10], len(BODY)), r"truncated|cut mid-body"
    ),
    "content-length-too-large-kept-open": Fault(
        lambda _: servers.long_content_length(BODY, len(BODY) + 1000),
        rf"no complete response within the {TIMEOUT} s deadline",
    ),
    "cut-mid-chunked-body": Fault(
        lambda _: servers.cut_mid_body(BODY, 10), r"cut mid-body|truncated"
    ),
    "drip-feed": Fault(
        lambda _: servers.drip(BODY, 0.2), rf"no complete response within the {TIMEOUT} s deadline"
    ),
    "stall-before-headers": Fault(
        lambda _: servers.stall_before_headers(60),
        rf"no complete response within the {TIMEOUT} s deadline",
    ),
    "connection-reset": Fault(lambda _: servers.reset, r"connection failed: .*reset"),
    "closed-before-response": Fault(
        lambda _: servers.close_before_response, r"connection failed: .*disconnected"
    ),
    "redirect-loop": Fault(_loop, r"redirect loop at "),
    "redirect-chain-too-long": Fault(_chain, r"more than 10 redirects"),
    "redirect-to-file": Fault(
        lambda _: servers.redirect("file:///etc/passwd"),
        r"refused: redirect to scheme 'file:' \(http/https only\)",
    ),
    "redirect-to-ftp": Fault(
        lambda _: servers.redirect("ftp://127.0.0.1/sdk.js"), r"refused: redirect to scheme 'ftp:'"
    ),
    "redirect-to-data": Fault(
        lambda _: servers.redirect("data:text/javascript,alert(1)"),
        # (httpx refuses to parse such a Location at all: refused either way.)
        r"refused: (redirect to scheme 'data:'|invalid redirect target)",
    ),
    "redirect-to-javascript": Fault(
        lambda _: servers.redirect("javascript:alert(1)"),
        r"refused: (redirect to scheme 'javascript:'|invalid redirect target)",
    ),
    "gzip-bomb": Fault(
        lambda _: servers.gzip_bomb(64 * 1024 * 1024),
        r"body exceeds the 1,000,000-byte limit after decoding",
    ),
    "br-bomb": Fault(
        lambda _: servers.br_bomb(16 * 1024 * 1024),
        r"body exceeds the 1,000,000-byte limit after decoding",
    ),
    "invalid-gzip": Fault(
        lambda _: servers.respond(b"not gzip at all", 200, {"Content-Encoding": "gzip"}),
        r"invalid gzip data",
    ),
    "unrequested-coding": Fault(
        lambda _: servers.respond(BODY, 200, {"Content-Encoding": "zstd"}),
        r"unsupported Content-Encoding 'zstd'",
    ),
    "http-404": Fault(lambda _: servers.respond("gone", 404), r"^HTTP 404 Not Found$"),
    "http-500": Fault(lambda _: servers.respond("oops", 500), r"^HTTP 500 Internal Server Error$"),
    "http-502": Fault(lambda _: servers.respond("bad", 502), r"^HTTP 502 Bad Gateway"),
    "http-503": Fault(lambda _: servers.respond("busy", 503), r"^HTTP 503 Service Unavailable"),
    "http-504": Fault(lambda _: servers.respond("slow", 504), r"^HTTP 504 Gateway Timeout"),
    "http-429-retry-after-an-hour": Fault(
        lambda _: servers.respond("later", 429, {"Retry-After": "3600"}),
        r"^HTTP 429 Too Many Requests; retrying after 3600 s would pass the deadline$",
    ),
}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


TLS_FAULTS: dict[str, tuple[Callable[[trustme.CA], trustme.LeafCert], str]] = {
    # A certificate from a CA the client does not trust (not in SSL_CERT_FILE).
    "tls-untrusted-ca": (
        lambda _: trustme.CA().issue_cert("127.0.0.1", "localhost"),
        r"^TLS error: .*certificate verify failed: unable to get local issuer certificate",
    ),
    "tls-expired": (
        lambda ca: ca.issue_cert(
            "127.0.0.1",
            not_before=_now() - datetime.timedelta(days=30),
            not_after=_now() - datetime.timedelta(days=1),
        ),
        r"^TLS error: .*certificate verify failed: certificate has expired",
    ),
    "tls-wrong-host": (
        lambda ca: ca.issue_cert("shop.example.com"),
        r"^TLS error: .*certificate verify failed: .*mismatch",
    ),
}

ALL_CASES = [*HTTP_FAULTS, *TLS_FAULTS]


def _page(paths: list[str]) -> bytes:
    scripts = "".join(f'<script src="{p}"></script>\n' for p in paths)
    return f"<!doctype html><title>checkout</title>\n{scripts}".encode()


@dataclass
class Outcome:
    """One pin, check, re-pin and scan of a config holding every fault."""

    origin: Server
    tls: dict[str, Server]
    root: Path
    file_urls: dict[str, str] = field(default_factory=dict)
    sub_urls: dict[str, str] = field(default_factory=dict)
    good: str = ""
    page: str = ""
    broken_page: str = ""
    before: dict[str, bytes] = field(default_factory=dict)
    after: dict[str, bytes] = field(default_factory=dict)
    check: Result | None = None
    repin: Result | None = None
    scan: Result | None = None


def snapshot(root: Path) -> dict[str, bytes]:
    """Every baseline and every evidence object, by path."""
    files: dict[str, bytes] = {}
    for sub in ("baselines", ".sri-guard/objects"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file():
                files[str(p.relative_to(root))] = p.read_bytes()
    return files


@pytest.fixture(scope="module")
def outcome(
    ca: trustme.CA, ca_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outcome]:
    root = tmp_path_factory.mktemp("faults")
    env = cli_env(ca_file, root)
    origin = Server()
    contexts: dict[str, ssl.SSLContext] = {}
    tls: dict[str, Server] = {}
    for name in TLS_FAULTS:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        contexts[name] = ctx
        tls[name] = Server(ctx)
    out = Outcome(origin, tls, root)
    try:
        js = "application/javascript"
        out.good = origin.route("/good.js", GOOD, content_type=js)
        for name in HTTP_FAULTS:
            out.file_urls[name] = origin.route(f"/file/{name}.js", BODY, content_type=js)
            out.sub_urls[name] = origin.route(f"/sub/{name}.js", BODY, content_type=js)
        for name, server in tls.items():
            out.file_urls[name] = server.route(f"/{name}.js", BODY, content_type=js)
        html = "text/html; charset=utf-8"
        out.page = origin.route(
            "/checkout.html",
            _page(["/good.js", *(f"/sub/{name}.js" for name in HTTP_FAULTS)]),
            content_type=html,
        )
        out.broken_page = origin.route("/broken.html", _page(["/good.js"]), content_type=html)
        targets = [out.good, out.page, *out.file_urls.values()]
        config = 'profiles = ["desktop"]\n' + "".join(
            f'[[target]]\nurl = "{url}"\n' for url in targets
        )
        config += f'[[target]]\nurl = "{out.broken_page}"\nkind = "page"\n'
        (root / "sri-guard.toml").write_text(config)

        first = run_cli(("pin", "-f", "json", *LIMITS), root, env)
        assert first.code == 0, first.stdout + first.stderr
        out.before = snapshot(root)
        assert sum(k.startswith("baselines") for k in out.before) == len(targets) + 1

        # Now everything but good.js and the checkout page's own HTML misbehaves.
        for name, fault in HTTP_FAULTS.items():
            for kind in ("file", "sub"):
                path = f"/{kind}/{name}.js"
                origin.route(path, handler=fault.handler(path))
        origin.route("/broken.html", handler=servers.truncated(b"<!doctype html><scr", 5000))
        for name, (issue, _) in TLS_FAULTS.items():
            issue(ca).configure_cert(contexts[name])

        out.check = run_cli(("check", "-f", "json", *LIMITS), root, env)
        out.repin = run_cli(("pin", "-f", "json", *LIMITS), root, env)
        out.after = snapshot(root)
        out.scan = run_cli(("scan", "-f", "json", *LIMITS, out.page), root, env)
        yield out
    finally:
        origin.close()
        for server in tls.values():
            server.close()


def _one_failure(doc: dict[str, Any], url: str) -> dict[str, Any]:
    found = [f for f in doc["findings"] if f["url"] == url]
    assert [f["rule"] for f in found] == ["fetch-failed"], found
    finding = found[0]
    assert finding["severity"] == "high"
    assert "\n" not in finding["message"] and finding["message"].strip() == finding["message"]
    return finding


def _reason(message: str, prefix: str) -> str:
    assert message.startswith(prefix), message
    return message[len(prefix) :]


# The run as a whole.


def test_runs_complete_with_exit_1_and_no_traceback(outcome: Outcome) -> None:
    for r in (outcome.check, outcome.repin, outcome.scan):
        assert r is not None
        assert r.code == 1, r.stdout + r.stderr
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr
        assert report(r)["schema"] == 1


def test_check_reports_exactly_the_failures(outcome: Outcome) -> None:
    """Nothing else: no `content-changed`, `resource-removed` or `unpinned` from a failure."""
    assert outcome.check is not None
    doc = report(outcome.check)
    expected = {
        *outcome.file_urls.values(),
        *outcome.sub_urls.values(),
        outcome.broken_page,
    }
    assert {(f["rule"], f["url"]) for f in doc["findings"]} == {
        ("fetch-failed", url) for url in expected
    }
    assert len(doc["findings"]) == len(expected)
    assert doc["summary"]["targets"] == len(outcome.file_urls) + 3


def test_good_targets_are_still_checked(outcome: Outcome) -> None:
    for r in (outcome.check, outcome.repin):
        assert r is not None
        doc = report(r)
        good = [x for x in doc["resources"] if x["url"] == outcome.good and x["page"] is None]
        assert [(x["kind"], x["integrity"], x["status"]) for x in good] == [
            ("file", sri(GOOD), 200)
        ]
        assert not [f for f in doc["findings"] if f["url"] in (outcome.good, outcome.page)]
        # The page's good script was fetched and verified too.
        on_page = [x for x in doc["resources"] if x["page"] == outcome.page]
        assert {x["url"]: x["integrity"] for x in on_page}[outcome.good] == sri(GOOD)


def test_no_baseline_or_evidence_is_written_from_a_failed_fetch(outcome: Outcome) -> None:
    """The re-pin found failures everywhere: every baseline is as it was, byte for byte, and
    no partial body reached the evidence store (only the bodies of the first, clean pin)."""
    assert outcome.after == outcome.before
    assert BODY in outcome.before.values() and GOOD in outcome.before.values()


def test_a_failed_page_target_is_one_finding(outcome: Outcome) -> None:
    assert outcome.check is not None and outcome.repin is not None
    finding = _one_failure(report(outcome.check), outcome.broken_page)
    reason = _reason(finding["message"], "target could not be fetched: ")
    assert re.search(r"truncated|cut mid-body", reason), reason
    pinned = _one_failure(report(outcome.repin), outcome.broken_page)
    assert pinned["message"] == "not pinned: " + finding["message"]


# Each fault: as a target of its own, and as a script on a page.


@pytest.mark.parametrize("case", ALL_CASES)
def test_check_fault_as_a_target(outcome: Outcome, case: str) -> None:
    assert outcome.check is not None
    finding = _one_failure(report(outcome.check), outcome.file_urls[case])
    assert finding["page"] is None
    pattern = HTTP_FAULTS[case].reason if case in HTTP_FAULTS else TLS_FAULTS[case][1]
    reason = _reason(finding["message"], "target could not be fetched: ")
    assert re.search(pattern, reason), reason


@pytest.mark.parametrize("case", ALL_CASES)
def test_repin_fault_as_a_target(outcome: Outcome, case: str) -> None:
    assert outcome.repin is not None
    finding = _one_failure(report(outcome.repin), outcome.file_urls[case])
    pattern = HTTP_FAULTS[case].reason if case in HTTP_FAULTS else TLS_FAULTS[case][1]
    reason = _reason(finding["message"], "not pinned: target could not be fetched: ")
    assert re.search(pattern, reason), reason


@pytest.mark.parametrize("case", list(HTTP_FAULTS))
def test_check_fault_as_a_subresource(outcome: Outcome, case: str) -> None:
    assert outcome.check is not None
    finding = _one_failure(report(outcome.check), outcome.sub_urls[case])
    assert finding["page"] == outcome.page
    reason = _reason(finding["message"], "script could not be fetched: ")
    assert re.search(HTTP_FAULTS[case].reason, reason), reason


@pytest.mark.parametrize("case", list(HTTP_FAULTS))
def test_repin_fault_as_a_subresource(outcome: Outcome, case: str) -> None:
    assert outcome.repin is not None
    finding = _one_failure(report(outcome.repin), outcome.sub_urls[case])
    assert finding["page"] == outcome.page
    reason = _reason(finding["message"], "page not pinned: script could not be fetched: ")
    assert re.search(HTTP_FAULTS[case].reason, reason), reason


@pytest.mark.parametrize("case", list(HTTP_FAULTS))
def test_scan_fault_as_a_subresource(outcome: Outcome, case: str) -> None:
    assert outcome.scan is not None
    doc = report(outcome.scan)
    finding = _one_failure(doc, outcome.sub_urls[case])
    reason = _reason(finding["message"], "script could not be fetched: ")
    assert re.search(HTTP_FAULTS[case].reason, reason), reason
    [resource] = [r for r in doc["resources"] if r["url"] == outcome.sub_urls[case]]
    assert resource["integrity"] is None and resource["size"] is None


def test_scan_still_verifies_the_good_script(outcome: Outcome) -> None:
    assert outcome.scan is not None
    doc = report(outcome.scan)
    [good] = [r for r in doc["resources"] if r["url"] == outcome.good]
    assert good["integrity"] == sri(GOOD) and good["status"] == 200
    assert {f["rule"] for f in doc["findings"]} == {"fetch-failed"}
    assert len(doc["findings"]) == len(HTTP_FAULTS)


# Transient failures: retried a bounded number of times, with backoff, honouring Retry-After.


def _pin_one(run: Any, tmp_path: Path, server: Server) -> str:
    url = server.route("/sdk.js", BODY, content_type="application/javascript")
    (tmp_path / "sri-guard.toml").write_text(f'profiles = ["desktop"]\n[[target]]\nurl = "{url}"\n')
    assert run("pin").code == 0
    server.requests.clear()
    return url


def _requests(server: Server) -> int:
    return sum(1 for path, _ in server.requests if path == "/sdk.js")


OK = servers.respond(BODY, 200, {"Content-Type": "application/javascript"})


@pytest.mark.parametrize(
    "transient",
    [
        pytest.param(servers.respond("bad", 502), id="502"),
        pytest.param(servers.respond("busy", 503), id="503"),
        pytest.param(servers.respond("slow", 504), id="504"),
        pytest.param(servers.respond("later", 429, {"Retry-After": "1"}), id="429-retry-after"),
        pytest.param(servers.respond("busy", 503, {"Retry-After": "0"}), id="503-retry-after-0"),
        pytest.param(servers.reset, id="connection-reset"),
    ],
)
def test_transient_failure_then_success_passes(
    run: Any, tmp_path: Path, server: Server, transient: servers.Handler
) -> None:
    _pin_one(run, tmp_path, server)
    server.route("/sdk.js", handler=servers.sequence(transient, OK))
    r = run("check", "-f", "json", "--timeout", "10")
    assert r.code == 0, r.stdout + r.stderr
    assert report(r)["findings"] == []
    assert _requests(server) == 2


def test_503_twice_then_success_passes_within_the_retry_budget(
    run: Any, tmp_path: Path, server: Server
) -> None:
    _pin_one(run, tmp_path, server)
    busy = servers.respond("busy", 503)
    server.route("/sdk.js", handler=servers.sequence(busy, busy, OK))
    r = run("check", "-f", "json", "--timeout", "10")
    assert r.code == 0, r.stdout + r.stderr
    assert _requests(server) == 3


@pytest.mark.parametrize("status", [503, 429])
def test_retries_are_bounded(run: Any, tmp_path: Path, server: Server, status: int) -> None:
    """Two retries (backoff 0.5 s, then 1 s), then the target is `fetch-failed`."""
    url = _pin_one(run, tmp_path, server)
    server.route("/sdk.js", handler=servers.respond("no", status))
    r = run("check", "-f", "json", "--timeout", "10")
    assert r.code == 1
    finding = _one_failure(report(r), url)
    assert re.fullmatch(
        rf"target could not be fetched: HTTP {status} [A-Za-z ]+", finding["message"]
    )
    assert _requests(server) == 3


def test_persistent_reset_is_retried_a_bounded_number_of_times(
    run: Any, tmp_path: Path, server: Server
) -> None:
    url = _pin_one(run, tmp_path, server)
    server.route("/sdk.js", handler=servers.reset)
    r = run("check", "-f", "json", "--timeout", "10")
    assert r.code == 1
    assert "connection failed" in _one_failure(report(r), url)["message"]
    # Our two retries, each of which aiohttp may itself repeat once at once when the
    # connection closes before a response (RFC 9112 §9.3.1 retry of an idempotent request).
    assert 3 <= _requests(server) <= 6


@pytest.mark.parametrize("status", [500, 404, 403])
def test_other_errors_are_not_retried(
    run: Any, tmp_path: Path, server: Server, status: int
) -> None:
    url = _pin_one(run, tmp_path, server)
    server.route("/sdk.js", handler=servers.sequence(servers.respond("no", status), OK))
    r = run("check", "-f", "json", "--timeout", "10")
    assert r.code == 1
    assert f"HTTP {status}" in _one_failure(report(r), url)["message"]
    assert _requests(server) == 1


@pytest.mark.parametrize(
    "retry_after",
    ["3600", "Wed, 21 Oct 2099 07:28:00 GMT"],
    ids=["seconds", "http-date"],
)
def test_retry_after_beyond_the_deadline_is_honoured_not_ignored(
    run: Any, tmp_path: Path, server: Server, retry_after: str
) -> None:
    """Ignoring Retry-After would retry after the 0.5 s backoff and get the 200: honouring
    it means giving up at once, since the server's wait passes the deadline."""
    url = _pin_one(run, tmp_path, server)
    server.route(
        "/sdk.js",
        handler=servers.sequence(servers.respond("later", 429, {"Retry-After": retry_after}), OK),
    )
    r = run("check", "-f", "json", "--timeout", "10")
    assert r.code == 1
    message = _one_failure(report(r), url)["message"]
    assert re.fullmatch(
        r"target could not be fetched: HTTP 429 Too Many Requests; "
        r"retrying after [0-9,.]+ s would pass the deadline",
        message,
    ), message
    assert _requests(server) == 1
