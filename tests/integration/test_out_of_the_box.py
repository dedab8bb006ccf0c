"""What ships: the demo runs offline, and the watchlist's config and baselines are valid and
pinned to the values vendors publish."""

from __future__ import annotations

import json
from pathlib import Path

from sri_guard import baseline
from sri_guard.commands._monitor import prepare
from tests.conftest import ROOT
from tests.servers import Server

JQ256 = "sha256-/JqT3SQfawRcv/BIHPThkBvs0OEvtFFmqPF/lYI/Cxo="


def test_demo_catches_the_tampering_offline(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run("demo", "--dir", "demo")
    assert r.code == 0, r.stdout + r.stderr
    assert "0 findings in 2 targets" in r.stdout
    assert "CRITICAL content-changed" in r.stdout
    assert "+  s.src = 'https://cdn.malvertising.example/loader.js';" in r.stdout
    assert len(list((tmp_path / "demo" / "baselines").glob("*.json"))) == 2


def test_watchlist_config_and_baselines_are_valid() -> None:
    setup = prepare(ROOT / "examples" / "watchlist.toml", None, [])
    assert len(setup.targets) == 3
    assert all(b is not None for b in setup.baselines.values())
    jquery = setup.baselines["https://code.jquery.com/jquery-3.7.1.min.js"]
    assert jquery is not None and jquery.file is not None
    assert jquery.file.integrity == (JQ256,)


def test_a_vendor_sha256_value_approves_the_served_bytes(
    run, tmp_path: Path, server: Server, jquery: bytes
) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/jquery-3.7.1.min.js", jquery, content_type="application/javascript")
    (tmp_path / "sri-guard.toml").write_text(f'[[target]]\nurl = "{url}"\nkind = "file"\n')
    pinned = baseline.Baseline(
        url,
        "file",
        ("desktop", "iphone", "android"),
        file=baseline.Pinned(url, "file", (JQ256,)),
    )
    baseline.write_atomic(baseline.path_for(tmp_path / "baselines", url), baseline.to_json(pinned))
    r = run("check", "-f", "json")
    assert (r.code, json.loads(r.stdout)["findings"]) == (0, [])
    server.route("/jquery-3.7.1.min.js", jquery + b"\n", content_type="application/javascript")
    r = run("check", "-f", "json")
    assert r.code == 1
    assert [f["rule"] for f in json.loads(r.stdout)["findings"]] == ["content-changed"]
