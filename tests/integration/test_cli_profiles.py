"""Client profiles: cloaking that serves its addition only to mobile visitors is caught with
default settings; content that legitimately varies by browser is pinned once, then clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.servers import Server

SDK = b"window.sdk = 1;\n"


def by_user_agent(mobile: bytes, desktop: bytes, content_type: str) -> Any:
    def handle(h: Any) -> None:
        ua = h.headers.get("User-Agent", "")
        body = mobile if ("Mobile" in ua or "iPhone" in ua) else desktop
        h.send_raw(200, body, {"Content-Type": content_type, "Vary": "User-Agent"})

    return handle


def config(tmp_path: Path, url: str) -> None:
    (tmp_path / "sri-guard.toml").write_text(f'[[target]]\nurl = "{url}"\n')


def findings(run) -> tuple[int, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    r = run("check", "-f", "json")
    return r.code, json.loads(r.stdout)["findings"]


def test_sdk_tampered_only_for_mobile_is_caught(run, tmp_path: Path, server: Server) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/sdk.js", SDK, content_type="application/javascript")
    config(tmp_path, url)
    assert run("pin").code == 0
    server.route(
        "/sdk.js", handler=by_user_agent(SDK + b"malvertising();\n", SDK, "application/javascript")
    )
    code, found = findings(run)
    assert code == 1
    [f] = found
    assert f["rule"] == "profile-divergence" and f["severity"] == "critical"
    assert f["profile"] == "iphone, android"
    assert "desktop" in f["message"]
    # The requests carried each browser's headers, with br offered and no cookies.
    agents = {h["user-agent"] for p, h in server.requests if p == "/sdk.js"}
    assert any("iPhone" in a for a in agents) and any("Android" in a for a in agents)
    assert all("br" in h["accept-encoding"] and "cookie" not in h for p, h in server.requests)


def test_script_added_for_mobile_visitors_only_is_caught(
    run, tmp_path: Path, server: Server, cdn: Server
) -> None:  # type: ignore[no-untyped-def]
    cdn.route("/app.js", b"app()", content_type="text/javascript")
    cdn.route("/m.js", b"skim()", content_type="text/javascript")
    clean = f'<html><script src="{cdn.url("/app.js")}"></script></html>'.encode()
    dirty = f'<html><script src="{cdn.url("/app.js")}"></script><script src="{cdn.url("/m.js")}"></script></html>'.encode()
    server.route("/", clean, content_type="text/html")
    config(tmp_path, server.url("/"))
    assert run("pin").code == 0
    server.route("/", handler=by_user_agent(dirty, clean, "text/html"))
    _, found = findings(run)
    added = [f for f in found if f["rule"] == "resource-added"]
    assert len(added) == 1 and added[0]["url"] == cdn.url("/m.js")
    assert added[0]["profile"] == "iphone, android"


def test_per_browser_css_is_pinned_once_then_checks_clean(
    run, tmp_path: Path, server: Server
) -> None:  # type: ignore[no-untyped-def]
    server.route("/site.css", handler=by_user_agent(b".m{}", b".d{}", "text/css"))
    config(tmp_path, server.url("/site.css"))
    pinned = run("pin")
    assert pinned.code == 0
    doc = json.loads(next((tmp_path / "baselines").glob("*.json")).read_text())
    assert set(doc["file"]["integrity_by_profile"]) == {"desktop", "iphone", "android"}
    code, found = findings(run)
    assert (code, found) == (0, [])
    # ...but a change for one of them is still caught.
    server.route(
        "/site.css", handler=by_user_agent(b".m{background:url(//evil)}", b".d{}", "text/css")
    )
    code, found = findings(run)
    assert code == 1 and {f["rule"] for f in found} == {"content-changed"}


def test_profiles_can_be_chosen_and_defined(run, tmp_path: Path, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.route("/sdk.js", SDK, content_type="application/javascript")
    (tmp_path / "sri-guard.toml").write_text(
        'profiles = ["desktop", "kiosk"]\n'
        '[profile.kiosk]\nuser_agent = "KioskBrowser/1.0"\nheaders = { "X-Kiosk" = "1" }\n'
        f'[[target]]\nurl = "{server.url("/sdk.js")}"\n'
    )
    assert run("pin").code == 0
    seen = [h for p, h in server.requests if p == "/sdk.js"]
    assert {h["user-agent"] for h in seen if h.get("x-kiosk") == "1"} == {"KioskBrowser/1.0"}
    assert len(seen) == 2


def test_tls_impersonating_profile_fetches_and_keeps_limits(
    run, tmp_path: Path, server: Server
) -> None:  # type: ignore[no-untyped-def]
    import gzip

    from tests import servers

    server.route(
        "/sdk.js",
        gzip.compress(SDK),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/javascript"},
    )
    server.route("/cut.js", handler=servers.truncated(b"x" * 100, 1000))
    (tmp_path / "sri-guard.toml").write_text(
        'profiles = ["desktop-tls"]\n'
        f'[[target]]\nurl = "{server.url("/sdk.js")}"\n[[target]]\nurl = "{server.url("/cut.js")}"\n'
    )
    r = run("pin", "-f", "json", "--timeout", "5")
    doc = json.loads(r.stdout)
    [good] = [x for x in doc["resources"] if x["url"].endswith("/sdk.js")]
    assert good["size"] == len(SDK) and good["profile"] == "desktop-tls"
    [failed] = doc["findings"]
    assert failed["rule"] == "fetch-failed" and failed["url"].endswith("/cut.js")
    assert "Chrome/" in next(h["user-agent"] for p, h in server.requests if p == "/sdk.js")


def test_inline_script_added_for_mobile_only_names_the_profiles(
    run, tmp_path: Path, server: Server
) -> None:  # type: ignore[no-untyped-def]
    clean = b"<html><script>init()</script></html>"
    dirty = b"<html><script>init()</script><script>skim()</script></html>"
    server.route("/", clean, content_type="text/html")
    config(tmp_path, server.url("/"))
    assert run("pin").code == 0
    server.route("/", handler=by_user_agent(dirty, clean, "text/html"))
    _, found = findings(run)
    [f] = found
    assert f["rule"] == "inline-changed" and f["profile"] == "iphone, android"
