"""`sri-guard stamp` and `sri-guard verify`, run as the real command against build
directories on disk and a second loopback origin serving remote scripts."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path

from tests.servers import Server

CORS = {"Access-Control-Allow-Origin": "*", "Content-Type": "text/javascript"}
APP = b"console.log('app');\n"
MODULE = b"export const answer = 42;\n"
STYLE = b"body { color: rebeccapurple }\n"
LIB = b"window.lib = 1;\n"


def sri384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


PAGE = """<!DOCTYPE html>
<HTML LANG="en">
<HEAD>
  <META CHARSET="utf-8">
  <!-- an old include, commented out: <script src="/assets/old.js"></script> -->
  <LINK REL=stylesheet HREF='/assets/site.css'>
  <SCRIPT SRC="/assets/app.js"></SCRIPT>
  <script>
    var s = "<not a tag>"; var t = '<script src="/assets/nope.js">';
    if (1 &lt; 2) { document.title = "x &amp; y"; }
  </script>
  <script type="importmap">
  {
    "imports": {
      "answer": "/assets/answer.mjs"
    }
  }
  </script>
  <script
      type='module'
      src='assets/answer.mjs'></script>
  <script src="{cdn}/lib.js" defer></script>
</HEAD>
<BODY>&copy; 2026 &mdash; caf\xc3\xa9 \xff</BODY>
</HTML>
"""


def make_build(root: Path, cdn: Server) -> tuple[Path, bytes]:
    """A build directory with every case the issue names; returns it and the page bytes."""
    build = root / "dist"
    (build / "assets").mkdir(parents=True)
    (build / "assets" / "app.js").write_bytes(APP)
    (build / "assets" / "answer.mjs").write_bytes(MODULE)
    (build / "assets" / "site.css").write_bytes(STYLE)
    page = PAGE.replace("{cdn}", cdn.origin).encode("latin-1")
    (build / "index.html").write_bytes(page)
    cdn.route("/lib.js", LIB, headers=CORS)
    return build, page


ADDED = re.compile(
    rb" (?:integrity|INTEGRITY)=([\"'])sha384-[A-Za-z0-9+/=]+\1"
    rb"| (?:crossorigin|CROSSORIGIN)=([\"'])anonymous\2"
)
IMPORT_MAP = re.compile(rb'(<script type="importmap">)(.*?)(</script>)', re.DOTALL)


def test_stamp_is_surgical_idempotent_and_verify_catches_a_swapped_file(
    run, tmp_path: Path, server: Server, cdn: Server
) -> None:  # type: ignore[no-untyped-def]
    build, original = make_build(tmp_path, cdn)
    base = ["--base-url", server.url("/")]

    r = run("stamp", "dist", *base)
    assert r.code == 0, r.stdout + r.stderr
    assert "changed 1 of 1 HTML files" in r.stdout
    stamped = (build / "index.html").read_bytes()

    # Every tag got what it needs, in its own quote style and case.
    assert (
        f"<LINK REL=stylesheet HREF='/assets/site.css' INTEGRITY='{sri384(STYLE)}'>".encode()
        in stamped
    )
    assert f'<SCRIPT SRC="/assets/app.js" INTEGRITY="{sri384(APP)}"></SCRIPT>'.encode() in stamped
    assert f"src='assets/answer.mjs' integrity='{sri384(MODULE)}'></script>".encode() in stamped
    assert (
        f'<script src="{cdn.origin}/lib.js" defer integrity="{sri384(LIB)}" '
        'crossorigin="anonymous"></script>'
    ).encode() in stamped
    # Same-origin and module references get no crossorigin; only the remote classic one does.
    assert stamped.count(b"crossorigin") == 1
    # The import map gained an integrity section for its local module, nothing else.
    stamped_map = json.loads(IMPORT_MAP.search(stamped).group(2))  # type: ignore[union-attr]
    original_map = json.loads(IMPORT_MAP.search(original).group(2))  # type: ignore[union-attr]
    assert stamped_map == {**original_map, "integrity": {"/assets/answer.mjs": sri384(MODULE)}}

    # Remove the added attributes and put back the old import map: byte for byte the same.
    restored = ADDED.sub(b"", stamped)
    restored = IMPORT_MAP.sub(
        lambda m: m.group(1) + IMPORT_MAP.search(original).group(2) + m.group(3),  # type: ignore[union-attr]
        restored,
    )
    assert restored == original

    # Twice changes nothing (and does not even rewrite the file).
    before = os.stat(build / "index.html").st_mtime_ns
    r = run("stamp", "dist", *base)
    assert r.code == 0 and "changed 0 of 1 HTML files" in r.stdout
    assert (build / "index.html").read_bytes() == stamped
    assert os.stat(build / "index.html").st_mtime_ns == before

    r = run("verify", "dist", *base)
    assert (r.code, r.stderr) == (0, ""), r.stdout
    assert r.stdout == "0 findings in 1 target, 5 resources\n"

    # A file swapped after stamping: verify names it, critical, exit 1.
    (build / "assets" / "app.js").write_bytes(b"console.log('evil');\n")
    r = run("verify", "dist", *base)
    assert r.code == 1
    assert re.search(r"CRITICAL +integrity-mismatch +dist/assets/app\.js\s", r.stdout), r.stdout
    doc = json.loads(run("verify", "dist", *base, "--format", "json").stdout)
    (finding,) = doc["findings"]
    assert finding["rule"] == "integrity-mismatch" and finding["severity"] == "critical"
    assert finding["url"] == "dist/assets/app.js" and finding["page"] == "dist/index.html"
    assert finding["expected"] == sri384(APP)
    assert finding["actual"] == sri384(b"console.log('evil');\n")


def test_dry_run_shows_changes_and_writes_nothing(run, tmp_path: Path, cdn: Server) -> None:  # type: ignore[no-untyped-def]
    build, original = make_build(tmp_path, cdn)
    r = run("stamp", "--dry-run", str(build), "-a", "sha256", "-a", "sha512")
    assert r.code == 0, r.stdout
    assert (build / "index.html").read_bytes() == original
    lines = r.stdout.splitlines()
    app = hashlib.sha256(APP).digest()
    app512 = hashlib.sha512(APP).digest()
    expected = (
        "dist/index.html:7: would change script '/assets/app.js': add "
        f'integrity="sha256-{base64.b64encode(app).decode()} '
        f'sha512-{base64.b64encode(app512).decode()}"'
    )
    assert expected in lines
    assert any(":22: would change script" in line and "crossorigin" in line for line in lines)
    assert "would change 1 of 1 HTML files" in r.stdout and "nothing written" in r.stdout


def test_wrong_and_malformed_integrity_are_corrected_and_reported(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build = tmp_path / "site"
    build.mkdir()
    (build / "a.js").write_bytes(APP)
    (build / "b.js").write_bytes(MODULE)
    wrong = sri384(b"something else")
    page = (
        f'<script src="a.js" integrity="{wrong}"></script>\n'
        "<script src=b.js integrity=md5-abc></script>\n"
    )
    (build / "p.htm").write_text(page)
    doc = json.loads(run("stamp", "site", "--format", "json").stdout)
    rules = {f["rule"]: f for f in doc["findings"]}
    assert set(rules) == {"integrity-mismatch", "integrity-malformed"}
    assert rules["integrity-mismatch"]["severity"] == "info"
    assert rules["integrity-mismatch"]["expected"] == wrong
    assert rules["integrity-mismatch"]["actual"] == sri384(APP)
    assert rules["integrity-mismatch"]["url"] == "site/a.js"
    assert (build / "p.htm").read_text() == (
        f'<script src="a.js" integrity="{sri384(APP)}"></script>\n'
        f"<script src=b.js integrity={sri384(MODULE)}></script>\n"
    )
    r = run("stamp", "site", "--fail-on", "info")
    assert r.code == 0  # nothing left to correct
    assert run("verify", "site").code == 0


def test_verify_reports_every_rule_in_every_format(run, tmp_path: Path, cdn: Server) -> None:  # type: ignore[no-untyped-def]
    build = tmp_path / "out"
    build.mkdir()
    (build / "ok.js").write_bytes(APP)
    (build / "changed.js").write_bytes(b"changed")
    cdn.route("/lib.js", LIB, headers=CORS)
    cdn.route("/gone.js", "nope", status=404)
    page = f"""<script src="/ok.js" integrity="{sri384(APP)}"></script>
<script src="/changed.js" integrity="{sri384(APP)}"></script>
<script src="/missing.js"></script>
<script src="{cdn.url("/lib.js")}"></script>
<script src="{cdn.url("/lib.js")}" integrity="{sri384(LIB)}"></script>
<link rel=stylesheet href="/ok.js" integrity="md5-abc">
<script src="{cdn.url("/gone.js")}" integrity="{sri384(LIB)}" crossorigin></script>
"""
    (build / "index.html").write_text(page)
    original = (build / "index.html").read_bytes()
    # An http: site: every script it loads travels in clear text.
    args = ("verify", "out", "--base-url", "http://shop.example/")
    r = run(*args)
    assert r.code == 1
    assert (build / "index.html").read_bytes() == original  # verify changes nothing

    doc = json.loads(run(*args, "--format", "json").stdout)
    assert doc["command"] == "verify" and doc["summary"]["targets"] == 1
    found = {(f["rule"], f["url"]) for f in doc["findings"]}
    assert ("integrity-mismatch", "out/changed.js") in found
    assert ("fetch-failed", "out/missing.js") in found
    assert ("integrity-missing", cdn.url("/lib.js")) in found
    assert ("crossorigin-missing", cdn.url("/lib.js")) in found
    assert ("integrity-malformed", "out/ok.js") in found
    assert ("fetch-failed", cdn.url("/gone.js")) in found
    assert ("insecure-transport", "out/ok.js") in found
    assert all(f["page"] == "out/index.html" for f in doc["findings"])
    assert all(f["message"].startswith("line ") for f in doc["findings"])
    mismatch = next(f for f in doc["findings"] if f["rule"] == "integrity-mismatch")
    assert mismatch["severity"] == "critical" and mismatch["message"].startswith("line 2: ")

    sarif = json.loads(run(*args, "--format", "sarif").stdout)
    results = sarif["runs"][0]["results"]
    assert {res["ruleId"] for res in results} >= {"integrity-mismatch", "fetch-failed"}
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "out/index.html"
    )
    markdown = run(*args, "--format", "markdown").stdout
    assert markdown.startswith("## sri-guard verify") and "`integrity-mismatch`" in markdown

    r = run(*args, "--format", "json", "--output", "report.json", "-q")
    assert (r.code, r.stdout, r.stderr) == (1, "", "")
    assert json.loads((tmp_path / "report.json").read_text())["findings"]

    # --fail-on: only the critical mismatch fails a critical threshold.
    assert run(*args, "--fail-on", "critical").code == 1
    (build / "changed.js").write_bytes(APP)
    assert run(*args, "--fail-on", "critical").code == 0
    assert run(*args).code == 1


def test_stamp_adds_crossorigin_only_where_the_request_would_be_no_cors(
    run, tmp_path: Path, cdn: Server
) -> None:  # type: ignore[no-untyped-def]
    build = tmp_path / "dist"
    build.mkdir()
    (build / "local.js").write_bytes(APP)
    for name in ("classic.js", "module.js", "pre.js", "mp.js", "cred.js"):
        cdn.route(f"/{name}", LIB, headers=CORS)
    cdn.route(
        "/cred.js",
        LIB,
        headers={
            "Access-Control-Allow-Origin": "https://build.invalid",
            "Access-Control-Allow-Credentials": "true",
        },
    )
    c = cdn.origin
    (build / "index.html").write_text(
        f'<script src="/local.js"></script>\n'
        f'<script src="{c}/classic.js"></script>\n'
        f'<script type="module" src="{c}/module.js"></script>\n'
        f'<link rel="preload" as="script" href="{c}/pre.js">\n'
        f'<link rel="modulepreload" href="{c}/mp.js">\n'
        f'<script src="{c}/cred.js" crossorigin="use-credentials"></script>\n'
    )
    r = run("stamp", "dist")
    assert r.code == 0, r.stdout
    lines = (build / "index.html").read_text().splitlines()
    assert "crossorigin" not in lines[0]
    assert lines[1].endswith(f'integrity="{sri384(LIB)}" crossorigin="anonymous"></script>')
    assert "crossorigin" not in lines[2] and "integrity" in lines[2]
    assert lines[3].endswith('crossorigin="anonymous">')
    assert "crossorigin" not in lines[4] and "integrity" in lines[4]
    assert lines[5].endswith(f'crossorigin="use-credentials" integrity="{sri384(LIB)}"></script>')
    assert run("verify", "dist").code == 0


def test_a_cdn_without_cors_is_not_stamped(run, tmp_path: Path, cdn: Server) -> None:  # type: ignore[no-untyped-def]
    build = tmp_path / "dist"
    build.mkdir()
    cdn.route("/lib.js", LIB, content_type="text/javascript")  # no Access-Control-Allow-Origin
    page = f'<script src="{cdn.url("/lib.js")}"></script>\n'
    (build / "index.html").write_text(page)
    r = run("stamp", "dist", "--format", "json")
    assert r.code == 1
    (finding,) = json.loads(r.stdout)["findings"]
    assert finding["rule"] == "cors-missing" and "not stamped" in finding["message"]
    assert (build / "index.html").read_text() == page  # stamping would have broken the page


def test_root_relative_paths_with_root_and_base_url(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "public"
    (site / "docs" / "guide").mkdir(parents=True)
    (site / "assets").mkdir()
    (site / "assets" / "shared.js").write_bytes(APP)
    (site / "docs" / "docs.js").write_bytes(MODULE)
    (site / "docs" / "guide" / "index.html").write_text(
        '<script src="/assets/shared.js"></script><script src="../docs.js"></script>'
    )
    # The build is public/docs; its pages reference files elsewhere under the web root.
    r = run("stamp", "public/docs", "--root", "public")
    assert r.code == 0, r.stdout
    html = (site / "docs" / "guide" / "index.html").read_text()
    assert sri384(APP) in html and sri384(MODULE) in html

    # The same build served under /docs/ of a real origin: /docs/... is the build directory.
    (site / "docs" / "guide" / "index.html").write_text(
        '<script src="/docs/docs.js"></script>'
        '<script src="https://example.com/docs/docs.js"></script>'
        '<script src="/assets/shared.js"></script>'
    )
    r = run("stamp", "public/docs", "--base-url", "https://example.com/docs/", "--format", "json")
    assert r.code == 1
    doc = json.loads(r.stdout)
    (finding,) = doc["findings"]
    assert finding["rule"] == "fetch-failed" and "outside the build" in finding["message"]
    html = (site / "docs" / "guide" / "index.html").read_text()
    assert html.count(sri384(MODULE)) == 2  # root-relative and absolute same-origin alike
    assert "crossorigin" not in html


def test_references_escaping_the_root_are_refused_not_read(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0")
    build = tmp_path / "www" / "site"
    build.mkdir(parents=True)
    os.symlink(tmp_path / "etc" / "passwd", build / "link.js")
    page = (
        '<script src="../../etc/passwd"></script>\n'
        '<script src="/%2e%2e/%2e%2e/etc/passwd"></script>\n'
        '<script src="/a%2F..%2F..%2F..%2Fetc/passwd"></script>\n'
        '<script src="link.js"></script>\n'
    )
    (build / "index.html").write_text(page)
    r = run("stamp", "www/site", "--format", "json")
    assert r.code == 1
    doc = json.loads(r.stdout)
    assert [f["rule"] for f in doc["findings"]] == ["fetch-failed"] * 4
    assert all("refused" in f["message"] for f in doc["findings"])
    assert all(res["integrity"] is None for res in doc["resources"])
    assert (build / "index.html").read_text() == page
    assert run("verify", "www/site").code == 1


def test_usage_errors_exit_2_with_one_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "dist").mkdir()
    for args, message in [
        (("verify", "missing"), "sri-guard: error: missing: no such directory\n"),
        (("stamp", "missing"), "sri-guard: error: missing: no such directory\n"),
        (
            ("stamp", "dist", "-a", "md5"),
            "sri-guard: error: unknown algorithm 'md5': choose from sha256, sha384, sha512\n",
        ),
        (
            ("verify", "dist", "--base-url", "example.com"),
            "sri-guard: error: --base-url 'example.com': give an http(s) URL with a host\n",
        ),
        (
            ("verify", "dist", "--root", "dist/nowhere"),
            "sri-guard: error: --root dist/nowhere: no such directory\n",
        ),
    ]:
        r = run(*args)
        assert (r.code, r.stdout, r.stderr) == (2, "", message)
    r = run("verify")
    assert r.code == 2 and "Traceback" not in r.stderr


def test_an_empty_build_is_clean_but_says_so(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "dist").mkdir()
    r = run("verify", "dist")
    assert r.code == 0
    assert r.stdout == "no HTML files under dist\n0 findings in 0 targets, 0 resources\n"
