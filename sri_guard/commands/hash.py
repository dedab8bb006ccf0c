"""`sri-guard hash`: the SRI value of files, URLs and stdin, streamed (memory stays flat)."""

from __future__ import annotations

import html
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sri_guard.errors import FetchError, SriGuardError
from sri_guard.model import Report, Resource
from sri_guard.sri import MultiHasher, format_integrity

_CHUNK = 1024 * 1024
_STYLE_TYPES = ("text/css",)


@dataclass(frozen=True, slots=True)
class Hashed:
    """One source's result."""

    source: str
    """As given on the command line."""
    integrity: str
    """Space-separated SRI tokens, one per algorithm, in the order asked."""
    size: int
    """Bytes hashed."""
    content_type: str | None = None
    """Content-Type served, for URLs."""
    status: int | None = None
    """HTTP status, for URLs."""


def _is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def _hash_stream(stream: BinaryIO, algorithms: Sequence[str]) -> tuple[dict[str, bytes], int]:
    hasher = MultiHasher(algorithms)
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    size = 0
    while True:
        n = stream.readinto(view)  # type: ignore[attr-defined]
        if not n:
            break
        hasher.update(view[:n])
        size += n
    return hasher.digests(), size


def hash_local(source: str, algorithms: Sequence[str]) -> Hashed:
    """Hash a file path, or stdin for '-'; UsageError-like SriGuardError when unreadable."""
    try:
        if source == "-":
            digests, size = _hash_stream(sys.stdin.buffer, algorithms)
        else:
            with open(source, "rb", buffering=0) as stream:
                digests, size = _hash_stream(stream, algorithms)
    except OSError as exc:
        raise SriGuardError(f"cannot read {source}: {exc.strerror or exc}") from None
    return Hashed(source, format_integrity(digests, algorithms), size)


async def _hash_urls(urls: Sequence[str], algorithms: Sequence[str]) -> list[Hashed | FetchError]:
    import asyncio

    from sri_guard.fetch import Fetcher
    from sri_guard.profiles import request_headers

    async with Fetcher() as fetcher:

        async def one(url: str) -> Hashed | FetchError:
            try:
                result = await fetcher.fetch(url, headers=request_headers(None, "script"))
            except FetchError as exc:
                return exc
            return Hashed(
                url,
                format_integrity(result.digests, algorithms),
                result.size,
                result.content_type,
                result.status,
            )

        return await asyncio.gather(*(one(u) for u in urls))


def run(
    sources: Sequence[str], algorithms: Sequence[str]
) -> tuple[list[Hashed], list[SriGuardError]]:
    """Hash every source; return results in the order given, and the errors."""
    results: dict[int, Hashed] = {}
    errors: list[SriGuardError] = []
    urls = [(i, s) for i, s in enumerate(sources) if _is_url(s)]
    if urls:
        import asyncio

        fetched = asyncio.run(_hash_urls([s for _, s in urls], algorithms))
        for (i, _), outcome in zip(urls, fetched, strict=True):
            if isinstance(outcome, FetchError):
                errors.append(outcome)
            else:
                results[i] = outcome
    for i, source in enumerate(sources):
        if _is_url(source):
            continue
        try:
            results[i] = hash_local(source, algorithms)
        except SriGuardError as exc:
            errors.append(exc)
    return [results[i] for i in sorted(results)], errors


def is_stylesheet(item: Hashed) -> bool:
    """Whether a tag for this source is a `<link rel=stylesheet>` (else a `<script>`)."""
    if item.content_type:
        return item.content_type.split(";")[0].strip().lower() in _STYLE_TYPES
    path = item.source.split("?", 1)[0].split("#", 1)[0]
    return Path(path).suffix.lower() == ".css"


def tag(item: Hashed) -> str:
    """A ready-to-paste element with `integrity` and `crossorigin="anonymous"`."""
    src = html.escape(item.source if item.source != "-" else "FILE", quote=True)
    integrity = html.escape(item.integrity, quote=True)
    if is_stylesheet(item):
        return (
            f'<link rel="stylesheet" href="{src}" integrity="{integrity}" crossorigin="anonymous">'
        )
    return f'<script src="{src}" integrity="{integrity}" crossorigin="anonymous"></script>'


def to_report(items: Sequence[Hashed], targets: int) -> Report:
    """The results as a Report, for the json/sarif/markdown formats."""
    report = Report("hash", targets=targets)
    for item in items:
        kind = "file"
        if item.content_type is not None or item.source.endswith((".js", ".mjs", ".css")):
            kind = "style" if is_stylesheet(item) else "script"
        report.resources.append(
            Resource(
                url=item.source,
                kind=kind,
                integrity=item.integrity,
                status=item.status,
                size=item.size,
            )
        )
    return report
