"""Readable changes: a unified diff of the beautified old and new code (jsbeautifier for
scripts; CSS is split at braces and semicolons), so a re-minified CDN file or an appended
loader shows as the lines that changed rather than as two hashes."""

from __future__ import annotations

import difflib
import re

_MAX_BEAUTIFY = 4 * 1024 * 1024


def _pretty(body: bytes, kind: str) -> list[str]:
    text = body.decode("utf-8", "replace")
    if len(body) > _MAX_BEAUTIFY:
        return text.splitlines()
    if kind in ("style",):
        text = re.sub(r"\s*([{};])\s*", r"\1\n", text)
        return text.splitlines()
    import jsbeautifier

    options = jsbeautifier.default_options()
    options.indent_size = 2
    return str(jsbeautifier.beautify(text, options)).splitlines()


def diff(
    old: bytes, new: bytes, kind: str, old_name: str = "pinned", new_name: str = "served"
) -> str:
    """Unified diff of the beautified bodies ('' when they beautify identically)."""
    lines = difflib.unified_diff(
        _pretty(old, kind), _pretty(new, kind), old_name, new_name, n=2, lineterm=""
    )
    return "\n".join(lines)


def summarize(detail: str, limit: int = 12) -> str:
    """The first `limit` lines of a diff, for chat notifications."""
    lines = detail.splitlines()
    if len(lines) <= limit:
        return detail
    return "\n".join([*lines[:limit], f"... ({len(lines) - limit} more lines in the report)"])
