"""What `pin`, `check` and `history` share: loading the config, selecting targets and
reading their baselines, before anything is fetched (so a bad file is exit 2 at once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sri_guard import baseline as baselines
from sri_guard import config as configuration
from sri_guard.baseline import Baseline
from sri_guard.config import Config, Target


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
