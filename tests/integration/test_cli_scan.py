"""`sri-guard scan` (issue 3) against the verifier checklist of sri-notes.md: a page on one
loopback origin whose scripts and stylesheets live on another. The real command runs as a
subprocess; every format must name the same findings, and each resource gets exactly the
browser's verdict (the expected rule ids per URL in tests/scan_page.py are the ones
tests/integration/test_browser_conformance.py checks against headless Chromium)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result
from tests.sarif_schema import validator
from tests.scan_page import CASES, INERT, NOMODULE, ChecklistSite, integrity_value
from tests.servers import Server

CONTRACT_KEYS = {"tool", "version", "schema", "command", "summary", "resources", "findings"}
RESOURCE_KEYS = {"url", "page", "kind", "integrity", "declared", "status", "size"}
FINDING_KEYS = {"rule", "severity", "url", "page", "message", "expected", "actual"}
REFUSALS = {"integrity-mismatch", "crossorigin-missing", "cors-missing"}


@pytest.fixture
def site(server: Server, cdn: Server) -> ChecklistSite:
    return ChecklistSite(server, cdn)


@pytest.fixture(scope="module")
def sarif_validator() -> Any:
    return validator()


def scan(run: Any, site: ChecklistSite, fmt: str, *extra: str) -> Result:
    result: Result = run("scan", "--format", fmt, *extra, site.checklist_url, site.policy_url)
    return result


def by_url(findings: list[dict[str, Any]]) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = defaultdict(list)
    for f in findings:
        rules[f["url"]].append(f["rule"])
    return {url: sorted(ids) for url, ids in rules.items()}


def refused(findings: list[dict[str, Any]]) -> set[str]:
    """The resources sri-guard says a browser refuses."""
    return {
        f["url"]
        for f in findings
        if f["rule"] in REFUSALS or (f["rule"] == "integrity-missing" and f["severity"] == "high")
    }


def sri384(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


def test_every_checklist_row_gets_the_browser_verdict(run: Any, site: ChecklistSite) -> None:
    r = scan(run, site, "json")
    assert r.code == 1, r.stderr  # findings at or above medium
    report = json.loads(r.stdout)

    # Schema 1 of the contract, exactly (notes are additive).
    assert set(report) - {"notes"} == CONTRACT_KEYS
    assert (report["tool"], report["schema"], report["command"]) == ("sri-guard", 1, "scan")
    assert report["summary"] == {
        "targets": 2,
        "resources": len(report["resources"]),
        "findings": len(report["findings"]),
    }
    for resource in report["resources"]:
        assert RESOURCE_KEYS <= set(resource) <= RESOURCE_KEYS | {"final_url", "profile"}
    for finding in report["findings"]:
        assert FINDING_KEYS <= set(finding) <= FINDING_KEYS | {"detail", "profile"}

    # The rule ids per resource URL, duplicates included.
    expected = {site.url(c): sorted(c.rules) for c in CASES if c.rules}
    nomodule = site.cdn.url(NOMODULE)
    expected[nomodule] = ["integrity-missing"]
    assert by_url(report["findings"]) == expected
    [finding] = [f for f in report["findings"] if f["url"] == nomodule]
    assert "nomodule script (run only by browsers without module support)" in finding["message"]
    # Each finding names the page that loads the resource.
    pages = {site.url(c): site.page_url(c) for c in CASES} | {nomodule: site.checklist_url}
    assert all(f["page"] == pages[f["url"]] for f in report["findings"])
    # What sri-guard calls a refusal is what Chromium refused.
    assert refused(report["findings"]) == {site.url(c) for c in CASES if c.refused}

    # The inventory: each resource with the integrity of the bytes served (after gzip is
    # removed) and the attribute as written.
    resources = {(r["url"], r["kind"]): r for r in report["resources"]}
    # Nothing inside <noscript> or <template>: a browser running scripts never loads it.
    assert not {site.cdn.url(path) for path in INERT} & {url for url, _ in resources}
    for case in CASES:
        kind = {
            "script": "script",
            "module": "script",
            "importmap": "script",
            "style": "style",
            "modulepreload": "modulepreload",
            "importmap-preload": "modulepreload",
            "preload-script": "preload",
            "preload-style": "preload",
        }[case.element]
        resource = resources[(site.url(case), kind)]
        body = site.bodies[case.id] + case.trailing
        assert resource["integrity"] == sri384(body), case.id
        assert resource["status"] == 200 and resource["size"] == len(body)
        declared = integrity_value(case, site.bodies[case.id])
        assert resource["declared"] == (None if case.element.startswith("importmap") else declared)
        assert resource["page"] == site.page_url(case)
    assert f"{site.policy_url}: integrity-policy: blocked-destinations=(script)" in report["notes"]


def test_exit_code_follows_fail_on(run: Any, site: ChecklistSite, server: Server) -> None:
    assert scan(run, site, "json", "--fail-on", "critical").code == 1
    clean = [c for c in CASES if not c.rules and c.page == "checklist"]
    assert len(clean) > 10
    # A page with only the rows that produce no finding passes at every threshold.
    tags = [site.tag(c) for c in clean if c.where == "cdn" and c.element != "importmap"]
    page = server.route("/clean.html", "".join(tags), content_type="text/html")
    r = run("scan", "--fail-on", "info", "--format", "json", page)
    assert r.code == 0, r.stdout
    assert json.loads(r.stdout)["findings"] == []


def rule_url_pairs(fmt: str, output: str) -> Counter[tuple[str, str]]:
    """(rule id, resource URL) of each finding, as the format names them."""
    if fmt == "sarif":
        results = json.loads(output)["runs"][0]["results"]
        pairs = []
        for result in results:
            related = result.get("relatedLocations") or result["locations"]
            pairs.append(
                (result["ruleId"], related[0]["physicalLocation"]["artifactLocation"]["uri"])
            )
        return Counter(pairs)
    if fmt == "markdown":
        row = re.compile(r"^\| .*? \| \[`([a-z-]+)`\]\([^)]*\) \| `([^`]+)` \|", re.MULTILINE)
        return Counter(row.findall(output))
    line = re.compile(r"^\s+(?:CRITICAL|HIGH|MEDIUM|LOW|INFO)\s+([a-z-]+)\s+(\S+)", re.MULTILINE)
    return Counter(line.findall(output))


@pytest.mark.parametrize("fmt", ["text", "markdown", "sarif"])
def test_each_format_names_the_same_findings(run: Any, site: ChecklistSite, fmt: str) -> None:
    as_json = json.loads(scan(run, site, "json").stdout)
    want = Counter((f["rule"], f["url"]) for f in as_json["findings"])
    r = scan(run, site, fmt)
    assert r.code == 1, r.stderr
    assert rule_url_pairs(fmt, r.stdout) == want
    # Every format tells the pages apart.
    assert site.checklist_url in r.stdout and site.policy_url in r.stdout


def test_text_report_is_a_table_per_page(run: Any, site: ChecklistSite) -> None:
    out = scan(run, site, "text").stdout
    assert "\x1b[" not in out  # colour only on a terminal
    lines = out.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("http://")]
    assert [lines[i].split()[0] for i in headers] == [site.checklist_url, site.policy_url]
    assert re.fullmatch(r"\d+ findings \(.+\) in 2 targets, \d+ resources", lines[-1])
    first_table = lines[headers[0] + 1]
    assert first_table.split() == ["SEVERITY", "RULE", "RESOURCE", "MESSAGE"]
    # Worst first within a page.
    order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
    levels = [line.split()[0] for line in lines[headers[0] + 2 : headers[1]] if line.strip()]
    assert levels == sorted(levels, key=order.index)
    assert "integrity-policy: blocked-destinations=(script)" in lines[headers[1] + 1]


def test_sarif_validates_against_the_sarif_2_1_0_schema(
    run: Any, site: ChecklistSite, sarif_validator: Any
) -> None:
    document = json.loads(scan(run, site, "sarif").stdout)
    errors = sorted(sarif_validator.iter_errors(document), key=str)
    assert errors == []
    run_ = document["runs"][0]
    rules = [rule["id"] for rule in run_["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules))
    for result in run_["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]


def test_a_saved_copy_of_the_page_gives_the_same_findings(
    run: Any, site: ChecklistSite, tmp_path: Path
) -> None:
    served = json.loads(scan(run, site, "json").stdout)["findings"]
    saved = tmp_path / "saved page.html"
    saved.write_text(site.html("checklist"), encoding="utf-8")
    r = run("scan", "--format", "json", str(saved))
    assert r.code == 1, r.stderr
    local = json.loads(r.stdout)
    assert local["summary"]["targets"] == 1
    page = saved.resolve().as_uri()
    assert {f["page"] for f in local["findings"]} == {page}

    # Resources whose verdict does not depend on the page's own origin: identical.
    depends_on_origin = {"credentials-exact"} | {c.id for c in CASES if c.where == "page"}
    remote = {site.url(c) for c in CASES if c.page == "checklist" and c.id not in depends_on_origin}
    want = {u: ids for u, ids in by_url(served).items() if u in remote}
    got = {u: ids for u, ids in by_url(local["findings"]).items() if u in remote}
    assert got == want
    # A file: page has an opaque origin ("null"): an ACAO naming the server's origin no
    # longer matches, and the page's own server is now another origin.
    case = {c.id: c for c in CASES}
    rules = by_url(local["findings"])
    assert rules[site.url(case["credentials-exact"])] == ["cors-missing"]
    assert rules[site.url(case["same-origin"])] == ["crossorigin-missing"]
    assert rules[site.url(case["same-origin-bad"])] == ["crossorigin-missing", "integrity-mismatch"]
