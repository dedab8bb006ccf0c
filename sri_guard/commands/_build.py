"""What `stamp` and `verify` share: read the build's pages, then get the bytes of every
distinct reference once (local files hashed streaming, remote URLs fetched concurrently
through the one fetcher), and name things the way reports do.

Trust: the build's HTML is the user's own output, so its remote URLs are fetched as given,
loopback and private addresses included (as `scan` does for a local file).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from sri_guard.build import BuildPage, BuildRef, Local, Refused, Remote, Site, Target, read_page
from sri_guard.errors import FetchError, SriGuardError
from sri_guard.fetch import Fetcher, FetchResult, Limits
from sri_guard.model import Finding, Resource
from sri_guard.profiles import request_headers
from sri_guard.sri import ALGORITHMS, MultiHasher
from sri_guard.verdict import serialize_origin

_CHUNK = 1024 * 1024
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

Outcome = FetchResult | str
"""A reference's bytes (hashed), or one line saying why there are none."""


@dataclass(slots=True)
class Loaded:
    """The pages of a build that could be read, and what could not."""

    pages: list[BuildPage] = field(default_factory=list)
    """Every HTML page read, sorted by path."""
    originals: dict[Path, bytes] = field(default_factory=dict)
    """Each page's bytes as read."""
    findings: list[Finding] = field(default_factory=list)
    """`fetch-failed` for pages that could not be read."""
    notes: list[str] = field(default_factory=list)
    """Pages skipped, and why."""
    count: int = 0
    """HTML files found (read or not)."""


def load(site: Site) -> Loaded:
    """Read and scan every HTML page of the build."""
    loaded = Loaded()
    for path in site.pages():
        loaded.count += 1
        shown = site.display(path)
        if not Path(os.path.realpath(path)).is_relative_to(site.real_root):
            loaded.notes.append(f"{shown}: skipped, a symbolic link out of the web root")
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            loaded.findings.append(
                Finding("fetch-failed", shown, f"cannot read page: {exc.strerror or exc}")
            )
            continue
        if data.startswith(_UTF16_BOMS):
            loaded.notes.append(f"{shown}: skipped, UTF-16 pages are not supported")
            continue
        loaded.pages.append(read_page(site, path, data))
        loaded.originals[path] = data
    if not loaded.count:
        loaded.notes.append(f"no HTML files under {site.display(site.build_dir)}")
    return loaded


def hash_file(path: Path) -> Outcome:
    """The digests of a local file, read in chunks; or why it cannot be read."""
    hasher = MultiHasher(ALGORITHMS)
    size = 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                hasher.update(chunk)
                size += len(chunk)
    except IsADirectoryError:
        return "is a directory, not a file"
    except FileNotFoundError:
        return "no such file in the build"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    url = path.as_uri() if path.is_absolute() else path.resolve().as_uri()
    return FetchResult(url, url, (), 200, (), size, hasher.digests())


async def _fetch_all(remotes: Mapping[str, str], origin: str, limits: Limits) -> dict[str, Outcome]:
    async with Fetcher(limits, allow_private=True) as fetcher:

        async def one(url: str, destination: str) -> Outcome:
            # Fetched as the CORS request the stamped tag makes (Fetch §3.2.5 `Origin`).
            headers = request_headers(
                None,
                "style" if destination == "style" else "script",
                site="cross-site",
                cors=True,
            )
            headers["origin"] = origin
            try:
                return await fetcher.fetch(url, headers=headers)
            except FetchError as exc:
                return exc.reason

        urls = list(remotes)
        results = await asyncio.gather(*(one(u, remotes[u]) for u in urls))
        return dict(zip(urls, results, strict=True))


def gather(site: Site, targets: Iterable[tuple[Target, str]], limits: Limits) -> dict[str, Outcome]:
    """The bytes of every distinct target, keyed by `Target.key`. `targets` pairs each
    target with its destination (`script` or `style`), used for remote request headers."""
    locals_: dict[str, Path] = {}
    remotes: dict[str, str] = {}
    for target, destination in targets:
        if isinstance(target, Local):
            locals_.setdefault(target.key, target.path)
        elif isinstance(target, Remote):
            remotes.setdefault(target.url, destination)
    # hashlib releases the GIL on large buffers: threads hash several files at once.
    with ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 1) + 2)) as pool:
        outcomes: dict[str, Outcome] = dict(
            zip(locals_, pool.map(hash_file, locals_.values()), strict=True)
        )
    if remotes:
        origin = serialize_origin(site.base_url)
        outcomes.update(asyncio.run(_fetch_all(remotes, origin, limits)))
    return outcomes


def outcome_of(target: Target, outcomes: Mapping[str, Outcome]) -> Outcome:
    """The bytes (or the failure) for one target."""
    if isinstance(target, Refused):
        return target.reason
    return outcomes[target.key]


def shown(site: Site, target: Target, ref: BuildRef | None = None) -> str:
    """How reports name a target: the file's path, or the URL."""
    if isinstance(target, Local):
        return site.display(target.path)
    if isinstance(target, Remote):
        return target.url
    return ref.ref.raw if ref is not None else ""  # refused: named as written


def label(ref: BuildRef) -> str:
    """`module script`, `stylesheet`, `preloaded script`, ... for messages."""
    r = ref.ref
    if r.kind == "importmap":
        return "import-map module"
    if r.kind == "preload":
        return f"preloaded {r.destination}"
    if r.kind == "script" and r.module:
        return "module script"
    return {"style": "stylesheet"}.get(r.kind, r.kind)


def failed(site: Site, page: BuildPage, ref: BuildRef, reason: str) -> Finding:
    """A `fetch-failed` finding for a reference whose bytes could not be had."""
    return Finding(
        "fetch-failed",
        shown(site, ref.target, ref),
        f"line {ref.ref.line}: {label(ref)} {ref.ref.raw!r}: {reason}",
        page=site.display(page.path),
    )


def relabel(site: Site, page: BuildPage, ref: BuildRef, finding: Finding) -> Finding:
    """A verdict finding named the report's way: the file (or URL), the page, the line."""
    return replace(
        finding,
        url=shown(site, ref.target, ref),
        page=site.display(page.path),
        message=f"line {ref.ref.line}: {finding.message}",
    )


def resource(
    site: Site,
    page: BuildPage,
    ref: BuildRef,
    outcome: Outcome,
    integrity: str | None,
    declared: str | None,
) -> Resource:
    """The inventory entry for one reference."""
    result = outcome if isinstance(outcome, FetchResult) else None
    remote = isinstance(ref.target, Remote)
    return Resource(
        shown(site, ref.target, ref),
        ref.ref.kind,
        page=site.display(page.path),
        integrity=integrity,
        declared=declared,
        status=result.status if result is not None and remote else None,
        size=result.size if result is not None else None,
        final_url=result.final_url
        if result is not None and remote and result.final_url != ref.ref.url
        else None,
    )


def write_atomically(path: Path, data: bytes) -> None:
    """Replace a file's bytes all at once (temp file in the same directory, then
    os.replace), keeping its permissions; a symbolic link's target is what changes."""
    target = Path(os.path.realpath(path))
    mode = stat.S_IMODE(target.stat().st_mode)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise SriGuardError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
