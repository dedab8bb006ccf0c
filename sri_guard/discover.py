"""Discovery: HTML in, the subresources a browser would integrity-check out. Pure, no I/O.

Finds what HTML §4.12.1 (`<script>`), §4.2.4 (`<link>`: stylesheet, preload, modulepreload)
and the import-map `integrity` section (HTML §8.1.5.3) declare, plus `integrity` in `Link:`
response headers (preload, modulepreload), resolving URLs as a browser does while it parses:
against the document URL until the first `<base href>` (HTML §2.4.1 "document base URL"),
against that base after it (an element fetched before the base was parsed keeps the URL it
was fetched from; Chromium 156 does the same). Elements a browser running scripts never
loads are left out: the contents of `<template>` (inert, HTML §4.12.3) and of `<noscript>`
(raw text when scripting is enabled, HTML §13.2.6.4.4). Executable inline scripts come
with their CSP hash (CSP3 §8.3: sha256 over the UTF-8 bytes of the script text). Parsing
uses beautifulsoup4 on lxml, which accepts any broken markup; nothing fetched is ever
executed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

Kind = Literal["script", "style", "preload", "modulepreload", "importmap"]

# HTML §4.12.1.1: the JavaScript MIME type essence matches; "module" and "" too.
_JS_TYPES = frozenset(
    {
        "",
        "module",
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    }
)
_PRELOAD_AS = {"script": "script", "style": "style"}


@dataclass(frozen=True, slots=True)
class Reference:
    """One subresource reference, as a browser would request it."""

    url: str
    """Absolute URL after `<base href>` resolution."""
    raw: str
    """The attribute value as written."""
    kind: Kind
    """script, style, preload (as script/style), modulepreload, or importmap (an entry of
    an import map's integrity section)."""
    integrity: str | None
    """The declared `integrity`, or None when absent."""
    crossorigin: str | None
    """The `crossorigin` attribute (None absent, '' or 'anonymous', 'use-credentials')."""
    module: bool = False
    """True for `type=module` scripts, modulepreload and import-map entries: always CORS."""
    destination: Literal["script", "style"] = "script"
    """What the browser fetches it as (Sec-Fetch-Dest)."""
    element: str = ""
    """Where it was declared: `script`, `link`, `importmap` or `Link header`."""
    line: int | None = None
    """Source line of the element, when known."""
    position: int = 0
    """Order of appearance in the document."""
    nomodule: bool = False
    """A classic script with `nomodule`: only browsers without module support run it."""

    @property
    def cors(self) -> bool:
        """True when the request is in CORS mode (Fetch §3.1.1; HTML's CORS settings)."""
        return self.module or self.crossorigin is not None

    @property
    def credentials(self) -> bool:
        """True for `crossorigin="use-credentials"`: ACAO must be the exact origin plus ACAC."""
        return (self.crossorigin or "").strip().lower() == "use-credentials"


@dataclass(frozen=True, slots=True)
class InlineScript:
    """An executable inline `<script>`: its CSP hash lets a hash-based CSP allow it."""

    csp_hash: str
    """`sha256-…` over the UTF-8 bytes of its text (CSP3 §8.3)."""
    size: int
    """Length of its text in UTF-8 bytes."""
    line: int | None
    """Source line of the element."""
    module: bool
    """True for `type=module`."""
    text: str
    """The script text itself (kept for diffs)."""


@dataclass(frozen=True, slots=True)
class Page:
    """What discovery found in one document."""

    url: str
    """The document URL."""
    base: str
    """The URL relative references resolve against (document URL or `<base href>`)."""
    references: tuple[Reference, ...]
    """Every integrity-checkable reference, in document order, Link headers first."""
    inline_scripts: tuple[InlineScript, ...]
    """Executable inline scripts in document order."""
    meta_policies: tuple[str, ...]
    """`<meta http-equiv="Content-Security-Policy">` values."""


def csp_hash(text: str) -> str:
    """CSP3 hash-source for an inline script's text."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _attr(tag: Any, name: str) -> str | None:
    value = tag.get(name)
    if value is None:
        return None
    if isinstance(value, list):  # bs4 splits multi-valued attributes such as rel
        return " ".join(value)
    return str(value)


def _resolve(base: str, raw: str) -> str | None:
    """URL parsing as HTML does it: strip ASCII whitespace, resolve; None if unusable."""
    value = raw.strip("\t\n\f\r ")
    if not value:
        return None
    try:
        resolved = urljoin(base, value)
        urlsplit(resolved).port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return None
    return resolved.split("#", 1)[0]


def _script_type(tag: Any) -> str:
    """The script block's type string, lower-cased (HTML §4.12.1.1 "prepare the script
    element"). No MIME parameters are stripped: `text/javascript; charset=utf-8` is not a
    JavaScript MIME type essence match, so browsers treat it as a data block (Chromium 156
    does not even fetch it)."""
    value = _attr(tag, "type")
    language = _attr(tag, "language")
    if value == "" or (value is None and not language):
        return "text/javascript"
    if value is not None:
        return value.strip("\t\n\f\r ").lower()
    return f"text/{language}".lower()


def _links_from_header(value: str) -> list[dict[str, str]]:
    """Parse an RFC 8288 `Link:` header into target + parameters (lower-cased names)."""
    links: list[dict[str, str]] = []
    for match in re.finditer(r"<([^>]*)>((?:\s*;\s*[^;,]+(?:=(?:\"[^\"]*\"|[^;,]*))?)*)", value):
        params = {"href": match.group(1)}
        for param in re.finditer(r";\s*([^=;,\s]+)\s*(?:=\s*(\"[^\"]*\"|[^;,]*))?", match.group(2)):
            name = param.group(1).lower()
            raw = (param.group(2) or "").strip()
            params.setdefault(name, raw[1:-1] if raw.startswith('"') else raw)
        links.append(params)
    return links


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\f\r"
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _keeps_ascii(encoding: str | None) -> bool:
    """Whether a decoding reads ASCII bytes as ASCII. Every encoding a browser decodes a
    page with (short of a BOM) does; UTF-16, UTF-32, UTF-7 and EBCDIC do not."""
    if encoding is None:
        return True
    try:
        return _PRINTABLE_ASCII.decode(encoding) == _PRINTABLE_ASCII.decode("ascii")
    except (LookupError, ValueError):  # no such codec, or not a text encoding
        return False


def _as_browsers_decode(html: bytes) -> str:
    """The text of a page whose declared encoding a browser would not use. HTML §13.2.3.2
    (the encoding sniffing algorithm): a BOM decides; a declared UTF-16 is read as UTF-8 and
    an unknown label is ignored ("prescan a byte stream"), leaving UTF-8, else windows-1252."""
    for bom, codec in _BOMS:
        if html.startswith(bom):
            return html[len(bom) :].decode(codec, "replace")
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        return html.decode("cp1252", "replace")


def discover(html: bytes | str, url: str, link_headers: str | None = None) -> Page:
    """Find every integrity-checkable reference and inline script in a document."""
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns about markup that looks like a URL/XML
        try:
            soup = BeautifulSoup(html, "lxml")
        except Exception:  # lxml refuses some inputs outright (a NUL in a declared charset)
            soup = None
        if isinstance(html, bytes) and (soup is None or not _keeps_ascii(soup.original_encoding)):
            # bs4 honoured a declaration browsers do not (`<meta charset=utf-16>` on an ASCII
            # page made every script vanish): read the bytes as a browser does instead.
            try:
                soup = BeautifulSoup(_as_browsers_decode(html), "lxml")
            except Exception:
                soup = None
        if soup is None:
            soup = BeautifulSoup("", "lxml")
    del XMLParsedAsHTMLWarning

    base = url  # what URLs resolve against at this point of the parse
    base_seen = False

    refs: list[Reference] = []
    inline: list[InlineScript] = []
    metas: list[str] = []

    def add(**fields: Any) -> None:
        refs.append(Reference(position=len(refs), **fields))

    for params in _links_from_header(link_headers or ""):
        rel = params.get("rel", "").lower().split()
        target = _resolve(url, params["href"])  # Link headers resolve against the response URL
        if target is None:
            continue
        crossorigin = params.get("crossorigin")
        if "modulepreload" in rel:
            add(
                url=target,
                raw=params["href"],
                kind="modulepreload",
                integrity=params.get("integrity"),
                crossorigin=crossorigin,
                module=True,
                element="Link header",
            )
        elif "preload" in rel and params.get("as", "").lower() in _PRELOAD_AS:
            add(
                url=target,
                raw=params["href"],
                kind="preload",
                integrity=params.get("integrity"),
                crossorigin=crossorigin,
                destination=_PRELOAD_AS[params["as"].lower()],
                element="Link header",
            )

    for tag in soup.find_all(["base", "script", "link", "meta"]):
        if tag.find_parent(["template", "noscript"]) is not None:
            continue
        line = getattr(tag, "sourceline", None)
        if tag.name == "base":
            # Only the first base element with href counts; a data: or javascript: one
            # leaves the document URL in force (HTML §2.4.1 "frozen base URL").
            if not base_seen and _attr(tag, "href") is not None:
                base_seen = True
                resolved = _resolve(url, _attr(tag, "href") or "")
                if resolved and urlsplit(resolved).scheme not in ("data", "javascript"):
                    base = resolved
            continue
        if tag.name == "meta":
            equiv = (_attr(tag, "http-equiv") or "").strip().lower()
            if equiv == "content-security-policy" and _attr(tag, "content"):
                metas.append(_attr(tag, "content") or "")
            continue
        if tag.name == "script":
            kind = _script_type(tag)
            if kind == "importmap":
                refs.extend(_import_map(tag, base, len(refs), line))
                continue
            if kind not in _JS_TYPES:
                continue  # a data block (JSON, ld+json, templates): never executed
            src = _attr(tag, "src")
            if src is not None:
                target = _resolve(base, src)
                if target is not None:
                    add(
                        url=target,
                        raw=src,
                        kind="script",
                        integrity=_attr(tag, "integrity"),
                        crossorigin=_attr(tag, "crossorigin"),
                        module=kind == "module",
                        element="script",
                        line=line,
                        nomodule=kind != "module" and tag.has_attr("nomodule"),
                    )
                continue
            text = tag.string if tag.string is not None else tag.get_text()
            inline.append(
                InlineScript(
                    csp_hash(text),
                    len(text.encode("utf-8", "surrogatepass")),
                    line,
                    kind == "module",
                    text,
                )
            )
            continue
        rel = (_attr(tag, "rel") or "").lower().split()
        href = _attr(tag, "href")
        if href is None:
            continue
        target = _resolve(base, href)
        if target is None:
            continue
        integrity = _attr(tag, "integrity")
        crossorigin = _attr(tag, "crossorigin")
        if "stylesheet" in rel and "alternate" not in rel:
            add(
                url=target,
                raw=href,
                kind="style",
                integrity=integrity,
                crossorigin=crossorigin,
                destination="style",
                element="link",
                line=line,
            )
        elif "modulepreload" in rel:
            add(
                url=target,
                raw=href,
                kind="modulepreload",
                integrity=integrity,
                crossorigin=crossorigin,
                module=True,
                element="link",
                line=line,
            )
        elif "preload" in rel and (_attr(tag, "as") or "").strip().lower() in _PRELOAD_AS:
            dest = _PRELOAD_AS[(_attr(tag, "as") or "").strip().lower()]
            add(
                url=target,
                raw=href,
                kind="preload",
                integrity=integrity,
                crossorigin=crossorigin,
                destination=dest,
                element="link",
                line=line,
            )
    return Page(url, base, tuple(refs), tuple(inline), tuple(metas))


def _import_map(tag: Any, base: str, start: int, line: int | None) -> list[Reference]:
    """Entries of an import map's `integrity` section (HTML: "parse an import map string")."""
    if _attr(tag, "src") is not None:
        return []  # external import maps are not supported by browsers
    try:
        document = json.loads(tag.string or tag.get_text() or "{}")
    except (ValueError, RecursionError):
        return []
    section = document.get("integrity") if isinstance(document, dict) else None
    if not isinstance(section, dict):
        return []
    refs: list[Reference] = []
    for specifier, value in section.items():
        if not isinstance(specifier, str) or not isinstance(value, str):
            continue
        target = _resolve(base, specifier)
        if target is None or not specifier.strip().startswith(
            ("/", "./", "../", "http:", "https:")
        ):
            continue  # integrity keys must be URLs or URL-like specifiers
        refs.append(
            Reference(
                url=target,
                raw=specifier,
                kind="importmap",
                integrity=value,
                crossorigin=None,
                module=True,
                element="importmap",
                line=line,
                position=start + len(refs),
            )
        )
    return refs
