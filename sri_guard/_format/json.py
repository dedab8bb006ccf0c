"""JSON report, schema 1 of the contract: tool, version, schema, command, summary,
resources, findings. Extra fields are additive and never rename the contract's."""

from __future__ import annotations

import json
from typing import Any

from sri_guard import __version__
from sri_guard._format.interface import Formatter
from sri_guard.model import Report


def report_dict(report: Report) -> dict[str, Any]:
    """The report as the contract's JSON object."""
    return {
        "tool": "sri-guard",
        "version": __version__,
        "schema": 1,
        "command": report.command,
        "summary": {
            "targets": report.targets,
            "resources": len(report.resources),
            "findings": len(report.findings),
        },
        "resources": [
            {
                "url": r.url,
                "page": r.page,
                "kind": r.kind,
                "integrity": r.integrity,
                "declared": r.declared,
                "status": r.status,
                "size": r.size,
                **({"final_url": r.final_url} if r.final_url else {}),
                **({"profile": r.profile} if r.profile else {}),
            }
            for r in report.resources
        ],
        "findings": [
            {
                "rule": f.rule,
                "severity": str(f.level),
                "url": f.url,
                "page": f.page,
                "message": f.message,
                "expected": f.expected,
                "actual": f.actual,
                **({"detail": f.detail} if f.detail else {}),
                **({"profile": f.profile} if f.profile else {}),
            }
            for f in report.sorted_findings()
        ],
        **({"notes": report.notes} if report.notes else {}),
    }


class JsonFormat(Formatter):
    """Machine-readable report for scripts and dashboards."""

    def format(self, report: Report) -> str:
        return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"
