"""Markdown report for a CI step summary or a pull-request comment."""

from __future__ import annotations

from sri_guard._format.interface import Formatter
from sri_guard._format.text import summary_line
from sri_guard.model import Report


def _cell(text: str | None) -> str:
    if not text:
        return ""
    return text.replace("|", "\\|").replace("\n", " ")


class MarkdownFormat(Formatter):
    """GitHub-flavoured markdown: one findings table, diffs in collapsible blocks."""

    def format(self, report: Report) -> str:
        out = [f"## sri-guard {report.command}", "", f"**{summary_line(report)}**", ""]
        for note in report.notes:
            out += [f"> {_cell(note)}", ""]
        findings = report.sorted_findings()
        if findings:
            out += [
                "| severity | rule | resource | page | message |",
                "| --- | --- | --- | --- | --- |",
            ]
            for f in findings:
                rule = f"[`{f.rule}`]({f.rule_info.help_uri})"
                who = f" ({f.profile})" if f.profile else ""
                out.append(
                    f"| {f.level} | {rule} | `{_cell(f.url)}`{_cell(who)} | "
                    f"{_cell(f.page)} | {_cell(f.message)} |"
                )
            out.append("")
            for f in findings:
                if f.detail:
                    out += [
                        f"<details><summary>{f.rule}: {_cell(f.url)}</summary>",
                        "",
                        "```diff",
                        f.detail.replace("```", "` ` `"),
                        "```",
                        "",
                        "</details>",
                        "",
                    ]
        else:
            out += ["No findings.", ""]
        if report.resources:
            out += [
                "<details><summary>Inventory</summary>",
                "",
                "| kind | resource | page | integrity served | declared |",
                "| --- | --- | --- | --- | --- |",
            ]
            for r in report.resources:
                out.append(
                    f"| {r.kind} | `{_cell(r.url)}` | {_cell(r.page)} | "
                    f"`{_cell(r.integrity)}` | {_cell(r.declared)} |"
                )
            out += ["", "</details>", ""]
        return "\n".join(out)
