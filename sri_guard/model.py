"""The values that flow between stages: resources seen, findings raised, and the report."""

from __future__ import annotations

from dataclasses import dataclass, field

from sri_guard.rules import RULES, Rule, Severity


@dataclass(frozen=True, slots=True)
class Resource:
    """One thing fetched or read, and what its bytes hash to."""

    url: str
    """The URL (or local path) as referenced."""
    kind: str
    """script, style, preload, modulepreload, file or page."""
    page: str | None = None
    """The page that references it, or None for a target itself."""
    integrity: str | None = None
    """SRI value of the bytes served (sha384 unless asked otherwise); None if not fetched."""
    declared: str | None = None
    """The `integrity` attribute as written on the page, or None."""
    status: int | None = None
    """HTTP status of the final response; None for local files or failed fetches."""
    size: int | None = None
    """Bytes after content decoding."""
    final_url: str | None = None
    """Where redirects ended, when that differs from `url`."""
    profile: str | None = None
    """The client profile that fetched it, when profiles are in use."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, with what a person needs to act on it."""

    rule: str
    """A rule id from `sri_guard.rules.RULES`."""
    url: str
    """The resource (or target) the finding is about."""
    message: str
    """One line a person can act on."""
    page: str | None = None
    """The page that references the resource, if any."""
    expected: str | None = None
    """What was expected (baseline value, declared integrity), when that applies."""
    actual: str | None = None
    """What was found instead."""
    severity: Severity | None = None
    """Overrides the rule's default severity (a policy allowing change lowers it)."""
    detail: str | None = None
    """Longer evidence: a diff of the beautified code, a header value."""
    profile: str | None = None
    """The client profile that saw it."""

    @property
    def rule_info(self) -> Rule:
        """The declared rule."""
        return RULES[self.rule]

    @property
    def level(self) -> Severity:
        """The effective severity."""
        return self.severity if self.severity is not None else RULES[self.rule].severity


@dataclass(slots=True)
class Report:
    """Everything one command run produced, in the order it was found."""

    command: str
    """The command that ran: hash, scan, pin, check, stamp or verify."""
    targets: int = 0
    """Number of targets (pages, files, build files) the run covered."""
    resources: list[Resource] = field(default_factory=list)
    """Every resource looked at."""
    findings: list[Finding] = field(default_factory=list)
    """Every finding raised."""
    notes: list[str] = field(default_factory=list)
    """Context worth printing with the report (a page's CSP, an Integrity-Policy)."""

    def failing(self, threshold: Severity) -> list[Finding]:
        """Findings at or above `threshold`: any of them makes the run exit 1."""
        return [f for f in self.findings if f.level >= threshold]

    def sorted_findings(self) -> list[Finding]:
        """Findings by severity (worst first), then page and URL, for stable output."""
        return sorted(
            self.findings,
            key=lambda f: (-f.level, f.page or "", f.url, f.rule, f.profile or ""),
        )
