"""Observe targets: fetch every configured target under each of its client profiles, all
concurrently through one fetcher (connections shared), keeping every complete body as
evidence and re-fetching once whatever looks changed, so `check` confirms before it alarms.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from sri_guard.config import Config, Target
from sri_guard.errors import FetchError
from sri_guard.evidence import Evidence
from sri_guard.fetch import Fetcher, FetchResult, Limits, Progress
from sri_guard.profiles import Profile, request_headers
from sri_guard.survey import Survey, Surveyor

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_FILE_SUFFIXES = (".js", ".mjs", ".cjs", ".css", ".map", ".json", ".wasm")

AlgorithmsFor = Callable[[Target], tuple[str, ...]]
"""target -> the digests a file target's bytes are compared in (sha384 is always added)."""
ConfirmFor = Callable[[Target, str, str, FetchResult], bool]
"""(target, profile, url, response) -> True when the bytes served are unexpected."""


@dataclass(slots=True)
class Observation:
    """One target as one profile saw it."""

    target: Target
    """The config target."""
    profile: str
    """The profile name."""
    kind: Literal["page", "file"] | None = None
    """What it turned out to be (None when it could not be fetched)."""
    file: FetchResult | None = None
    """For a file target: the response."""
    confirm: FetchResult | None = None
    """For a file target: the second fetch made to confirm an unexpected value."""
    survey: Survey | None = None
    """For a page target: the survey."""
    error: str | None = None
    """Why the target itself could not be fetched."""


def _guess_file(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(_FILE_SUFFIXES)


class Observer:
    """Fetches targets × profiles with one shared fetcher."""

    def __init__(
        self,
        config: Config,
        fetcher: Fetcher,
        *,
        evidence: Evidence | None = None,
        kinds: Mapping[str, str] | None = None,
        confirm: ConfirmFor | None = None,
        allow_private: bool = False,
        profiles: Sequence[str] | None = None,
        algorithms: AlgorithmsFor | None = None,
    ) -> None:
        self.config = config
        self.algorithms = algorithms
        self.fetcher = fetcher
        self.evidence = evidence
        self.kinds = dict(kinds or {})
        self.confirm = confirm
        self.allow_private = allow_private
        self.profiles_override = tuple(profiles) if profiles else None
        self._surveyors: dict[tuple[str, str], Surveyor] = {}

    def profiles_of(self, target: Target) -> tuple[str, ...]:
        """The profile names a target is fetched as."""
        return self.profiles_override or target.profiles or self.config.profiles

    def _keep(self, result: FetchResult) -> FetchResult:
        """Store the body as evidence and drop it from memory."""
        if self.evidence is not None and result.body is not None:
            self.evidence.store(result.integrity("sha384"), result.body)
        return dataclasses.replace(result, body=None)

    def _keep_file(self, result: FetchResult) -> FetchResult:
        """As `_keep`, for a file target: its headers are not compared, so they go too."""
        return self._keep(result).slim()

    def _surveyor(self, target: Target, profile: Profile) -> Surveyor:
        key = (target.url, profile.name)
        surveyor = self._surveyors.get(key)
        if surveyor is None:
            confirm = None
            if self.confirm is not None:
                check = self.confirm

                def confirm(url: str, result: FetchResult) -> bool:
                    return check(target, profile.name, url, result)

            surveyor = Surveyor(
                self.fetcher,
                profile=profile,
                allow_private=self.allow_private,
                on_result=self._keep,
                confirm=confirm,
            )
            self._surveyors[key] = surveyor
        return surveyor

    async def observe(self, targets: Sequence[Target]) -> list[list[Observation]]:
        """Observations per target (in order), one per profile.

        A fixed pool of workers takes (target, profile) jobs in order, so memory stays flat
        however many targets there are (a task per job would hold thousands of frames)."""
        slots: list[list[Observation | None]] = [[None] * len(self.profiles_of(t)) for t in targets]
        jobs = iter(
            [(i, j, t, p) for i, t in enumerate(targets) for j, p in enumerate(self.profiles_of(t))]
        )

        async def worker() -> None:
            for i, j, target, profile in jobs:
                slots[i][j] = await self._observe_one(target, self.config.profile(profile))

        workers = min(self.fetcher.limits.concurrency, sum(len(s) for s in slots)) or 1
        await asyncio.gather(*(worker() for _ in range(workers)))
        return [[o for o in group if o is not None] for group in slots]

    async def _observe_one(self, target: Target, profile: Profile) -> Observation:
        obs = Observation(target, profile.name)
        kind = self.kinds.get(target.url) or target.kind
        as_file = kind == "file" or (kind == "auto" and _guess_file(target.url))
        destination = "file" if as_file else "document"
        headers = request_headers(profile, destination)  # type: ignore[arg-type]
        # Only what will be compared is hashed: for thousands of files, hashing is most
        # of the work. A page's subresources are always hashed in every algorithm.
        algorithms = self.algorithms(target) if self.algorithms is not None else ("sha384",)

        async def fetch() -> FetchResult:
            return await self.fetcher.fetch(
                target.url,
                headers=headers,
                keep_body=True,
                allow_private=True,  # a configured target is fetched as given
                impersonate=profile.impersonate,
                algorithms=algorithms,
            )

        try:
            result = await fetch()
        except FetchError as exc:
            obs.error = exc.reason
            return obs
        is_html = result.content_type in _HTML_TYPES
        if kind == "page" or (kind == "auto" and is_html):
            obs.kind = "page"
            obs.survey = await self._surveyor(target, profile).survey_fetched(target.url, result)
            return obs
        obs.kind = "file"
        obs.file = self._keep_file(result)
        if self.confirm is not None and self.confirm(target, profile.name, target.url, result):
            try:
                obs.confirm = self._keep_file(await fetch())
            except FetchError:
                obs.confirm = None  # the first answer stands; a failed confirmation says nothing
        return obs


async def observe(
    config: Config,
    targets: Sequence[Target],
    *,
    limits: Limits | None = None,
    evidence: Evidence | None = None,
    kinds: Mapping[str, str] | None = None,
    confirm: ConfirmFor | None = None,
    allow_private: bool = False,
    profiles: Sequence[str] | None = None,
    algorithms: AlgorithmsFor | None = None,
    progress: Progress | None = None,
) -> list[list[Observation]]:
    """Fetch every target under each profile; one list of observations per target."""
    async with Fetcher(limits, progress=progress) as fetcher:
        observer = Observer(
            config,
            fetcher,
            evidence=evidence,
            kinds=kinds,
            confirm=confirm,
            allow_private=allow_private,
            profiles=profiles,
            algorithms=algorithms,
        )
        return await observer.observe(targets)
