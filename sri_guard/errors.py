"""The exception tree, drawn once.

    SriGuardError          anything sri-guard reports to a person, as one line
    ├── UsageError         bad flags or arguments: exit 2
    │   ├── ConfigError    the config file is unreadable or invalid: exit 2
    │   └── BaselineError  a baseline is unreadable, corrupt or hand-edited wrong: exit 2
    └── FetchError         a URL could not be fetched completely; in `scan`, `pin` and
                           `check` it becomes a `fetch-failed` finding, in `hash` exit 2

Library exceptions (httpx, aiohttp, lxml, tomllib) are translated where they enter and never
reach the user; the CLI prints `str(error)` and exits, with a traceback only under `--debug`.
"""

from __future__ import annotations


class SriGuardError(Exception):
    """Base class: the message is one line a person can act on."""


class UsageError(SriGuardError):
    """Bad flags, arguments or local input; the command exits 2 and writes nothing."""


class ConfigError(UsageError):
    """The config file is unreadable or invalid (names the file, line and reason)."""


class BaselineError(UsageError):
    """A baseline file is unreadable or does not have the expected shape."""


class FetchError(SriGuardError):
    """A URL could not be fetched completely: error, timeout, truncation or a limit."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        """The URL that was asked for (not the redirect that failed)."""
        self.reason = reason
        """One line saying why, without the URL."""
