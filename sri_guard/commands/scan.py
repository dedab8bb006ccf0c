"""`sri-guard scan`: survey pages and report what a browser would refuse. No baseline."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sri_guard.fetch import Fetcher, Limits, Progress
from sri_guard.model import Report, Resource
from sri_guard.survey import Survey, Surveyor


def survey_report(surveys: Sequence[Survey], command: str, algorithm: str = "sha384") -> Report:
    """The surveys as a Report: the inventory (pages, references, inline scripts) and findings."""
    report = Report(command, targets=len(surveys))
    for survey in surveys:
        page_url = survey.discovered.url if survey.discovered else survey.url
        if survey.page is not None:
            report.resources.append(
                Resource(
                    survey.url,
                    "page",
                    integrity=survey.page.integrity(algorithm),
                    status=survey.page.status,
                    size=survey.page.size,
                    final_url=survey.page.final_url
                    if survey.page.final_url != survey.url
                    else None,
                )
            )
            for name, value in survey.security_headers().items():
                if name.startswith(("content-security-policy", "integrity-policy")):
                    report.notes.append(f"{survey.url}: {name}: {value}")
        for item in survey.fetched:
            r = item.result
            report.resources.append(
                Resource(
                    item.ref.url,
                    item.ref.kind,
                    page=page_url,
                    integrity=r.integrity(algorithm) if r else None,
                    declared=item.ref.integrity,
                    status=r.status if r and r.headers else None,
                    size=r.size if r else None,
                    final_url=r.final_url if r and r.final_url != item.ref.url else None,
                )
            )
        if survey.discovered is not None:
            for n, inline in enumerate(survey.discovered.inline_scripts, 1):
                report.resources.append(
                    Resource(
                        f"{page_url}#inline-script-{n}",
                        "inline-script",
                        page=page_url,
                        integrity=inline.csp_hash,
                        size=inline.size,
                    )
                )
        report.findings.extend(survey.findings)
    return report


async def _scan(
    pages: Sequence[str], limits: Limits, allow_private: bool, progress: Progress | None
) -> list[Survey]:
    async with Fetcher(limits, progress=progress) as fetcher:
        surveyor = Surveyor(fetcher, allow_private=allow_private)
        return list(await asyncio.gather(*(surveyor.survey(p) for p in pages)))


def run(
    pages: Sequence[str],
    *,
    limits: Limits | None = None,
    allow_private: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Survey every page and report."""
    surveys = asyncio.run(_scan(pages, limits or Limits(), allow_private, progress))
    return survey_report(surveys, "scan")
