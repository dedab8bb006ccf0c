"""`sri-guard pin`: fetch the targets and write their baselines (atomically, only when
something changed, never from a failed fetch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sri_guard import baseline as baselines
from sri_guard.baseline import Baseline, Pinned
from sri_guard.commands._monitor import Run, prepare, resources_of
from sri_guard.compare import security_headers
from sri_guard.config import Target
from sri_guard.fetch import FetchResult, Limits, Progress
from sri_guard.model import Finding, Report
from sri_guard.observe import Observation


def _merge(old: Sequence[str], new: Sequence[str], add: bool) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*old, *new])) if add else tuple(dict.fromkeys(new))


def _values(
    per_profile: dict[str, str], old: Pinned | None, add: bool
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Approved values: one list for all profiles, or per profile when they differ."""
    distinct = list(dict.fromkeys(per_profile.values()))
    if len(distinct) <= 1 and not (add and old is not None and old.by_profile):
        return _merge(old.integrity if old else (), distinct, add), {}
    by_profile = {
        p: _merge(old.approved(p) if old else (), [v], add) for p, v in sorted(per_profile.items())
    }
    return (), by_profile


def _pinned(
    url: str,
    kind: str,
    results: dict[str, FetchResult],
    old: Pinned | None,
    add: bool,
    target: Target,
    everyone: Sequence[str],
    **extra: object,
) -> Pinned:
    integrity, by_profile = _values({p: r.integrity() for p, r in results.items()}, old, add)
    first = next(iter(results.values()))
    rule = target.rule_for(url)
    profiles = sorted(results)
    return Pinned(
        url=url,
        kind=kind,
        integrity=integrity,
        by_profile=by_profile,
        profiles=None if sorted(everyone) == profiles else tuple(profiles),
        final_url=first.final_url if first.final_url != url else None,
        redirects=tuple(first.redirects),
        size=first.size,
        owner=(old.owner if old else None)
        or (rule.owner if rule else None)
        or (target.owner if kind == "file" else None),
        justification=(old.justification if old else None)
        or (rule.justification if rule else None)
        or (target.justification if kind == "file" else None),
        **extra,  # type: ignore[arg-type]
    )


def _fold(per_profile: dict[str, object]) -> tuple[object, dict[str, object]]:
    values = list(per_profile.values())
    if all(v == values[0] for v in values):
        return values[0], {}
    return values[0], dict(sorted(per_profile.items()))


def build(
    target: Target, observations: Sequence[Observation], old: Baseline | None, add: bool
) -> Baseline:
    """A baseline from complete observations of every profile."""
    everyone = [o.profile for o in observations]
    if all(o.kind == "file" for o in observations):
        results = {o.profile: o.file for o in observations if o.file is not None}
        first = next(iter(results.values()))
        pinned = _pinned(
            target.url,
            "file",
            results,
            old.file if old else None,
            add,
            target,
            everyone,
            content_type=first.content_type or None,
        )
        return Baseline(target.url, "file", tuple(everyone), file=pinned)
    surveys = {o.profile: o.survey for o in observations if o.survey is not None}
    urls: dict[str, dict[str, object]] = {}
    for profile, survey in surveys.items():
        for item in survey.fetched:
            if item.result is not None:
                urls.setdefault(item.ref.url, {}).setdefault(profile, item)
    resources = []
    for url, items in urls.items():
        first_item = next(iter(items.values()))
        ref = first_item.ref  # type: ignore[attr-defined]
        results = {p: i.result for p, i in items.items()}  # type: ignore[attr-defined]
        resources.append(
            _pinned(
                url,
                ref.kind,
                results,
                old.resource(url) if old else None,
                add,
                target,
                everyone,
                declared=ref.integrity,
                crossorigin=ref.crossorigin,
            )
        )
    inline, inline_by = _fold(
        {
            p: tuple(
                sorted(s.csp_hash for s in (sv.discovered.inline_scripts if sv.discovered else ()))
            )
            for p, sv in surveys.items()
        }
    )
    headers, headers_by = _fold({p: security_headers(sv.page) for p, sv in surveys.items()})
    first_page = next(iter(surveys.values())).page
    page = None
    if first_page is not None:
        page = Pinned(
            target.url,
            "page",
            (),
            final_url=first_page.final_url if first_page.final_url != target.url else None,
            redirects=tuple(first_page.redirects),
            owner=(old.page.owner if old and old.page else None) or target.owner,
            justification=(old.page.justification if old and old.page else None)
            or target.justification,
        )
    return Baseline(
        target.url,
        "page",
        tuple(everyone),
        page=page,
        resources=tuple(resources),
        inline=inline,  # type: ignore[arg-type]
        inline_by_profile=inline_by,  # type: ignore[arg-type]
        headers=headers,  # type: ignore[arg-type]
        headers_by_profile=headers_by,  # type: ignore[arg-type]
    )


def run(
    config_path: Path,
    baselines_dir: Path | None,
    names: list[str],
    *,
    add: bool = False,
    limits: Limits | None = None,
    allow_private: bool = False,
    state: Path | None = None,
    profiles: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> tuple[Report, list[str]]:
    """Pin the selected targets; return the report and the baseline files written."""
    setup = prepare(config_path, baselines_dir, names, state)
    run = Run(setup, "pin")
    observed = run.observe(
        limits=limits, allow_private=allow_private, profiles=profiles, progress=progress
    )
    report = Report("pin", targets=len(setup.targets))
    written: list[str] = []
    for target, observations in zip(setup.targets, observed, strict=True):
        report.resources += resources_of(target, observations)
        failures = [o for o in observations if o.error is not None]
        failures_sub = [
            (o.profile, item)
            for o in observations
            if o.survey is not None
            for item in o.survey.fetched
            if item.result is None
        ]
        for o in failures:
            report.findings.append(
                Finding(
                    "fetch-failed",
                    target.url,
                    f"not pinned: target could not be fetched: {o.error}",
                    profile=o.profile,
                )
            )
        for profile, item in failures_sub:
            report.findings.append(
                Finding(
                    "fetch-failed",
                    item.ref.url,
                    f"page not pinned: {item.ref.kind} could not be fetched: {item.error}",
                    page=target.url,
                    profile=profile,
                )
            )
        if failures or failures_sub:
            continue  # a failed fetch never overwrites a baseline
        new = build(target, observations, setup.baselines[target.url], add)
        path = setup.path(target)
        if baselines.write_atomic(path, baselines.to_json(new)):
            written.append(str(path))
    run.finish(report, exit_code=1 if report.findings else 0)
    return report, written
