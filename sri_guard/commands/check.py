"""`sri-guard check`: the cron job. Fetch every target under each profile, confirm anything
unexpected with a second fetch, compare with the baselines, log the run and its evidence,
alert. Never writes a baseline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sri_guard.commands._monitor import Run, prepare, resources_of
from sri_guard.compare import compare
from sri_guard.config import Target
from sri_guard.fetch import FetchResult, Limits, Progress
from sri_guard.model import Report
from sri_guard.rules import Severity


def run(
    config_path: Path,
    baselines_dir: Path | None,
    names: list[str],
    *,
    fail_on: Severity,
    notify: Sequence[str] = (),
    limits: Limits | None = None,
    allow_private: bool = False,
    state: Path | None = None,
    profiles: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> tuple[Report, list[str]]:
    """Check the selected targets; return the report and any notification errors."""
    setup = prepare(config_path, baselines_dir, names, state)
    channels = list(dict.fromkeys([*setup.config.notify, *notify]))
    if channels:
        from sri_guard.notify import check_urls

        check_urls(channels)
    run = Run(setup, "check")

    def unexpected(target: Target, profile: str, url: str, result: FetchResult) -> bool:
        b = setup.baselines.get(target.url)
        if b is None:
            return False
        pinned = b.file if b.kind == "file" else b.resource(url)
        return pinned is not None and not pinned.approves(profile, result.digests)

    def algorithms(target: Target) -> tuple[str, ...]:
        """sha384, plus whatever algorithms the approved values of a file use."""
        b = setup.baselines.get(target.url)
        if b is None or b.file is None:
            return ("sha384",)
        values = [*b.file.integrity, *(v for vs in b.file.by_profile.values() for v in vs)]
        return tuple(dict.fromkeys(["sha384", *(v.split("-", 1)[0] for v in values)]))

    observed = run.observe(
        limits=limits,
        allow_private=allow_private,
        profiles=profiles,
        confirm=unexpected,
        algorithms=algorithms,
        progress=progress,
    )
    report = Report("check", targets=len(setup.targets))
    for target, observations in zip(setup.targets, observed, strict=True):
        report.resources += resources_of(target, observations)
        report.findings += compare(target, setup.baselines[target.url], observations, run.evidence)
    failing = report.failing(fail_on)
    run.finish(report, exit_code=1 if failing else 0)
    errors: list[str] = []
    if failing and channels:
        from sri_guard.notify import send

        errors = send(channels, report, report.sorted_findings()[: len(failing)])
    return report, errors
