"""`sri-guard stamp BUILD_DIR`: give every reference in a build output a correct `integrity`,
editing only attribute values.

For each script, stylesheet, preload (as script/style) and modulepreload of every HTML page:
the integrity of the local file (or of the bytes a remote URL serves) is written, in the
algorithms asked, unless the attribute already holds exactly those digests, all correct.
A cross-origin reference in no-cors mode also gets `crossorigin="anonymous"` (SRI §3.3.5 and
sri-notes §12: without it the browser cannot check the opaque response and blocks it);
modules and modulepreload are always CORS and need none (§13). Before stamping a remote
reference, its response must pass the CORS check the stamped tag will trigger (Fetch §4.9),
or stamping would break the page: such a reference is left alone and reported `cors-missing`.
An inline import map gets an `integrity` entry for each module it maps to a local file, and
its existing entries are corrected (HTML §8.1.5.3).

Edits go through `sri_guard.htmledit`, so every other byte of a page stays as it was; a page
is rewritten atomically, and only when it changed, so running `stamp` twice changes nothing
the second time. A wrong or malformed integrity that is replaced is reported (severity info:
it is fixed); a reference that cannot be read is `fetch-failed`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sri_guard import htmledit, sri
from sri_guard.build import BuildPage, BuildRef, ImportMap, Local, Remote, Site, Target, dump_like
from sri_guard.commands._build import (
    Outcome,
    failed,
    gather,
    label,
    load,
    outcome_of,
    relabel,
    resource,
    shown,
    write_atomically,
)
from sri_guard.fetch import FetchResult, Limits
from sri_guard.model import Finding, Report, Resource
from sri_guard.rules import Severity
from sri_guard.verdict import judge


def up_to_date(meta: sri.Metadata, digests: Mapping[str, bytes], algorithms: Sequence[str]) -> bool:
    """True when an existing integrity needs no change: every token is valid, portable and
    matches, and every algorithm asked for is there."""
    if not meta.entries or meta.ignored or meta.warnings:
        return False
    if any(entry.digest != digests[entry.algorithm] for entry in meta.entries):
        return False
    return set(algorithms) <= {entry.algorithm for entry in meta.entries}


@dataclass(slots=True)
class _Plan:
    """What to do for one reference."""

    values: dict[str, str]
    """Attributes to set on the tag (or the integrity entry to write)."""
    findings: list[Finding]
    """What is reported about it."""
    changes: list[tuple[str, str]]
    """One (kind, phrase) per change, for the report's notes: kind is what is counted
    (`integrity added`), phrase what is shown (`add integrity="sha384-…"`)."""


def _correction(
    site: Site,
    page: BuildPage,
    ref: BuildRef,
    meta: sri.Metadata,
    result: FetchResult,
    desired: str,
    dry_run: bool,
) -> Finding | None:
    """The finding for replacing an existing integrity, if it was wrong (not merely short
    of an algorithm asked for)."""
    verb = "would replace" if dry_run else "replaced"
    declared = ref.ref.integrity
    where = f"line {ref.ref.line}: {label(ref)} {ref.ref.raw!r}"
    if meta.enforced and sri.verify(meta, result.digests) is sri.Outcome.MISMATCH:
        return Finding(
            "integrity-mismatch",
            shown(site, ref.target, ref),
            f"{where}: declared integrity does not match {shown(site, ref.target, ref)} "
            f"(browsers would block it); {verb} it",
            page=site.display(page.path),
            expected=declared,
            actual=desired,
            severity=Severity.INFO,
        )
    if not meta.enforced or meta.warnings:
        why = meta.warnings[0] if meta.warnings else "has no valid metadata"
        return Finding(
            "integrity-malformed",
            shown(site, ref.target, ref),
            f"{where}: integrity {why}; {verb} it",
            page=site.display(page.path),
            expected=declared,
            actual=desired,
            severity=Severity.INFO,
        )
    return None


def _plan(
    site: Site,
    page: BuildPage,
    ref: BuildRef,
    outcome: Outcome,
    algorithms: Sequence[str],
    dry_run: bool,
) -> _Plan:
    plan = _Plan({}, [], [])
    if isinstance(outcome, str):
        plan.findings.append(failed(site, page, ref, outcome))
        return plan
    desired = sri.format_integrity(outcome.digests, algorithms)
    declared = ref.ref.integrity
    meta = sri.parse(declared)
    if declared is None or meta.blank:
        plan.values["integrity"] = desired
        plan.changes.append(("integrity added", f'add integrity="{desired}"'))
    elif not up_to_date(meta, outcome.digests, algorithms):
        plan.values["integrity"] = desired
        plan.changes.append(
            ("integrity replaced", f'replace integrity="{declared}" with "{desired}"')
        )
        correction = _correction(site, page, ref, meta, outcome, desired, dry_run)
        if correction is not None:
            plan.findings.append(correction)
    if not isinstance(ref.target, Remote) or ref.tag is None:
        return plan
    # Cross-origin (sri-notes §11-13): no-cors classic requests need crossorigin.
    if not ref.ref.cors:
        plan.values["crossorigin"] = "anonymous"
        plan.changes.append(("crossorigin added", 'add crossorigin="anonymous"'))
    stamped = replace(
        ref.ref,
        integrity=plan.values.get("integrity", declared),
        crossorigin=plan.values.get("crossorigin", ref.ref.crossorigin),
    )
    blocked = [f for f in judge(stamped, page.url, outcome) if f.rule == "cors-missing"]
    if blocked:
        plan.values.clear()
        plan.changes.clear()
        plan.findings = [
            replace(
                relabel(site, page, ref, blocked[0]),
                message=f"line {ref.ref.line}: not stamped: {blocked[0].message}",
            )
        ]
    return plan


def _plan_import_map(
    site: Site,
    page: BuildPage,
    import_map: ImportMap,
    outcomes: Mapping[str, Outcome],
    algorithms: Sequence[str],
    dry_run: bool,
    report: Report,
) -> tuple[htmledit.Edit | None, list[tuple[str, str]]]:
    """The edit of an import map's JSON (None if nothing changes) and the changes made."""
    where = f"{site.display(page.path)}:{import_map.line}"
    if import_map.data is None:
        report.notes.append(f"{where}: import map is {import_map.error}; left as is")
        return None, []
    section = import_map.data.get("integrity")
    if section is not None and not isinstance(section, dict):
        report.notes.append(f"{where}: the import map's integrity is not an object; left as is")
        return None, []
    updated: dict[str, object] = dict(section or {})
    changes: list[tuple[str, str]] = []
    covered: set[str] = set()
    for entry in import_map.entries:
        covered.add(entry.ref.url)
        outcome = outcome_of(entry.target, outcomes)
        plan = _plan(site, page, entry, outcome, algorithms, dry_run)
        report.findings.extend(plan.findings)
        desired = plan.values.get("integrity")
        if desired is not None:
            updated[entry.ref.raw] = desired
            changes.extend(
                (f"import-map {kind}", f"import map {entry.ref.raw!r}: {phrase}")
                for kind, phrase in plan.changes
            )
        result = outcome if isinstance(outcome, FetchResult) else None
        report.resources.append(
            resource(
                site,
                page,
                entry,
                outcome,
                sri.format_integrity(result.digests, algorithms) if result else None,
                entry.ref.integrity,
            )
        )
    for module in import_map.modules:
        if module.url in covered or not isinstance(module.target, Local):
            continue
        covered.add(module.url)
        outcome = outcome_of(module.target, outcomes)
        name = shown(site, module.target)
        if isinstance(outcome, str):
            report.findings.append(
                Finding(
                    "fetch-failed",
                    name,
                    f"line {import_map.line}: import map maps to {module.address!r}: {outcome}",
                    page=site.display(page.path),
                )
            )
            continue
        desired = sri.format_integrity(outcome.digests, algorithms)
        updated[module.address] = desired
        changes.append(
            ("import-map integrity added", f'import map {module.address!r}: add "{desired}"')
        )
        report.resources.append(
            Resource(
                name,
                "importmap",
                page=site.display(page.path),
                integrity=desired,
                size=outcome.size,
            )
        )
    if updated == (section or {}):
        return None, []
    data = dict(import_map.data)
    data["integrity"] = updated
    assert import_map.tag.content is not None
    start, end = import_map.tag.content
    return htmledit.Edit(start, end, dump_like(page.text[start:end], data)), changes


def run(
    build_dir: Path,
    *,
    algorithms: Sequence[str] = (sri.DEFAULT_ALGORITHM,),
    root: Path | None = None,
    base_url: str | None = None,
    dry_run: bool = False,
    limits: Limits | None = None,
) -> Report:
    """Stamp every page of the build (or, with `dry_run`, only say what would change)."""
    site = Site.create(build_dir, root=root, base_url=base_url)
    loaded = load(site)
    report = Report("stamp", targets=loaded.count)
    report.findings.extend(loaded.findings)
    report.notes.extend(loaded.notes)
    wanted: list[tuple[Target, str]] = []
    for page in loaded.pages:
        wanted.extend((r.target, r.ref.destination) for r in page.all_refs())
        for import_map in page.import_maps:
            wanted.extend((m.target, "script") for m in import_map.modules)
    outcomes = gather(site, wanted, limits or Limits())

    writes: list[tuple[Path, bytes]] = []
    totals: Counter[str] = Counter()
    for page in loaded.pages:
        edits: list[htmledit.Edit] = []
        changes: list[tuple[int, str]] = []
        counts: Counter[str] = Counter()
        for ref in page.refs:
            assert ref.tag is not None
            outcome = outcome_of(ref.target, outcomes)
            plan = _plan(site, page, ref, outcome, algorithms, dry_run)
            report.findings.extend(plan.findings)
            result = outcome if isinstance(outcome, FetchResult) else None
            report.resources.append(
                resource(
                    site,
                    page,
                    ref,
                    outcome,
                    sri.format_integrity(result.digests, algorithms) if result else None,
                    ref.ref.integrity,
                )
            )
            if plan.values:
                edits.extend(htmledit.set_attributes(ref.tag, plan.values))
                phrases = "; ".join(phrase for _, phrase in plan.changes)
                changes.append((ref.ref.line or 0, f"{label(ref)} {ref.ref.raw!r}: {phrases}"))
                counts.update(kind for kind, _ in plan.changes)
        for import_map in page.import_maps:
            edit, map_changes = _plan_import_map(
                site, page, import_map, outcomes, algorithms, dry_run, report
            )
            if edit is not None:
                edits.append(edit)
                changes.extend((import_map.line, phrase) for _, phrase in map_changes)
                counts.update(kind for kind, _ in map_changes)
        if not edits:
            continue
        data = htmledit.apply(page.text, edits).encode("utf-8", "surrogateescape")
        if data == loaded.originals[page.path]:
            continue
        writes.append((page.path, data))
        totals.update(counts)
        name = site.display(page.path)
        if dry_run:
            report.notes.extend(
                f"{name}:{line}: would change {what}" for line, what in sorted(changes)
            )
        else:
            report.notes.append(f"{name}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))

    if not dry_run:
        for path, data in writes:
            write_atomically(path, data)
    verb = "would change" if dry_run else "changed"
    summary = f"{verb} {len(writes)} of {loaded.count} HTML files"
    if totals:
        summary += ": " + ", ".join(f"{n} {kind}" for kind, n in totals.items())
    if dry_run:
        summary += "; nothing written (--dry-run)"
    report.notes.append(summary)
    return report
