"""The verifier checklist of sri-notes.md as one web page on loopback, shared by the `scan`
CLI test and the headless-Chromium conformance test.

Two pages on the `server` origin: `/checklist.html` (every row of the checklist) and
`/policy.html` (served with `Integrity-Policy: blocked-destinations=(script)`, which must
not leak into the other rows; the checklist page embeds it in an iframe so that one browser
run sees both). Every script and stylesheet lives on the `cdn` origin (another port) unless
the case is about same-origin loading. Each resource, when a browser runs or applies it,
marks the top document with `data-ran-<case>`; when the browser refuses it, the element's
`error` event marks `data-err-<case>`.

Integrity values are computed here with hashlib, independently of the code under test.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import itertools
import json
from dataclasses import dataclass
from typing import Literal

from tests.servers import Server, respond

Element = Literal[
    "script",
    "module",
    "style",
    "modulepreload",
    "preload-script",
    "preload-style",
    "importmap",
    "importmap-preload",
]
Verdict = Literal["ran", "blocked"]


@dataclass(frozen=True)
class Case:
    id: str
    """File name stem and DOM marker."""
    row: str
    """The checklist row of sri-notes.md it covers."""
    element: Element
    """How the page loads it (`importmap`: a module script whose integrity is only in the
    page's import map; `importmap-preload`: the same with a modulepreload link)."""
    integrity: str | None
    """The attribute value, with `{sha256}`, `{bad384}`, `{url384}`... placeholders."""
    crossorigin: str | None = "anonymous"
    where: Literal["cdn", "page", "base"] = "cdn"
    """cdn: absolute URL on the other origin; page: same origin; base: a relative URL that
    `<base href>` points at the other origin."""
    acao: Literal["*", "origin"] | None = "*"
    acac: bool = False
    gzip: bool = False
    trailing: bytes = b""
    """Appended to the body after its integrity was computed."""
    rules: tuple[str, ...] = ()
    """sri-guard's findings for the resource URL (sorted rule ids)."""
    chromium: Verdict = "ran"
    """What headless Chromium does with it."""
    spec: Verdict | None = None
    """What the SRI draft (and WPT) says, when that differs from Chromium."""
    page: Literal["checklist", "policy"] = "checklist"
    before_base: bool = False
    """Written before the page's `<base href>`, as a root-relative URL."""
    redirect: Literal["acao", "no-acao"] | None = None
    """The URL answers 302 (with or without ACAO: *) to `/<case>-final.js` on the cdn,
    which serves the body with `acao`."""

    @property
    def path(self) -> str:
        ext = ".css" if self.element in ("style", "preload-style") else ".js"
        return f"/based/{self.id}{ext}" if self.where == "base" else f"/{self.id}{ext}"

    @property
    def is_style(self) -> bool:
        return self.element in ("style", "preload-style")

    @property
    def refused(self) -> bool:
        return self.chromium == "blocked"


MAIN = "checklist"
CASES: tuple[Case, ...] = (
    # Parsing and matching (rows 1-10 of the checklist, and the test-vector table).
    Case("correct", "sha384 that matches", "script", "sha384-{sha384}"),
    Case(
        "wrong",
        "sha384 that does not match",
        "script",
        "sha384-{bad384}",
        rules=("integrity-mismatch",),
        chromium="blocked",
    ),
    Case(
        "two-algs", "sha384 newline sha512, both good", "script", "sha384-{sha384}\nsha512-{sha512}"
    ),
    Case(
        "strongest-good",
        "sha512-good sha256-bad loads",
        "script",
        "sha512-{sha512} sha256-{bad256}",
    ),
    Case(
        "strongest-bad",
        "sha512-bad sha256-good is blocked",
        "script",
        "sha512-{bad512} sha256-{sha256}",
        rules=("integrity-mismatch",),
        chromium="blocked",
    ),
    Case("several", "several sha256, one good", "script", "sha256-{bad256} sha256-{sha256}"),
    Case("options", "?options are ignored", "script", "sha256-{sha256}?foo=bar?spam=eggs"),
    Case(
        "unknown-alg",
        "unknown algorithm only: unchecked",
        "script",
        "foo666-{sha256}",
        rules=("integrity-malformed",),
    ),
    Case("empty", "empty integrity: unchecked", "script", "", rules=("integrity-missing",)),
    Case(
        "blank-no-cors",
        "blank integrity on a no-cors cross-origin script: loads",
        "script",
        "  ",
        crossorigin=None,
        acao=None,
        rules=("integrity-missing",),
    ),
    Case(
        "malformed",
        "sha256-% alone",
        "script",
        "sha256-%",
        rules=("integrity-malformed",),
        chromium="ran",
        spec="blocked",
    ),
    Case(
        "malformed-mixed",
        "sha512-% sha256-good",
        "script",
        "sha512-% sha256-{sha256}",
        rules=("integrity-malformed",),
        chromium="ran",
        spec="blocked",
    ),
    Case(
        "newline",
        "body + trailing newline",
        "script",
        "sha384-{sha384}",
        trailing=b"\n",
        rules=("integrity-mismatch",),
        chromium="blocked",
    ),
    Case("gzip", "gzip-encoded body", "script", "sha384-{sha384}", gzip=True),
    # CORS (rows 11-15).
    Case(
        "no-crossorigin",
        "cross-origin integrity without crossorigin",
        "script",
        "sha384-{sha384}",
        crossorigin=None,
        rules=("crossorigin-missing",),
        chromium="blocked",
    ),
    Case(
        "no-acao",
        "crossorigin but no Access-Control-Allow-Origin",
        "script",
        "sha384-{sha384}",
        acao=None,
        rules=("cors-missing",),
        chromium="blocked",
    ),
    Case(
        "credentials-star",
        'crossorigin="use-credentials" with ACAO: *',
        "script",
        "sha384-{sha384}",
        crossorigin="use-credentials",
        acao="*",
        acac=True,
        rules=("cors-missing",),
        chromium="blocked",
    ),
    Case(
        "credentials-exact",
        'crossorigin="use-credentials" with the exact origin and ACAC: true',
        "script",
        "sha384-{sha384}",
        crossorigin="use-credentials",
        acao="origin",
        acac=True,
    ),
    Case(
        "module", "module script without crossorigin", "module", "sha384-{sha384}", crossorigin=None
    ),
    Case(
        "module-no-acao",
        "module script without crossorigin is CORS anyway",
        "module",
        "sha384-{sha384}",
        crossorigin=None,
        acao=None,
        rules=("cors-missing",),
        chromium="blocked",
    ),
    Case("modulepreload", "modulepreload", "modulepreload", "sha384-{sha384}", crossorigin=None),
    Case(
        "modulepreload-bad",
        "modulepreload that does not match",
        "modulepreload",
        "sha384-{bad384}",
        crossorigin=None,
        rules=("integrity-mismatch",),
        chromium="blocked",
    ),
    Case(
        "importmap-good", "import map integrity", "importmap", "sha384-{sha384}", crossorigin=None
    ),
    Case(
        "importmap-bad",
        "import map integrity that does not match",
        "importmap",
        "sha384-{bad384}",
        crossorigin=None,
        rules=("integrity-mismatch",),
        chromium="blocked",
    ),
    Case(
        "based",
        "<base href> resolves a relative src to the other origin",
        "script",
        "sha384-{sha384}",
        crossorigin=None,
        where="base",
        rules=("crossorigin-missing",),
        chromium="blocked",
    ),
    Case(
        "same-origin",
        "same-origin without crossorigin",
        "script",
        "sha384-{sha384}",
        crossorigin=None,
        where="page",
        acao=None,
    ),
    Case(
        "same-origin-bad",
        "same-origin that does not match",
        "script",
        "sha384-{bad384}",
        crossorigin=None,
        where="page",
        acao=None,
        rules=("integrity-mismatch",),
        chromium="blocked",
    ),
    Case(
        "before-base",
        "<script> before <base href> resolves against the document URL",
        "script",
        "sha384-{sha384}",
        crossorigin=None,
        where="page",
        acao=None,
        before_base=True,
    ),
    # Redirects (row 10: the final response is checked; CORS applies to every hop).
    Case(
        "redirect",
        "cross-origin redirect, ACAO on both responses",
        "script",
        "sha384-{sha384}",
        redirect="acao",
    ),
    Case(
        "redirect-no-acao",
        "the redirect response lacks ACAO",
        "script",
        "sha384-{sha384}",
        redirect="no-acao",
        rules=("cors-missing",),
        chromium="blocked",
    ),
    Case(
        "same-origin-redirect",
        "same-origin URL redirecting to the other origin, no crossorigin",
        "script",
        "sha384-{sha384}",
        crossorigin=None,
        where="page",
        redirect="acao",
        rules=("crossorigin-missing",),
        chromium="blocked",
    ),
    # Stylesheets.
    Case("style", "stylesheet that matches", "style", "sha384-{sha384}"),
    Case(
        "style-wrong",
        "stylesheet that does not match",
        "style",
        "sha384-{bad384}",
        rules=("integrity-mismatch",),
        chromium="blocked",
    ),
    Case(
        "style-no-crossorigin",
        "cross-origin stylesheet with integrity, no crossorigin",
        "style",
        "sha384-{sha384}",
        crossorigin=None,
        rules=("crossorigin-missing",),
        chromium="blocked",
    ),
    Case(
        "style-no-acao",
        "stylesheet with crossorigin, no ACAO",
        "style",
        "sha384-{sha384}",
        acao=None,
        rules=("cors-missing",),
        chromium="blocked",
    ),
    # Where Chromium and the SRI draft disagree (rows 4 and 5).
    Case(
        "upper",
        "SHA384- (upper case) that does not match",
        "script",
        "SHA384-{bad384}",
        rules=("integrity-malformed",),
        chromium="ran",
        spec="blocked",
    ),
    Case(
        "dashed",
        "sha-384- spelling that does not match",
        "script",
        "sha-384-{bad384}",
        rules=("integrity-malformed", "integrity-mismatch"),
        chromium="blocked",
        spec="ran",
    ),
    Case(
        "dashed-good",
        "sha-384- spelling that matches",
        "script",
        "sha-384-{sha384}",
        rules=("integrity-malformed",),
        chromium="ran",
    ),
    Case(
        "base64url",
        "base64url digest that matches",
        "script",
        "sha384-{url384}",
        rules=("integrity-malformed",),
        chromium="ran",
        spec="blocked",
    ),
    Case(
        "dashed-mixed",
        "sha384-good sha-512-bad: Chromium's strongest is its sha512",
        "script",
        "sha384-{sha384} sha-512-{bad512}",
        rules=("integrity-mismatch",),
        chromium="blocked",
        spec="ran",
    ),
    Case(
        "dashed-no-crossorigin",
        "sha-384- spelling on a no-cors cross-origin script",
        "script",
        "sha-384-{sha384}",
        crossorigin=None,
        rules=("crossorigin-missing", "integrity-malformed"),
        chromium="blocked",
        spec="ran",
    ),
    Case(
        "upper-dashed",
        "SHA-384- (upper case, dashed): no engine reads it",
        "script",
        "SHA-384-{bad384}",
        rules=("integrity-malformed",),
    ),
    Case(
        "unpadded",
        "sha512 digest without its == padding",
        "script",
        "sha512-{unpad512}",
        rules=("integrity-malformed",),
        chromium="ran",
        spec="blocked",
    ),
    Case(
        "unpadded-bad",
        "unpadded sha512 digest that does not match: checked, so blocked",
        "script",
        "sha512-{unpadbad512}",
        rules=("integrity-malformed", "integrity-mismatch"),
        chromium="blocked",
    ),
    Case(
        "malformed-no-crossorigin",
        "sha256-% on a no-cors cross-origin script",
        "script",
        "sha256-%",
        crossorigin=None,
        rules=("integrity-malformed",),
        chromium="ran",
        spec="blocked",
    ),
    # Preloads.
    Case("preload-script", "preload as=script that matches", "preload-script", "sha384-{sha384}"),
    Case(
        "preload-style-bad",
        "preload as=style that does not match",
        "preload-style",
        "sha384-{bad384}",
        rules=("integrity-mismatch",),
        chromium="blocked",
    ),
    Case(
        "importmap-preload-bad",
        "modulepreload whose import-map integrity does not match",
        "importmap-preload",
        "sha384-{bad384}",
        crossorigin=None,
        rules=("integrity-mismatch",),
        chromium="blocked",
    ),
    # Integrity-Policy (row 17), on its own page.
    Case(
        "policy-missing",
        "Integrity-Policy: cross-origin script without integrity",
        "script",
        None,
        rules=("integrity-missing",),
        chromium="blocked",
        page="policy",
    ),
    Case(
        "policy-same-missing",
        "Integrity-Policy: same-origin script without integrity",
        "script",
        None,
        crossorigin=None,
        where="page",
        acao=None,
        rules=("integrity-missing",),
        chromium="blocked",
        page="policy",
    ),
    Case(
        "policy-ok",
        "Integrity-Policy: script with integrity",
        "script",
        "sha384-{sha384}",
        page="policy",
    ),
    Case(
        "policy-module",
        "Integrity-Policy: module script without integrity",
        "module",
        None,
        crossorigin=None,
        rules=("integrity-missing",),
        chromium="blocked",
        page="policy",
    ),
    Case(
        "policy-unknown-alg",
        "Integrity-Policy: no valid metadata is no integrity",
        "script",
        "foo666-{sha256}",
        rules=("integrity-missing",),
        chromium="blocked",
        page="policy",
    ),
    Case(
        "policy-malformed",
        "Integrity-Policy: sha256-% alone",
        "script",
        "sha256-%",
        rules=("integrity-malformed", "integrity-missing"),
        chromium="blocked",
        page="policy",
    ),
    Case(
        "policy-upper",
        "Integrity-Policy: SHA384- (upper case) that matches",
        "script",
        "SHA384-{sha384}",
        rules=("integrity-missing",),
        chromium="blocked",
        spec="ran",
        page="policy",
    ),
    Case(
        "policy-dashed",
        "Integrity-Policy: sha-384- that matches",
        "script",
        "sha-384-{sha384}",
        rules=("integrity-malformed",),
        chromium="ran",
        spec="blocked",
        page="policy",
    ),
    Case(
        "policy-no-crossorigin",
        "Integrity-Policy: cross-origin no-cors script with integrity",
        "script",
        "sha384-{sha384}",
        crossorigin=None,
        rules=("crossorigin-missing",),
        chromium="blocked",
        page="policy",
    ),
    Case(
        "policy-same-no-crossorigin",
        "Integrity-Policy: same-origin no-cors script with integrity",
        "script",
        "sha384-{sha384}",
        crossorigin=None,
        where="page",
        acao=None,
        rules=("crossorigin-missing",),
        chromium="blocked",
        page="policy",
    ),
    Case(
        "policy-style",
        "Integrity-Policy for scripts only: a stylesheet without integrity loads",
        "style",
        None,
        rules=("integrity-missing",),
        page="policy",
    ),
)
"""Every case; `rules` and `chromium` are what the tests assert."""

POLICY = "blocked-destinations=(script)"

INERT = ("/inert-noscript.js", "/inert-noscript.css", "/inert-template.js", "/inert-template.css")
"""Served on the cdn, referenced only inside <noscript> or <template> on the checklist page:
a browser running scripts never requests them, and sri-guard must not list them."""
NOMODULE = "/nomodule.js"
"""A `<script nomodule>` on the checklist page: Chromium never requests it; sri-guard lists
it (browsers without module support run it) and says so in its messages."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _body(case: Case) -> bytes:
    mark = f"top.document.documentElement.setAttribute('data-ran-{case.id}','1');"
    if case.is_style:
        return f"/* {case.id} */ .{case.id} {{ color: rgb(1, 2, 3); }}\n".encode()
    body = f"{mark}\n".encode()
    if "{url384}" in (case.integrity or ""):
        # A body whose sha384 has '+' or '/', so that its base64url form differs.
        for n in itertools.count():
            candidate = f"{mark} /* {n} */\n".encode()
            if set(_b64(hashlib.sha384(candidate).digest())) & {"+", "/"}:
                return candidate
    return body


def integrity_value(case: Case, body: bytes) -> str | None:
    if case.integrity is None:
        return None
    good = {alg: hashlib.new(alg, body).digest() for alg in ("sha256", "sha384", "sha512")}
    bad = {alg: hashlib.new(alg, b"other").digest() for alg in ("sha256", "sha384", "sha512")}
    return case.integrity.format(
        sha256=_b64(good["sha256"]),
        sha384=_b64(good["sha384"]),
        sha512=_b64(good["sha512"]),
        bad256=_b64(bad["sha256"]),
        bad384=_b64(bad["sha384"]),
        bad512=_b64(bad["sha512"]),
        url384=base64.urlsafe_b64encode(good["sha384"]).decode("ascii"),
        unpad512=_b64(good["sha512"]).rstrip("="),
        unpadbad512=_b64(bad["sha512"]).rstrip("="),
    )


class ChecklistSite:
    """The two pages and every resource, routed on `server` (pages) and `cdn`."""

    def __init__(self, server: Server, cdn: Server) -> None:
        self.server = server
        self.cdn = cdn
        self.bodies = {case.id: _body(case) for case in CASES}
        for case in CASES:
            self._route(case)
        for path in (*INERT, NOMODULE):
            kind = "text/css" if path.endswith(".css") else "text/javascript"
            body = f"top.document.documentElement.setAttribute('data-ran-{path[1:]}','1');"
            cdn.route(
                path, body, headers={"Content-Type": kind, "Access-Control-Allow-Origin": "*"}
            )
        server.route(
            "/checklist.html", self.html("checklist"), content_type="text/html; charset=utf-8"
        )
        server.route(
            "/policy.html",
            self.html("policy"),
            content_type="text/html; charset=utf-8",
            headers={"Integrity-Policy": POLICY},
        )

    @property
    def checklist_url(self) -> str:
        return self.server.url("/checklist.html")

    @property
    def policy_url(self) -> str:
        return self.server.url("/policy.html")

    def page_url(self, case: Case) -> str:
        return self.checklist_url if case.page == "checklist" else self.policy_url

    def url(self, case: Case) -> str:
        return (self.server if case.where == "page" else self.cdn).url(case.path)

    def _route(self, case: Case) -> None:
        body = self.bodies[case.id] + case.trailing
        headers = {"Content-Type": "text/css" if case.is_style else "text/javascript"}
        if case.acao == "*":
            headers["Access-Control-Allow-Origin"] = "*"
        elif case.acao == "origin":
            headers["Access-Control-Allow-Origin"] = self.server.origin
        if case.acac:
            headers["Access-Control-Allow-Credentials"] = "true"
        if case.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        origin = self.server if case.where == "page" else self.cdn
        if case.redirect is None:
            origin.route(case.path, body, headers=headers)
            return
        final = self.cdn.route(f"/{case.id}-final.js", body, headers=headers)
        hop = {"Location": final}
        if case.redirect == "acao":
            hop["Access-Control-Allow-Origin"] = "*"
        origin.route(case.path, handler=respond(b"", 302, hop))

    def tag(self, case: Case) -> str:
        src = self.url(case)
        if case.where == "base":
            src = case.path.rsplit("/", 1)[1]
        elif case.before_base:
            src = case.path
        attrs = f' src="{html.escape(src)}"'
        integrity = integrity_value(case, self.bodies[case.id])
        if integrity is not None and not case.element.startswith("importmap"):
            attrs += f' integrity="{html.escape(integrity)}"'
        if case.crossorigin is not None:
            attrs += f' crossorigin="{case.crossorigin}"'
        ran = f"top.document.documentElement.setAttribute('data-ran-{case.id}','1')"
        err = f"top.document.documentElement.setAttribute('data-err-{case.id}','1')"
        if case.element in ("script", "module", "importmap"):
            kind = ' type="module"' if case.element != "script" else ""
            return f'<script{kind}{attrs} onerror="{err}"></script>'
        rel = {
            "style": "stylesheet",
            "modulepreload": "modulepreload",
            "preload-script": 'preload" as="script',
            "preload-style": 'preload" as="style',
            "importmap-preload": "modulepreload",
        }[case.element]
        href = attrs.replace(" src=", " href=", 1)
        return f'<link rel="{rel}"{href} onload="{ran}" onerror="{err}">'

    def html(self, page: str) -> str:
        cases = [c for c in CASES if c.page == page]
        head = ['<!doctype html><html><head><meta charset="utf-8">']
        if page == MAIN:
            imports = {
                self.url(c): integrity_value(c, self.bodies[c.id])
                for c in cases
                if c.element.startswith("importmap")
            }
            head.append(
                '<script type="importmap">'
                + json.dumps({"imports": {}, "integrity": imports})
                + "</script>"
            )
            head += [self.tag(c) for c in cases if c.before_base]
            head.append(f'<base href="{self.cdn.url("/based/")}">')
            head.append(
                f'<noscript><script src="{self.cdn.url(INERT[0])}"></script>'
                f'<link rel="stylesheet" href="{self.cdn.url(INERT[1])}"></noscript>'
            )
        head += [self.tag(c) for c in cases if not c.before_base]
        head.append("</head><body>")
        if page == MAIN:
            head.append(f'<iframe src="{self.policy_url}"></iframe>')
            head.append(
                f'<template><script src="{self.cdn.url(INERT[2])}"></script>'
                f'<link rel="stylesheet" href="{self.cdn.url(INERT[3])}"></template>'
            )
            head.append(
                f'<script nomodule src="{self.cdn.url(NOMODULE)}" crossorigin="anonymous"></script>'
            )
        head.append("</body></html>")
        return "\n".join(head)

    def case_by_url(self) -> dict[str, Case]:
        return {self.url(c): c for c in CASES}
