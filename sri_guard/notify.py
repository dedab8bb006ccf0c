"""Alerts: a short summary of a failing run, sent through apprise to any channel it supports
(Slack, email, Teams, Matrix, a JSON webhook, ...). Never secrets: URLs in the message lose
their user-info and query strings, and notification URLs are never echoed."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sri_guard._format.text import summary_line
from sri_guard.changes import summarize
from sri_guard.errors import SriGuardError
from sri_guard.model import Finding, Report

_MAX_FINDINGS = 10


def redact(url: str) -> str:
    """A URL without credentials or query string (which may hold tokens)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def _redact_text(text: str) -> str:
    return re.sub(r"https?://[^\s\"'<>)]+", lambda m: redact(m.group(0)), text)


def message(report: Report, failing: Sequence[Finding]) -> tuple[str, str]:
    """(title, body) of the alert: the summary line and the worst findings, diffs shortened."""
    title = f"sri-guard {report.command}: {len(failing)} finding(s) need attention"
    lines = [summary_line(report), ""]
    for f in failing[:_MAX_FINDINGS]:
        who = f" [{f.profile}]" if f.profile else ""
        lines.append(f"{str(f.level).upper()} {f.rule}: {redact(f.url)}{who}")
        lines.append(f"  {_redact_text(f.message)}")
        if f.detail:
            lines += ["  " + line for line in summarize(_redact_text(f.detail), 8).splitlines()]
    if len(failing) > _MAX_FINDINGS:
        lines.append(f"... and {len(failing) - _MAX_FINDINGS} more (see the full report)")
    return title, "\n".join(lines)


@contextmanager
def _apprise() -> Iterator[Any]:
    """apprise, with deprecation warnings silenced: its plug-ins load lazily (on add/notify)
    and some warn on import, which a strict PYTHONWARNINGS would turn into a lost alert."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        yield apprise


def send(urls: Sequence[str], report: Report, failing: Sequence[Finding]) -> list[str]:
    """Send the alert to every URL; return one error line per channel that failed."""
    title, body = message(report, failing)
    errors = []
    with _apprise() as apprise:
        for n, url in enumerate(urls, 1):
            sender = apprise.Apprise()
            if not sender.add(url):
                errors.append(f"notification channel #{n} is not a valid apprise URL")
                continue
            try:
                ok = bool(sender.notify(title=title, body=body))
            except Exception as exc:  # apprise plug-ins raise their own errors
                errors.append(f"notification channel #{n} failed: {type(exc).__name__}")
                continue
            if not ok:
                errors.append(f"notification channel #{n} ({urlsplit(url).scheme}://…) failed")
    return errors


def check_urls(urls: Sequence[str]) -> None:
    """Validate notification URLs up front (a typo is a config error, exit 2)."""
    with _apprise() as apprise:
        for n, url in enumerate(urls, 1):
            if not apprise.Apprise().add(url):
                raise SriGuardError(
                    f"notification URL #{n} ({urlsplit(url).scheme or '?'}://…) is not one "
                    "apprise supports"
                )
