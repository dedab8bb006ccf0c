"""`sri-guard verify BUILD_DIR`: check a build output before release, changing nothing.

Every script, stylesheet, preload, modulepreload and import-map integrity entry of every
HTML page is judged exactly as `scan` judges a live page (`sri_guard.verdict.judge`): its
declared integrity against the bytes of the local file (or the remote response), cross-origin
references without integrity or without `crossorigin`, malformed metadata, plain http.
A reference that cannot be read (missing, outside the web root, fetch failed) is
`fetch-failed`, and so is a local module an import map maps to a missing file.
"""

from __future__ import annotations

from pathlib import Path

from sri_guard import sri
from sri_guard.build import Local, Site, Target
from sri_guard.commands._build import (
    failed,
    gather,
    load,
    outcome_of,
    relabel,
    resource,
    shown,
)
from sri_guard.fetch import FetchResult, Limits
from sri_guard.model import Finding, Report
from sri_guard.verdict import judge


def run(
    build_dir: Path,
    *,
    root: Path | None = None,
    base_url: str | None = None,
    limits: Limits | None = None,
) -> Report:
    """Verify every page of the build; the report holds every reference and finding."""
    site = Site.create(build_dir, root=root, base_url=base_url)
    loaded = load(site)
    report = Report("verify", targets=loaded.count)
    report.findings.extend(loaded.findings)
    report.notes.extend(loaded.notes)
    wanted: list[tuple[Target, str]] = []
    for page in loaded.pages:
        wanted.extend((r.target, r.ref.destination) for r in page.all_refs())
        for import_map in page.import_maps:
            wanted.extend((m.target, "script") for m in import_map.modules)
    outcomes = gather(site, wanted, limits or Limits())

    for page in loaded.pages:
        map_integrity = {r.ref.url: r.ref.integrity for r in page.all_refs() if r.tag is None}
        for ref in page.all_refs():
            outcome = outcome_of(ref.target, outcomes)
            result = outcome if isinstance(outcome, FetchResult) else None
            if isinstance(outcome, str):
                report.findings.append(failed(site, page, ref, outcome))
            from_map = (
                map_integrity.get(ref.ref.url)
                if ref.ref.module and ref.ref.kind != "importmap"
                else None
            )
            for finding in judge(ref.ref, page.url, result, map_integrity=from_map):
                report.findings.append(relabel(site, page, ref, finding))
            declared = ref.ref.integrity
            meta = sri.parse(declared)
            algorithm = meta.strongest_algorithm or sri.DEFAULT_ALGORITHM
            report.resources.append(
                resource(
                    site,
                    page,
                    ref,
                    outcome,
                    result.integrity(algorithm) if result is not None else None,
                    declared,
                )
            )
        for import_map in page.import_maps:
            if import_map.error is not None:
                report.notes.append(
                    f"{site.display(page.path)}:{import_map.line}: import map is "
                    f"{import_map.error}; browsers ignore it"
                )
            for module in import_map.modules:
                if not isinstance(module.target, Local) or module.url in map_integrity:
                    continue  # remote, or already judged as an integrity entry
                outcome = outcome_of(module.target, outcomes)
                if isinstance(outcome, str):
                    report.findings.append(
                        Finding(
                            "fetch-failed",
                            shown(site, module.target),
                            f"line {import_map.line}: import map maps to {module.address!r}: "
                            f"{outcome}",
                            page=site.display(page.path),
                        )
                    )
    return report
