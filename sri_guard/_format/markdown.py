"""Markdown report for a CI step summary ($GITHUB_STEP_SUMMARY) or a pull-request comment:
the verdict first, then one findings table per page (worst first), evidence and the full
inventory folded away.

Everything that comes from a page (URLs, integrity values, messages quoting them) is
untrusted: it is escaped so that it renders as text and can neither break the table nor
inject links, images or HTML into the summary.
"""

from __future__ import annotations

import html
import re

from sri_guard._format.interface import Formatter
from sri_guard._format.text import by_page, plural, severity_counts, summary_line
from sri_guard.model import Finding, Report
from sri_guard.rules import Severity

_BADGE = {
    Severity.CRITICAL: "🔴 critical",
    Severity.HIGH: "🟠 high",
    Severity.MEDIUM: "🟡 medium",
    Severity.LOW: "🔵 low",
    Severity.INFO: "⚪ info",
}
# Characters that start markup inside a GitHub-flavoured markdown table cell (< > & are
# turned into entities first, so no HTML gets through).
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")


def _text(value: str | None) -> str:
    """Untrusted text for a table cell: no markup, no HTML, no line breaks."""
    if not value:
        return ""
    one_line = " ".join(value.split())
    return _MARKDOWN.sub(r"\\\1", html.escape(one_line, quote=False))


def _code(value: str | None) -> str:
    """Untrusted text as an inline code span in a table cell (a URL, a hash)."""
    if not value:
        return ""
    one_line = " ".join(value.split()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", one_line)), default=0) + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"


class MarkdownFormat(Formatter):
    """GitHub-flavoured markdown: one findings table per page, details collapsed."""

    def format(self, report: Report) -> str:
        out = [f"## sri-guard {report.command}", "", f"**{summary_line(report)}**", ""]
        resources: dict[str, int] = {}
        for r in report.resources:
            resources[r.page or r.url] = resources.get(r.page or r.url, 0) + 1
        notes = list(report.notes)
        for page, findings in by_page(report).items():
            count = plural(resources.get(page, 0), "resource") + ", "
            count += plural(len(findings), "finding")
            count += f" ({severity_counts(findings)})" if findings else ""
            out += [f"### {_code(page)}", "", count, ""]
            for note in [n for n in notes if n.startswith(f"{page}: ")]:
                notes.remove(note)
                out += [f"> {_text(note.removeprefix(f'{page}: '))}", ""]
            if findings:
                out += self._table(findings)
        for note in notes:
            out += [f"> {_text(note)}", ""]
        if report.resources:
            out += [
                "<details><summary>Inventory: every resource and the integrity of the bytes "
                "served</summary>",
                "",
                "| kind | resource | page | integrity served | declared |",
                "| --- | --- | --- | --- | --- |",
            ]
            for r in report.resources:
                out.append(
                    f"| {_text(r.kind)} | {_code(r.url)} | {_code(r.page)} | "
                    f"{_code(r.integrity)} | {_code(r.declared)} |"
                )
            out += ["", "</details>", ""]
        return "\n".join(out)

    @staticmethod
    def _table(findings: list[Finding]) -> list[str]:
        out = [
            "| severity | rule | resource | what to do |",
            "| --- | --- | --- | --- |",
        ]
        for f in findings:
            rule = f"[`{f.rule}`]({f.rule_info.help_uri})"
            who = f" ({_text(f.profile)})" if f.profile else ""
            out.append(f"| {_BADGE[f.level]} | {rule} | {_code(f.url)}{who} | {_text(f.message)} |")
        out.append("")
        for f in findings:
            if f.detail:
                fence = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`{3,}", f.detail))])
                out += [
                    f"<details><summary>{html.escape(f.rule)}: {html.escape(f.url)}</summary>",
                    "",
                    f"{fence}diff",
                    f.detail,
                    fence,
                    "",
                    "</details>",
                    "",
                ]
        return out
