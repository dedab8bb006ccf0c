"""A build output seen as the web site it becomes: its HTML pages, the URL each page will
have, and where each integrity-checkable reference leads (a file of the build, a remote URL,
or nowhere we may read).

The site model: a web root directory (the build directory unless `--root` says otherwise)
is served at a base URL (a placeholder origin unless `--base-url` gives the real one).
A page's URL is the base URL plus its path under the root; references resolve against it
(or the page's `<base href>`) as HTML §2.4 does, and a URL on the site's origin under the
base URL's path is the file at the same place under the root. Anything else on that origin
is outside the build and is refused, as is a reference that climbs above the root
(`../../etc/passwd`), a percent-encoded separator, or a symbolic link that leads out of the
root: such files are never opened.

Which elements count follows `sri_guard.discover` (the same rules `scan` applies to live
pages); this module finds them with `sri_guard.htmledit` instead of bs4 because `stamp`
needs the offset of every attribute to edit the file surgically.
"""

from __future__ import annotations

import json
import os
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from sri_guard import htmledit
from sri_guard.discover import _JS_TYPES, _PRELOAD_AS, Kind, Reference
from sri_guard.errors import UsageError
from sri_guard.htmledit import Tag
from sri_guard.verdict import same_origin

DEFAULT_BASE_URL = "https://build.invalid/"
"""The placeholder the web root is served at without `--base-url` (`.invalid` never
resolves, RFC 2606): every absolute http(s) URL is then another origin."""

PAGE_SUFFIXES = (".html", ".htm")
"""File names (case-insensitive) treated as HTML pages."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_DOTS = frozenset({".", "%2e"})
_DOUBLE_DOTS = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


@dataclass(frozen=True, slots=True)
class Local:
    """A reference served from the build: the file under the web root."""

    path: Path
    """The file, as a path under the web root as given (symbolic links not resolved)."""
    key: str = field(default="", compare=False)
    """Identity for hashing once: the real path (filled in from `path` when not given)."""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", os.path.realpath(self.path))


@dataclass(frozen=True, slots=True)
class Remote:
    """A reference to another origin: fetched over the network."""

    url: str
    """The absolute URL."""

    @property
    def key(self) -> str:
        """Identity for fetching once: the URL."""
        return self.url


@dataclass(frozen=True, slots=True)
class Refused:
    """A reference that cannot or may not be read, and why."""

    reason: str
    """One line."""

    @property
    def key(self) -> str:
        """Never looked up: there is nothing to hash."""
        return ""


Target = Local | Remote | Refused


@dataclass(frozen=True, slots=True)
class BuildRef:
    """One integrity-checkable reference in a page of the build."""

    ref: Reference
    """The reference as `scan`'s discovery models it (absolute URL, kind, declared values)."""
    target: Target
    """Where its bytes come from."""
    tag: Tag | None = None
    """The element, for references written as tags (None for import-map entries)."""


@dataclass(frozen=True, slots=True)
class MappedModule:
    """A module address an import map maps a specifier to."""

    address: str
    """The address as written in the map (the key `stamp` gives its integrity entry)."""
    url: str
    """The address resolved against the page's base URL."""
    target: Target
    """Where its bytes come from."""


@dataclass(frozen=True, slots=True)
class ImportMap:
    """An inline `<script type="importmap">` (HTML §8.1.5.3)."""

    tag: Tag
    """The `<script>` start tag; `tag.content` is the JSON text's span."""
    line: int
    """Line of the start tag."""
    data: dict[str, Any] | None
    """The parsed JSON object, or None when it is not a JSON object."""
    error: str | None
    """Why `data` is None."""
    modules: tuple[MappedModule, ...] = ()
    """Every module address of `imports` and `scopes` (not prefix mappings ending in `/`)."""
    entries: tuple[BuildRef, ...] = ()
    """The `integrity` section's entries, as references of kind `importmap`."""


@dataclass(frozen=True, slots=True)
class BuildPage:
    """One HTML file of the build and what it references."""

    path: Path
    """The file."""
    url: str
    """The URL it will be served at."""
    base: str
    """The URL its references resolve against (`url`, or its `<base href>`)."""
    text: str
    """Its bytes decoded as UTF-8 with surrogateescape (re-encoding gives the same bytes)."""
    refs: tuple[BuildRef, ...]
    """Scripts, stylesheets, preloads and modulepreloads with a URL, in document order."""
    import_maps: tuple[ImportMap, ...]
    """Inline import maps, in document order."""

    def all_refs(self) -> Iterator[BuildRef]:
        """Tag references, then every import map's integrity entries."""
        yield from self.refs
        for import_map in self.import_maps:
            yield from import_map.entries


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@dataclass(frozen=True, slots=True)
class Site:
    """Where the build's files are, and the URL they will be served at."""

    build_dir: Path
    """The directory whose HTML files are stamped or verified (absolute)."""
    root: Path
    """The web root: the directory served at `base_url` (absolute; contains `build_dir`)."""
    base_url: str
    """The URL the web root is served at; ends with `/`."""
    real_root: str = field(default="", compare=False)
    """`root` with symbolic links resolved: the boundary no file read may cross."""

    def __post_init__(self) -> None:
        if not self.real_root:
            object.__setattr__(self, "real_root", os.path.realpath(self.root))

    @classmethod
    def create(
        cls, build_dir: Path, *, root: Path | None = None, base_url: str | None = None
    ) -> Site:
        """Check the directories and base URL a user gave; UsageError naming the bad one."""
        build = Path(os.path.abspath(build_dir))
        if not build.exists():
            raise UsageError(f"{build_dir}: no such directory")
        if not build.is_dir():
            raise UsageError(f"{build_dir}: not a directory")
        web_root = Path(os.path.abspath(root)) if root is not None else build
        if root is not None:
            if not web_root.is_dir():
                raise UsageError(f"--root {root}: no such directory")
            if not _inside(os.path.realpath(build), os.path.realpath(web_root)):
                raise UsageError(f"--root {root} does not contain the build directory {build_dir}")
        url = DEFAULT_BASE_URL
        if base_url is not None:
            parts = urlsplit(base_url.strip())
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise UsageError(f"--base-url {base_url!r}: give an http(s) URL with a host")
            if parts.query or parts.fragment:
                raise UsageError(f"--base-url {base_url!r}: no query or fragment, please")
            try:
                parts.port  # noqa: B018  (raises ValueError on a bad port)
            except ValueError:
                raise UsageError(f"--base-url {base_url!r}: invalid port") from None
            path = parts.path if parts.path.endswith("/") else parts.path + "/"
            url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))
        return cls(build, web_root, url)

    def pages(self) -> list[Path]:
        """Every HTML file under the build directory, sorted (symbolic-link directories are
        not followed)."""
        found: list[Path] = []
        for directory, subdirs, files in os.walk(self.build_dir):
            subdirs.sort()
            found.extend(
                Path(directory, name)
                for name in sorted(files)
                if name.lower().endswith(PAGE_SUFFIXES)
            )
        return found

    def page_url(self, page: Path) -> str:
        """The URL `page` is served at."""
        relative = Path(os.path.abspath(page)).relative_to(self.root).as_posix()
        return self.base_url + quote(relative, safe="/", errors="surrogateescape")

    def locate(self, url: str) -> Local | Refused | None:
        """The file of the build serving `url`; Refused if `url` is on the site but may not
        be read; None if it is on another origin."""
        if not same_origin(url, self.base_url):
            return None
        path = urlsplit(url).path or "/"
        mount = urlsplit(self.base_url).path
        if not path.startswith(mount):
            return Refused(
                f"{path} is outside the build, which is served at {self.base_url} "
                "(set --base-url or --root to where the build is served)"
            )
        parts: list[str] = []
        for segment in path[len(mount) :].split("/"):
            decoded = unquote(segment, errors="surrogateescape")
            if decoded in ("", "."):
                continue
            if decoded == ".." or any(c in decoded for c in "/\\\0"):
                return Refused(f"refused: {path} leaves the web root; not read")
            parts.append(decoded)
        candidate = self.root.joinpath(*parts)
        real = os.path.realpath(candidate)
        if not _inside(real, self.real_root):
            return Refused(
                f"refused: {self.display(candidate)} is a symbolic link out of the web root; "
                "not read"
            )
        return Local(candidate, real)

    def display(self, path: Path) -> str:
        """How reports name a file: relative to the working directory when under it."""
        return _display(os.fspath(path), os.getcwd())

    def target(self, url: str, climbed: bool, raw: str) -> Target:
        """Where a resolved reference's bytes come from."""
        located = self.locate(url)
        if located is None:
            return Remote(url)
        if climbed:
            return Refused(f"refused: {raw!r} climbs above the web root; not read")
        return located


@lru_cache(maxsize=65536)
def _display(path: str, cwd: str) -> str:
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, cwd)
    except ValueError:  # another drive on Windows
        return Path(absolute).as_posix()
    if relative == ".." or relative.startswith(".." + os.sep):
        return Path(absolute).as_posix()
    return Path(relative).as_posix()


def remove_dot_segments(path: str) -> tuple[str, bool]:
    """RFC 3986 §5.2.4 as the URL Standard does it (`%2e` is a dot too); also whether a
    `..` tried to climb above `/` (browsers silently stay at `/`)."""
    segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
    out: list[str] = []
    climbed = False
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        lowered = segment.lower()
        if lowered in _DOUBLE_DOTS:
            if out:
                out.pop()
            else:
                climbed = True
            if last:
                out.append("")
        elif lowered in _DOTS:
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out), climbed


def resolve(base: str, raw: str) -> tuple[str, bool] | None:
    """Resolve an attribute value against a base URL as the URL Standard does (leading and
    trailing C0/space stripped, tabs and newlines removed, `\\` as `/` for http(s), dot
    segments with `%2e`), without the fragment. Returns (URL, climbed above `/`), or None
    when the value is empty or not a URL."""
    value = _TAB_OR_NEWLINE.sub("", raw.strip("".join(chr(c) for c in range(0x21))))
    if not value:
        return None
    scheme_match = _SCHEME.match(value)
    scheme = scheme_match.group()[:-1].lower() if scheme_match else ""
    base_parts = urlsplit(base)
    if scheme in ("", "http", "https"):
        value = value.replace("\\", "/")
    try:
        joined = urlsplit(urljoin(base, value))
        joined.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return None
    if joined.scheme not in ("http", "https"):
        return urlunsplit(joined._replace(fragment="")), False
    ref = urlsplit(value)
    if ref.netloc or (scheme and scheme != base_parts.scheme) or ref.path.startswith("/"):
        merged = ref.path
    elif ref.path:
        merged = base_parts.path[: base_parts.path.rfind("/") + 1] + ref.path
    else:
        merged = base_parts.path
    path, climbed = remove_dot_segments(merged or "/")
    return urlunsplit((joined.scheme, joined.netloc, path, joined.query, "")), climbed


def _script_type(tag: Tag) -> str:
    """HTML §4.12.1: the type string (from `language` when `type` is absent)."""
    value = tag.value("type")
    if value is None:
        language = tag.value("language")
        if language is not None:
            return "text/" + language.strip().lower() if language.strip() else ""
    return (value or "").strip().lower().split(";", 1)[0].strip()


def _url_like(address: str) -> bool:
    """Import-map addresses and integrity keys must be absolute or start with `/`, `./`
    or `../` (HTML "resolve a URL-like module specifier")."""
    stripped = address.strip()
    return stripped.startswith(("/", "./", "../")) or bool(_SCHEME.match(stripped))


class _Lines:
    """Offset to line number, by binary search over the newline offsets."""

    def __init__(self, text: str) -> None:
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def __call__(self, offset: int) -> int:
        return bisect_right(self._newlines, offset - 1) + 1


def read_page(site: Site, path: Path, data: bytes) -> BuildPage:
    """Find every integrity-checkable reference and inline import map in one page."""
    text = data.decode("utf-8", "surrogateescape")
    url = site.page_url(path)
    line = _Lines(text)
    tags = list(htmledit.scan(text, ("script", "link", "base")))
    base = url
    for tag in tags:
        if tag.name == "base" and not tag.foreign and tag.get("href") is not None:
            resolved = resolve(url, tag.value("href") or "")
            if resolved and urlsplit(resolved[0]).scheme not in ("data", "javascript"):
                base = resolved[0]
            break
    refs: list[BuildRef] = []
    maps: list[ImportMap] = []

    def add(tag: Tag, raw: str, kind: Kind, **fields: Any) -> None:
        resolved = resolve(base, raw)
        if resolved is None or urlsplit(resolved[0]).scheme not in ("http", "https"):
            return  # empty, or data:/blob:/javascript: (no integrity check applies)
        ref = Reference(
            url=resolved[0],
            raw=raw,
            kind=kind,
            integrity=tag.value("integrity"),
            crossorigin=tag.value("crossorigin"),
            line=line(tag.start),
            position=len(refs),
            **fields,
        )
        refs.append(BuildRef(ref, site.target(resolved[0], resolved[1], raw), tag))

    for tag in tags:
        if tag.foreign or tag.name == "base":
            continue
        if tag.name == "script":
            kind = _script_type(tag)
            src = tag.value("src")
            if kind == "importmap":
                if src is None and tag.content is not None:
                    maps.append(_import_map(site, base, text, tag, line(tag.start)))
                continue
            if kind in _JS_TYPES and src is not None:
                add(tag, src, "script", module=kind == "module", element="script")
            continue
        rel = (tag.value("rel") or "").lower().split()
        href = tag.value("href")
        if href is None:
            continue
        if "stylesheet" in rel and "alternate" not in rel:
            add(tag, href, "style", destination="style", element="link")
        elif "modulepreload" in rel:
            add(tag, href, "modulepreload", module=True, element="link")
        elif "preload" in rel:
            destination = _PRELOAD_AS.get((tag.value("as") or "").strip().lower())
            if destination is not None:
                add(tag, href, "preload", destination=destination, element="link")
    return BuildPage(path, url, base, text, tuple(refs), tuple(maps))


def _import_map(site: Site, base: str, text: str, tag: Tag, line: int) -> ImportMap:
    assert tag.content is not None
    source = text[tag.content[0] : tag.content[1]]
    try:
        data = json.loads(source)
    except (ValueError, RecursionError) as exc:
        return ImportMap(tag, line, None, f"not valid JSON ({exc})")
    if not isinstance(data, dict):
        return ImportMap(tag, line, None, "not a JSON object")
    addresses: list[str] = []
    imports = data.get("imports")
    if isinstance(imports, dict):
        addresses.extend(v for v in imports.values() if isinstance(v, str))
    scopes = data.get("scopes")
    if isinstance(scopes, dict):
        for scope in scopes.values():
            if isinstance(scope, dict):
                addresses.extend(v for v in scope.values() if isinstance(v, str))
    modules: dict[str, MappedModule] = {}
    for address in addresses:
        if address.endswith("/") or not _url_like(address):
            continue  # a prefix mapping (a directory), or an invalid address
        resolved = resolve(base, address)
        if resolved is None or resolved[0] in modules:
            continue
        if urlsplit(resolved[0]).scheme not in ("http", "https"):
            continue
        target = site.target(resolved[0], resolved[1], address)
        modules[resolved[0]] = MappedModule(address, resolved[0], target)
    entries: list[BuildRef] = []
    section = data.get("integrity")
    if isinstance(section, dict):
        for key, value in section.items():
            if not isinstance(value, str) or not _url_like(key):
                continue
            resolved = resolve(base, key)
            if resolved is None or urlsplit(resolved[0]).scheme not in ("http", "https"):
                continue
            ref = Reference(
                url=resolved[0],
                raw=key,
                kind="importmap",
                integrity=value,
                crossorigin=None,
                module=True,
                element="importmap",
                line=line,
                position=len(entries),
            )
            entries.append(BuildRef(ref, site.target(resolved[0], resolved[1], key)))
    return ImportMap(tag, line, data, None, tuple(modules.values()), tuple(entries))


def dump_like(original: str, data: dict[str, Any]) -> str:
    """`data` as JSON laid out like `original`: the same surrounding whitespace, one line if
    it was one line, else its indentation unit and the base indentation of its lines."""
    stripped = original.strip("\t\n\f\r ")
    lead = original[: len(original) - len(original.lstrip("\t\n\f\r "))]
    trail = original[len(original.rstrip("\t\n\f\r ")) :]
    if "\n" not in stripped:
        compact = '":' in stripped and '": ' not in stripped
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":") if compact else None)
    else:
        lines = stripped.splitlines()
        base_indent = lines[-1][: len(lines[-1]) - len(lines[-1].lstrip(" \t"))]
        second = lines[1]
        indent = second[: len(second) - len(second.lstrip(" \t"))][len(base_indent) :] or "  "
        body = json.dumps(data, ensure_ascii=False, indent=indent)
        body = body.replace("\n", "\n" + base_indent)
    # "</script" or "<!--" inside the JSON would end or escape the element (HTML §4.12.1.3).
    body = body.replace("</", "<\\/").replace("<!--", "\\u003C!--")
    return lead + body + trail
