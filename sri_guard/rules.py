"""Every finding rule, declared once: id, severity, one-line summary and docs anchor."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

DOCS_URL = "https://github.com/sri-guard/sri-guard/blob/main/docs/rules.md"


class Severity(IntEnum):
    """Ordered: a finding fails the run when its severity is at or above `--fail-on`."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Severity:
        """The severity named `value` (case-insensitive); ValueError otherwise."""
        try:
            return cls[value.strip().upper()]
        except KeyError:
            names = "|".join(str(s) for s in sorted(cls, reverse=True))
            raise ValueError(f"unknown severity {value!r}: choose {names}") from None


@dataclass(frozen=True, slots=True)
class Rule:
    """A kind of finding."""

    id: str
    """Stable identifier users filter on (contract: never renamed)."""
    severity: Severity
    """Default severity; a policy may lower it (an allowed change is `info`)."""
    summary: str
    """One line: when the rule fires."""

    @property
    def help_uri(self) -> str:
        """Where the rule is explained, with what to do about it."""
        return f"{DOCS_URL}#{self.id}"


_RULES = (
    Rule(
        "integrity-mismatch",
        Severity.CRITICAL,
        "A declared integrity does not match the bytes served; browsers block the resource.",
    ),
    Rule("content-changed", Severity.CRITICAL, "The bytes served differ from the pinned baseline."),
    Rule(
        "profile-divergence",
        Severity.CRITICAL,
        "Different client profiles were served different bytes for one URL.",
    ),
    Rule(
        "resource-added",
        Severity.HIGH,
        "A page loads a script or stylesheet its baseline does not list.",
    ),
    Rule("redirect-changed", Severity.HIGH, "A URL now redirects somewhere its baseline did not."),
    Rule(
        "inline-changed",
        Severity.HIGH,
        "The executable inline scripts of a page differ from its baseline.",
    ),
    Rule(
        "header-changed",
        Severity.HIGH,
        "A security-impacting response header of a page differs from its baseline.",
    ),
    Rule(
        "crossorigin-missing",
        Severity.HIGH,
        "A cross-origin resource declares integrity without crossorigin; browsers block it.",
    ),
    Rule(
        "cors-missing",
        Severity.HIGH,
        "A cross-origin integrity-checked response lacks a matching "
        "Access-Control-Allow-Origin; browsers block it.",
    ),
    Rule("insecure-transport", Severity.HIGH, "A script or stylesheet is loaded over plain http:."),
    Rule("fetch-failed", Severity.HIGH, "A target or subresource could not be fetched completely."),
    Rule(
        "integrity-malformed",
        Severity.MEDIUM,
        "An integrity attribute has no valid metadata, or metadata browsers disagree on.",
    ),
    Rule(
        "integrity-missing",
        Severity.MEDIUM,
        "A cross-origin script or stylesheet has no integrity.",
    ),
    Rule(
        "integrity-changed",
        Severity.MEDIUM,
        "A page's declared integrity for a resource differs from its baseline.",
    ),
    Rule(
        "resource-removed",
        Severity.LOW,
        "A resource in the baseline is no longer loaded by the page.",
    ),
    Rule("unpinned", Severity.INFO, "A target has no baseline yet."),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}
"""Every rule by id, in the contract's order."""
