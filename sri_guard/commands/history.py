"""`sri-guard history [TARGET]`: the run log and captured changes from the evidence store."""

from __future__ import annotations

from pathlib import Path

from sri_guard import config as configuration
from sri_guard.evidence import Evidence


def run(config_path: Path, state: Path | None, target: str | None, limit: int) -> str:
    """The history as text."""
    root = state
    url = target
    if root is None or target is not None:
        config = configuration.load(config_path)
        root = root or config.state
        if target is not None:
            url = config.select([target])[0].url
    if not (root / "log.sqlite3").exists():
        return f"no runs recorded in {root} yet\n"
    evidence = Evidence(root)
    lines = []
    runs = evidence.runs(url, limit)
    lines.append(
        f"{'run':>5}  {'started (UTC)':<20}  {'command':<7}  targets  resources  findings  exit"
    )
    for r in runs:
        code = r["exit_code"] if r["exit_code"] is not None else "-"
        lines.append(
            f"{r['id']:>5}  {r['started']:<20}  {r['command']:<7}  {r['targets']:>7}  "
            f"{r['resources']:>9}  {r['findings']:>8}  {code:>4}"
        )
    if url is not None:
        lines.append("")
        lines.append(
            f"changes of {url} (first sighting of each value; evidence in {root}/objects):"
        )
        for row in evidence.changes(url):
            what = row["integrity"] or f"FAILED: {row['error']}"
            who = f" [{row['profile']}]" if row["profile"] else ""
            lines.append(
                f"  run {row['run_id']:>4}  {row['started']}  {row['kind']:<7} "
                f"{row['url']}{who}  {what}"
            )
        findings = evidence.findings_of(r["id"] for r in runs)
        if findings:
            lines.append("")
            lines.append("findings:")
            for f in findings:
                lines.append(
                    f"  run {f['run_id']:>4}  {f['severity']:<8} {f['rule']:<20} {f['url']}"
                )
    evidence.close()
    return "\n".join(lines) + "\n"
