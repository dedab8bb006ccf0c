"""Plain-text report for people: findings grouped by page, worst first, then the inventory."""

from __future__ import annotations

from collections import Counter, defaultdict
from io import StringIO

from sri_guard._format.interface import Formatter
from sri_guard.model import Finding, Report
from sri_guard.rules import Severity

_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_DETAIL_LINES = 40


def summary_line(report: Report) -> str:
    """'3 findings (1 critical, 2 high) in 2 targets, 14 resources'."""
    counts = Counter(f.level for f in report.findings)
    parts = ", ".join(f"{counts[s]} {s}" for s in sorted(counts, reverse=True))
    total = len(report.findings)
    head = f"{total} finding{'s' if total != 1 else ''}" + (f" ({parts})" if parts else "")
    return (
        f"{head} in {report.targets} target{'s' if report.targets != 1 else ''}, "
        f"{len(report.resources)} resource{'s' if len(report.resources) != 1 else ''}"
    )


def _shorten(detail: str, limit: int = _DETAIL_LINES) -> list[str]:
    lines = detail.splitlines()
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"... {len(lines) - limit} more lines (full diff in --format json)"]


class TextFormat(Formatter):
    """Readable on a terminal (colour via rich) and in a cron mail (plain)."""

    def __init__(self, *, color: bool = False) -> None:
        self._color = color

    def format(self, report: Report) -> str:
        from rich.console import Console
        from rich.markup import escape

        buffer = StringIO()
        console = Console(
            file=buffer,
            force_terminal=self._color,
            no_color=not self._color,
            width=10_000,
            highlight=False,
            soft_wrap=True,
        )
        by_page: dict[str, list[Finding]] = defaultdict(list)
        for finding in report.sorted_findings():
            by_page[finding.page or finding.url].append(finding)
        resources_by_page: dict[str, int] = Counter(r.page or r.url for r in report.resources)
        for note in report.notes:
            console.print(escape(note))
        for page, findings in by_page.items():
            extra = resources_by_page.get(page, 0)
            suffix = f"  ({extra} resources)" if extra > 1 else ""
            console.print(f"[bold]{escape(page)}[/bold]{escape(suffix)}")
            for f in findings:
                style = _STYLE[f.level]
                who = f" [{f.profile}]" if f.profile else ""
                console.print(
                    f"  [{style}]{str(f.level).upper():<8}[/{style}] "
                    f"{f.rule:<20} {escape(f.url)}{escape(who)}"
                )
                console.print(f"           {escape(f.message)}")
                if f.detail:
                    for line in _shorten(f.detail):
                        console.print(f"           │ {escape(line)}")
        if report.findings:
            console.print()
        console.print(summary_line(report))
        return buffer.getvalue()
