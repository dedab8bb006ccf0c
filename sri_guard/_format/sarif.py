"""SARIF 2.1.0 for GitHub code scanning: each rule declared once (with help and link),
severity mapped to level and to `security-severity`, one result per finding located at the
page (or target) that loads the resource, with the resource itself as a related location.
Valid against the OASIS schema (tests/data/sarif-schema-2.1.0.json)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from sri_guard import __version__
from sri_guard._format.interface import Formatter
from sri_guard.model import Report
from sri_guard.rules import RULES, Severity

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub shows security-severity as critical (>= 9.0), high (>= 7.0), medium, low.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "2.0",
    Severity.INFO: "0.0",
}


def _uri(text: str) -> str:
    """An RFC 3986 URI reference, as SARIF requires of `artifactLocation.uri`: what a URL as
    written may hold but a URI may not (spaces, quotes, non-ASCII, a stray %) is
    percent-encoded, as a browser would before requesting it; the rest is untouched."""
    text = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", text)
    return quote(text, safe="!#$%&'()*+,/:;=?@[]~")


def _location(uri: str) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(uri)}}}


class SarifFormat(Formatter):
    """One run, one tool, the rules that fired, one result per finding."""

    def format(self, report: Report) -> str:
        findings = report.sorted_findings()
        used = [rule for rule in RULES.values() if any(f.rule == rule.id for f in findings)]
        index = {rule.id: i for i, rule in enumerate(used)}
        rules: list[dict[str, Any]] = [
            {
                "id": rule.id,
                "name": "".join(p.capitalize() for p in rule.id.split("-")),
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.summary},
                "help": {
                    "text": f"{rule.summary} See {rule.help_uri}",
                    "markdown": f"{rule.summary} [Documentation]({rule.help_uri})",
                },
                "helpUri": rule.help_uri,
                "defaultConfiguration": {"level": _LEVEL[rule.severity]},
                "properties": {
                    "security-severity": _SECURITY_SEVERITY[rule.severity],
                    "tags": ["security", "supply-chain"],
                },
            }
            for rule in used
        ]
        results: list[dict[str, Any]] = []
        for f in findings:
            where = f.page or f.url
            result: dict[str, Any] = {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": _LEVEL[f.level],
                "message": {"text": f"{f.message} ({f.url})"},
                "locations": [_location(where)],
                "partialFingerprints": {"sriGuard/v1": f"{f.rule}:{where}:{f.url}"},
            }
            if f.url != where:
                result["relatedLocations"] = [
                    {"id": 1, **_location(f.url), "message": {"text": "the resource"}}
                ]
            if f.expected is not None or f.actual is not None or f.profile:
                result["properties"] = {
                    k: v
                    for k, v in (
                        ("expected", f.expected),
                        ("actual", f.actual),
                        ("profile", f.profile),
                    )
                    if v is not None
                }
            results.append(result)
        document = {
            "$schema": SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "sri-guard",
                            "version": __version__,
                            "semanticVersion": __version__,
                            "informationUri": "https://github.com/sri-guard/sri-guard",
                            "rules": rules,
                        }
                    },
                    "results": results,
                }
            ],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
