"""Report formats on crafted reports: SARIF stays valid against the official schema, the
markdown summary renders untrusted page content as text, the text report groups by page."""

from __future__ import annotations

import json
import re

import pytest

from sri_guard._format import get_formatter
from sri_guard.model import Finding, Report, Resource
from tests.sarif_schema import validator

PAGE = "https://shop.example/checkout"
# Everything below comes from a page an attacker may control.
HOSTILE_URL = "https://cdn.example/a b/<img src=x onerror=alert(1)>|`x`.js?q=%zz&r=é"
HOSTILE_MESSAGE = "see [here](https://evil.example) ![i](https://evil.example/p.png) <b>x</b> | *y*"


def report() -> Report:
    r = Report("scan", targets=2)
    r.resources += [
        Resource(PAGE, "page", integrity="sha384-AAAA", status=200, size=10),
        Resource(HOSTILE_URL, "script", page=PAGE, integrity="sha384-BBBB", declared="x|y"),
    ]
    r.findings += [
        Finding("integrity-mismatch", HOSTILE_URL, HOSTILE_MESSAGE, page=PAGE, expected="a"),
        Finding(
            "content-changed", PAGE, "bytes changed", detail="-a\n+b\n```\n+c", profile="mobile"
        ),
        Finding("fetch-failed", "file:///tmp/saved%20page.html", "cannot read it"),
    ]
    r.notes.append(f"{PAGE}: content-security-policy: script-src 'self'")
    return r


@pytest.mark.parametrize("value", [report(), Report("scan")])
def test_sarif_is_valid_against_the_official_schema(value: Report) -> None:
    document = json.loads(get_formatter("sarif").format(value))
    assert sorted(validator().iter_errors(document), key=str) == []


def test_sarif_locates_the_page_and_relates_the_resource() -> None:
    results = json.loads(get_formatter("sarif").format(report()))["runs"][0]["results"]
    mismatch = next(r for r in results if r["ruleId"] == "integrity-mismatch")
    assert mismatch["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == PAGE
    related = mismatch["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert related.startswith("https://cdn.example/a%20b/%3Cimg%20src=x")
    assert "%25zz" in related and "%C3%A9" in related
    page_only = next(r for r in results if r["ruleId"] == "content-changed")
    assert "relatedLocations" not in page_only


def test_markdown_renders_untrusted_text_as_text() -> None:
    out = get_formatter("markdown").format(report())
    row = next(line for line in out.splitlines() if "integrity-mismatch" in line and "|" in line)
    cells = re.split(r"(?<!\\)\|", row)[1:-1]
    assert len(cells) == 4, row  # no pipe from the page broke the table
    # Outside code spans (where GFM shows < and > literally), no HTML gets through.
    prose = re.sub(r"(`+).*?\1", "", out)
    assert "<img" not in prose and "<b>" not in prose and "&lt;b&gt;" in prose
    assert "``https://cdn.example/a b/<img src=x onerror=alert(1)>\\|`x`.js?q=%zz&r=é``" in row
    assert "](https://evil.example)" not in out.replace("\\]", "")
    assert r"\[here\]" in cells[3] and "&lt;b&gt;" in cells[3]
    # The diff is fenced by more backticks than it contains.
    assert "````diff\n-a\n+b\n```\n+c\n````" in out


def test_markdown_groups_findings_under_their_page() -> None:
    out = get_formatter("markdown").format(report())
    assert out.startswith("## sri-guard scan\n\n**3 findings (2 critical, 1 high) in 2 targets")
    sections = out.split("\n### ")
    assert sections[1].startswith(f"`{PAGE}`\n\n2 resources, 2 findings (2 critical)")
    assert "> content-security-policy: script-src 'self'" in sections[1]
    assert sections[2].startswith("`file:///tmp/saved%20page.html`\n\n0 resources, 1 finding")


def test_text_is_one_line_per_finding_without_a_terminal() -> None:
    out = get_formatter("text").format(report())
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0] == f"{PAGE}  2 resources, 2 findings (2 critical)"
    assert lines[1] == "  content-security-policy: script-src 'self'"
    assert lines[2].split() == ["SEVERITY", "RULE", "RESOURCE", "MESSAGE"]
    assert re.match(
        r"  CRITICAL content-changed +https://shop\.example/checkout \[mobile\] +bytes", lines[3]
    )
    assert lines[4].startswith(f"  CRITICAL integrity-mismatch {HOSTILE_URL} ")
    assert lines[5:9] == [
        f"  content-changed {PAGE}:",
        "    │ -a",
        "    │ +b",
        "    │ ```",
    ]
    assert all(line == line.rstrip() for line in lines)
    assert lines[-1] == "3 findings (2 critical, 1 high) in 2 targets, 2 resources"


def test_text_on_a_terminal_has_colour_and_fits_the_width() -> None:
    from sri_guard._format.text import TextFormat

    out = TextFormat(color=True, width=90).format(report())
    assert "\x1b[" in out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert max(len(line.rstrip()) for line in plain.splitlines()) <= 90
