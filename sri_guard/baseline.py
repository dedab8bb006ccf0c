"""Baselines: one deterministic, reviewable JSON file per target, written atomically.

A baseline records what was approved: for a hosted file its integrity, size, content type and
redirect chain; for a page each subresource (kind, declared integrity and crossorigin, the
integrity of the bytes served), the CSP hashes of its executable inline scripts and its
security-impacting response headers. Values that legitimately differ by client profile are
recorded per profile. Keys are sorted and nothing changes when nothing changed (no
timestamps), so `pin` twice rewrites nothing and an update is a small diff in review.

Trust: a baseline is read from the user's repository; anything not of the expected shape is a
BaselineError naming the file (exit 2), never a silent pass.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from sri_guard import sri
from sri_guard.errors import BaselineError

SCHEMA = 1


@dataclass(frozen=True, slots=True)
class Pinned:
    """An approved resource: a hosted file target, or one subresource of a page."""

    url: str
    """The URL as referenced (or the target URL for a file)."""
    kind: str
    """script, style, preload, modulepreload, importmap or file."""
    integrity: tuple[str, ...]
    """Approved SRI values (sha384) of the bytes served; several during a rollout."""
    by_profile: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Approved values for profiles that are legitimately served different bytes."""
    profiles: tuple[str, ...] | None = None
    """Profiles whose pages load it; None means every profile that was pinned."""
    declared: str | None = None
    """The page's `integrity` attribute for it, when it had one."""
    crossorigin: str | None = None
    """The page's `crossorigin` attribute for it."""
    final_url: str | None = None
    """Where redirects ended, when that is not `url`."""
    redirects: tuple[str, ...] = ()
    """Every URL that redirected, in order."""
    size: int | None = None
    """Decoded size when pinned (informative)."""
    content_type: str | None = None
    """Media type served (files)."""
    owner: str | None = None
    """Who answers for it (filled in by a person; pin preserves it)."""
    justification: str | None = None
    """Why it is there (PCI DSS 6.4.3; filled in by a person; pin preserves it)."""

    def approved(self, profile: str | None) -> tuple[str, ...]:
        """The values approved for a profile."""
        if profile is not None and profile in self.by_profile:
            return self.by_profile[profile]
        return self.integrity

    def approves(self, profile: str | None, digests: Mapping[str, bytes]) -> bool:
        """Whether bytes with these digests are approved for a profile. Each approved value
        is compared in its own algorithm, so a vendor's published sha256 can be pinned."""
        return any(
            entry.digest == digests.get(entry.algorithm)
            for value in self.approved(profile)
            for entry in sri.parse(value).entries
        )

    @property
    def varies(self) -> bool:
        """Whether profiles are known to be served different bytes."""
        return bool(self.by_profile)

    def loaded_by(self, profile: str | None) -> bool:
        """Whether a profile's page loads it."""
        return self.profiles is None or profile is None or profile in self.profiles


@dataclass(frozen=True, slots=True)
class Baseline:
    """Everything approved about one target."""

    target: str
    """The target URL."""
    kind: Literal["page", "file"]
    """page or file."""
    profiles: tuple[str, ...]
    """Profiles it was pinned with."""
    file: Pinned | None = None
    """For a file target: the file."""
    page: Pinned | None = None
    """For a page target: the page document's own redirects (its bytes are not pinned)."""
    resources: tuple[Pinned, ...] = ()
    """For a page: its subresources, sorted by URL."""
    inline: tuple[str, ...] = ()
    """For a page: CSP hashes of its executable inline scripts (sorted, with repeats)."""
    inline_by_profile: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Inline-script hashes where a profile legitimately differs."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """For a page: security-impacting response headers, nonces normalised."""
    headers_by_profile: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Headers where a profile legitimately differs."""

    def resource(self, url: str) -> Pinned | None:
        """The pinned subresource with this URL."""
        return next((r for r in self.resources if r.url == url), None)

    def inline_for(self, profile: str | None) -> tuple[str, ...]:
        """Approved inline-script hashes for a profile."""
        if profile is not None and profile in self.inline_by_profile:
            return self.inline_by_profile[profile]
        return self.inline

    def headers_for(self, profile: str | None) -> Mapping[str, str]:
        """Approved security headers for a profile."""
        if profile is not None and profile in self.headers_by_profile:
            return self.headers_by_profile[profile]
        return self.headers


def filename(url: str) -> str:
    """A stable, filesystem-safe name for a target's baseline file."""
    parts = urlsplit(url)
    readable = f"{parts.hostname or 'host'}{parts.path}"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", readable).strip("._")[:80] or "target"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}.json"


def path_for(directory: Path, url: str) -> Path:
    """Where a target's baseline lives."""
    return directory / filename(url)


# Serialisation: plain JSON, sorted keys, absent/empty fields omitted.


def _pinned_dict(p: Pinned) -> dict[str, Any]:
    out: dict[str, Any] = {"url": p.url, "kind": p.kind, "integrity": list(p.integrity)}
    if p.by_profile:
        out["integrity_by_profile"] = {k: list(v) for k, v in p.by_profile.items()}
    optional: dict[str, Any] = {
        "profiles": list(p.profiles) if p.profiles is not None else None,
        "declared": p.declared,
        "crossorigin": p.crossorigin,
        "final_url": p.final_url,
        "redirects": list(p.redirects) or None,
        "size": p.size,
        "content_type": p.content_type,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    # Inventory fields are always present so a reviewer sees where to fill them in.
    out["owner"] = p.owner
    out["justification"] = p.justification
    return out


def to_json(b: Baseline) -> str:
    """The baseline as deterministic text."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "target": b.target,
        "kind": b.kind,
        "profiles": list(b.profiles),
    }
    if b.file is not None:
        doc["file"] = _pinned_dict(b.file)
    if b.page is not None:
        page = _pinned_dict(b.page)
        page.pop("integrity", None)
        doc["page"] = page
    if b.kind == "page":
        doc["resources"] = [_pinned_dict(r) for r in sorted(b.resources, key=lambda r: r.url)]
        doc["inline_scripts"] = sorted(b.inline)
        if b.inline_by_profile:
            doc["inline_scripts_by_profile"] = {
                k: sorted(v) for k, v in b.inline_by_profile.items()
            }
        doc["headers"] = dict(b.headers)
        if b.headers_by_profile:
            doc["headers_by_profile"] = {k: dict(v) for k, v in b.headers_by_profile.items()}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class _Reader:
    """Reads a baseline document, raising BaselineError naming the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, reason: str) -> BaselineError:
        return BaselineError(f"{self.path}: invalid baseline: {reason} (re-pin, or fix by hand)")

    def obj(self, value: Any, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{what} must be an object")
        return value

    def str_(self, d: Mapping[str, Any], key: str, what: str, optional: bool = False) -> Any:
        value = d.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{what}.{key} must be a string")
        return value

    def strs(self, value: Any, what: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{what} must be a list of strings")
        return tuple(value)

    def sri_values(self, value: Any, what: str) -> tuple[str, ...]:
        values = self.strs(value, what)
        for v in values:
            if not re.fullmatch(r"sha(256|384|512)-[A-Za-z0-9+/]+={0,2}", v):
                raise self.fail(f"{what} holds {v!r}, which is not an SRI value")
        return values

    def pinned(self, value: Any, what: str, need_integrity: bool = True) -> Pinned:
        d = self.obj(value, what)
        by_profile = {
            str(k): self.sri_values(v, f"{what}.integrity_by_profile.{k}")
            for k, v in self.obj(d.get("integrity_by_profile", {}), what).items()
        }
        size = d.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise self.fail(f"{what}.size must be a non-negative integer")
        integrity = (
            self.sri_values(d.get("integrity"), f"{what}.integrity")
            if need_integrity or "integrity" in d
            else ()
        )
        if need_integrity and not integrity and not by_profile:
            raise self.fail(f"{what}.integrity is empty: nothing is approved")
        return Pinned(
            url=self.str_(d, "url", what),
            kind=self.str_(d, "kind", what),
            integrity=integrity,
            by_profile=by_profile,
            profiles=self.strs(d["profiles"], f"{what}.profiles") if "profiles" in d else None,
            declared=self.str_(d, "declared", what, optional=True),
            crossorigin=self.str_(d, "crossorigin", what, optional=True),
            final_url=self.str_(d, "final_url", what, optional=True),
            redirects=self.strs(d.get("redirects", []), f"{what}.redirects"),
            size=size,
            content_type=self.str_(d, "content_type", what, optional=True),
            owner=self.str_(d, "owner", what, optional=True),
            justification=self.str_(d, "justification", what, optional=True),
        )

    def headers(self, value: Any, what: str) -> dict[str, str]:
        d = self.obj(value, what)
        if not all(isinstance(v, str) for v in d.values()):
            raise self.fail(f"{what} values must be strings")
        return {str(k).lower(): v for k, v in d.items()}


def load(path: Path, url: str | None = None) -> Baseline | None:
    """Read a baseline; None when the file does not exist; BaselineError when it is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc}") from None
    r = _Reader(path)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BaselineError(f"{path}: invalid baseline: not JSON ({exc})") from None
    except RecursionError:  # json recurses once per level of nesting
        raise BaselineError(f"{path}: invalid baseline: not JSON (nested too deeply)") from None
    d = r.obj(doc, "baseline")
    schema = d.get("schema")
    if schema != SCHEMA or isinstance(schema, bool):  # (true == 1 in Python)
        raise r.fail(f"schema must be {SCHEMA}, found {schema!r}")
    target = r.str_(d, "target", "baseline")
    if url is not None and target != url:
        raise r.fail(f"it is for {target!r}, not {url!r}")
    kind = d.get("kind")
    profiles = r.strs(d.get("profiles", []), "profiles")
    if kind == "file":
        return Baseline(target, "file", profiles, file=r.pinned(d.get("file"), "file"))
    if kind != "page":
        raise r.fail("kind must be 'page' or 'file'")
    # Read as a page, a file's baseline would compare no bytes at all (a silent pass): a page
    # baseline has what `pin` always writes for one, and nothing of a file's.
    if "file" in d or "resources" not in d or "page" not in d:
        raise r.fail("a page baseline has 'page' and 'resources' and no 'file'")
    resources = d.get("resources", [])
    if not isinstance(resources, list):
        raise r.fail("resources must be a list")
    return Baseline(
        target,
        "page",
        profiles,
        page=r.pinned(d["page"], "page", need_integrity=False),
        resources=tuple(r.pinned(x, f"resources[{i}]") for i, x in enumerate(resources)),
        inline=r.sri_values(d.get("inline_scripts", []), "inline_scripts"),
        inline_by_profile={
            str(k): r.sri_values(v, f"inline_scripts_by_profile.{k}")
            for k, v in r.obj(
                d.get("inline_scripts_by_profile", {}), "inline_scripts_by_profile"
            ).items()
        },
        headers=r.headers(d.get("headers", {}), "headers"),
        headers_by_profile={
            str(k): r.headers(v, f"headers_by_profile.{k}")
            for k, v in r.obj(d.get("headers_by_profile", {}), "headers_by_profile").items()
        },
    )


def write_atomic(path: Path, text: str) -> bool:
    """Write `text` to `path` atomically (temp file, fsync, rename); False if unchanged."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise BaselineError(f"{path}: cannot write baseline: {exc}") from None
    return True
