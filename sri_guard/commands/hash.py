"""`sri-guard hash`: the SRI value of files, URLs and stdin, streamed (memory stays flat)."""

from __future__ import annotations

import html
import os
import stat
import sys
from collections.abc import Callable, Sequence
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
    readinto: Callable[[memoryview], int | None] = stream.readinto  # type: ignore[attr-defined]
    view = memoryview(bytearray(_CHUNK))
    n = readinto(view) or 0
    if n == _CHUNK and _is_regular_file(stream):
        size = _hash_overlapped(readinto, hasher, view)
        return hasher.digests(), size
    size = 0
    while n:
        hasher.update(view[:n])
        size += n
        n = readinto(view) or 0
    return hasher.digests(), size


def _is_regular_file(stream: BinaryIO) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):  # no file descriptor (an in-memory stream)
        return False


def _hash_overlapped(
    readinto: Callable[[memoryview], int | None], hasher: MultiHasher, first: memoryview
) -> int:
    """Hash a large regular file whose first full chunk is in `first`; return its size.

    Double buffering: a second thread reads the next chunk while this one hashes the last.
    `readinto` and hashlib's `update` both release the GIL, so with two cores the copy out
    of the page cache hides behind the hashing (benchmarks/hash_large.py measures it).
    Only regular files: a read from a pipe or terminal could block the thread forever.
    """
    from concurrent.futures import ThreadPoolExecutor

    buffers = (first, memoryview(bytearray(len(first))))
    current = 0
    n = len(first)
    size = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sri-guard-read") as reader:
        while n:
            pending = reader.submit(readinto, buffers[current ^ 1])
            hasher.update(buffers[current][:n])
            size += n
            current ^= 1
            n = pending.result() or 0
    return size


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
