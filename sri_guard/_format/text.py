"""Plain-text report for people: one table of findings per page (or target), worst first,
then a one-line summary. Colour and wrapping to the terminal's width only on a terminal;
elsewhere (a pipe, a cron mail, a file) one finding is one line, so `grep` works on it."""

from __future__ import annotations

import shutil
from collections import Counter
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
_UNBOUNDED = 10_000


def plural(n: int, word: str) -> str:
    """'1 finding', '2 findings'."""
    return f"{n} {word}{'s' if n != 1 else ''}"


def severity_counts(findings: list[Finding]) -> str:
    """'1 critical, 2 high': how many findings of each severity, worst first."""
    counts = Counter(f.level for f in findings)
    return ", ".join(f"{counts[s]} {s}" for s in sorted(counts, reverse=True))


def summary_line(report: Report) -> str:
    """'3 findings (1 critical, 2 high) in 2 targets, 14 resources'."""
    parts = severity_counts(report.findings)
    head = plural(len(report.findings), "finding") + (f" ({parts})" if parts else "")
    return (
        f"{head} in {plural(report.targets, 'target')}, {plural(len(report.resources), 'resource')}"
    )


def _shorten(detail: str, limit: int = _DETAIL_LINES) -> list[str]:
    lines = detail.splitlines()
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"... {len(lines) - limit} more lines (full diff in --format json)"]


def by_page(report: Report) -> dict[str, list[Finding]]:
    """Findings by page (or target), targets in the order they were given, then the rest."""
    groups: dict[str, list[Finding]] = {
        r.url: [] for r in report.resources if r.page is None and r.kind in ("page", "file")
    }
    for finding in report.sorted_findings():
        groups.setdefault(finding.page or finding.url, []).append(finding)
    return groups


class TextFormat(Formatter):
    """Readable on a terminal (colour via rich) and in a cron mail (plain)."""

    def __init__(self, *, color: bool = False, width: int | None = None) -> None:
        self._color = color
        self._width = width

    def format(self, report: Report) -> str:
        from rich.console import Console
        from rich.markup import escape
        from rich.padding import Padding
        from rich.table import Table
        from rich.text import Text

        width = self._width or (
            shutil.get_terminal_size((100, 24)).columns if self._color else _UNBOUNDED
        )
        buffer = StringIO()
        console = Console(
            file=buffer,
            force_terminal=self._color,
            no_color=not self._color,
            width=width,
            highlight=False,
            soft_wrap=width == _UNBOUNDED,
        )
        resources = Counter(r.page or r.url for r in report.resources)
        notes = list(report.notes)
        for page, findings in by_page(report).items():
            count = f"{plural(resources.get(page, 0), 'resource')}, "
            count += plural(len(findings), "finding")
            count += f" ({severity_counts(findings)})" if findings else ""
            console.print(f"[bold]{escape(page)}[/bold]  {escape(count)}")
            for note in [n for n in notes if n.startswith(f"{page}: ")]:
                notes.remove(note)
                console.print(f"  {escape(note.removeprefix(f'{page}: '))}", style="dim")
            if not findings:
                continue
            table = Table(
                box=None,
                header_style="bold",
                padding=(0, 1, 0, 0),
                pad_edge=False,
                show_edge=False,
            )
            table.add_column("SEVERITY", no_wrap=True)
            table.add_column("RULE", no_wrap=True)
            table.add_column("RESOURCE", overflow="fold", max_width=max(30, width * 2 // 5))
            table.add_column("MESSAGE", overflow="fold", ratio=1)
            for f in findings:
                who = f" [{f.profile}]" if f.profile else ""
                table.add_row(
                    Text(str(f.level).upper(), style=_STYLE[f.level]),
                    Text(f.rule),
                    Text(f.url + who),
                    Text(f.message),
                )
            console.print(Padding(table, (0, 0, 0, 2)))
            for f in findings:
                if f.detail:
                    console.print(f"  {escape(f.rule)} {escape(f.url)}:")
                    for line in _shorten(f.detail):
                        console.print(f"    │ {escape(line)}")
            console.print()
        for note in notes:
            console.print(escape(note), style="dim")
        console.print(summary_line(report))
        text = buffer.getvalue()
        if not self._color:
            text = "\n".join(line.rstrip(" ") for line in text.split("\n"))
        return text
