"""What `pin` and `check` share: loading the config, selecting targets and reading their
baselines before anything is fetched (so a bad file is exit 2 at once), then one logged run
of observations with its evidence and inventory."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sri_guard import baseline as baselines
from sri_guard import config as configuration
from sri_guard.baseline import Baseline
from sri_guard.config import Config, Target
from sri_guard.evidence import Evidence, Observed
from sri_guard.fetch import Limits, Progress
from sri_guard.model import Report, Resource
from sri_guard.observe import AlgorithmsFor, ConfirmFor, Observation, observe


@dataclass(frozen=True, slots=True)
class Setup:
    """The config, the chosen targets and their baselines."""

    config: Config
    """The loaded config."""
    directory: Path
    """The baselines directory in use."""
    targets: tuple[Target, ...]
    """Targets selected on the command line (all when none were named)."""
    baselines: dict[str, Baseline | None]
    """Baseline per target URL (None when not pinned yet)."""

    def path(self, target: Target) -> Path:
        """The baseline file of a target."""
        return baselines.path_for(self.directory, target.url)


def prepare(
    config_path: Path, baselines_dir: Path | None, names: list[str], state: Path | None = None
) -> Setup:
    """Load config and baselines; ConfigError/BaselineError (exit 2) on any problem."""
    config = configuration.load(config_path)
    if state is not None:
        from dataclasses import replace

        config = replace(config, state=state)
    directory = baselines_dir if baselines_dir is not None else config.baselines
    targets = config.select(names)
    found = {t.url: baselines.load(baselines.path_for(directory, t.url), t.url) for t in targets}
    return Setup(config, directory, targets, found)


class Run:
    """One logged run of `pin` or `check`: observes the setup's targets, keeping every body
    as evidence, and appends what it saw and found to the run log."""

    def __init__(self, setup: Setup, command: str) -> None:
        self.setup = setup
        self.evidence = Evidence(setup.config.state)
        self._id = self.evidence.start_run(command)
        self._rows: list[Observed] = []

    def observe(
        self,
        *,
        limits: Limits | None,
        allow_private: bool,
        profiles: Sequence[str] | None,
        confirm: ConfirmFor | None = None,
        algorithms: AlgorithmsFor | None = None,
        progress: Progress | None = None,
    ) -> list[list[Observation]]:
        """Fetch every selected target as each profile (as the kind its baseline records)."""
        setup = self.setup
        kinds = {url: b.kind for url, b in setup.baselines.items() if b is not None}
        observed = asyncio.run(
            observe(
                setup.config,
                setup.targets,
                limits=limits,
                evidence=self.evidence,
                kinds=kinds,
                confirm=confirm,
                allow_private=allow_private,
                profiles=profiles,
                algorithms=algorithms,
                progress=progress,
            )
        )
        for target, observations in zip(setup.targets, observed, strict=True):
            self._rows += observed_rows(target, observations)
        return observed

    def finish(self, report: Report, *, exit_code: int) -> None:
        """Append the run's observations and findings to the log and close it."""
        self.evidence.finish_run(
            self._id,
            targets=len(self.setup.targets),
            observed=self._rows,
            findings=report.findings,
            exit_code=exit_code,
        )
        self.evidence.close()


def observed_rows(target: Target, observations: Sequence[Observation]) -> list[Observed]:
    """Log rows for what a run saw of one target."""
    rows = []
    for o in observations:
        if o.error is not None:
            rows.append(
                Observed(target.url, target.url, None, o.profile, "target", None, error=o.error)
            )
        if o.file is not None:
            rows.append(
                Observed(
                    target.url,
                    target.url,
                    None,
                    o.profile,
                    "file",
                    o.file.integrity(),
                    o.file.size,
                    o.file.status,
                )
            )
        if o.survey is not None:
            if o.survey.page is not None:
                rows.append(
                    Observed(
                        target.url,
                        target.url,
                        None,
                        o.profile,
                        "page",
                        o.survey.page.integrity(),
                        o.survey.page.size,
                        o.survey.page.status,
                    )
                )
            for item in o.survey.fetched:
                r = item.result
                rows.append(
                    Observed(
                        target.url,
                        item.ref.url,
                        target.url,
                        o.profile,
                        item.ref.kind,
                        r.integrity() if r else None,
                        r.size if r else None,
                        r.status if r else None,
                        item.error,
                    )
                )
    return rows


def resources_of(target: Target, observations: Sequence[Observation]) -> list[Resource]:
    """Report inventory rows for one target."""
    out = []
    for o in observations:
        if o.file is not None:
            out.append(
                Resource(
                    target.url,
                    "file",
                    integrity=o.file.integrity(),
                    status=o.file.status,
                    size=o.file.size,
                    profile=o.profile,
                    final_url=o.file.final_url if o.file.final_url != target.url else None,
                )
            )
        if o.survey is not None:
            for item in o.survey.fetched:
                r = item.result
                out.append(
                    Resource(
                        item.ref.url,
                        item.ref.kind,
                        page=target.url,
                        integrity=r.integrity() if r else None,
                        declared=item.ref.integrity,
                        status=r.status if r else None,
                        size=r.size if r else None,
                        profile=o.profile,
                    )
                )
    return out
