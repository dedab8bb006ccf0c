"""Discovery: which references and inline scripts a browser would see in a document.

Where the behaviour is a browser's choice rather than the spec's letter (data blocks, a
`type` with parameters, `<base>` order, noscript/template, nomodule), it was checked with
headless Chromium 156 on a loopback page; the same cases run in
tests/integration/test_browser_conformance.py where they affect a verdict.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from sri_guard.discover import Page, csp_hash, discover

URL = "https://shop.example/dir/page.html"
B = "alert('Hello, world.');"
B_SHA256 = "sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng="  # sri-notes.md test vector


def urls(page: Page) -> list[str]:
    return [r.url for r in page.references]


def sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


# Broken markup


def test_an_unclosed_tag_swallows_what_follows_as_the_html_tokenizer_does() -> None:
    # The tokenizer reads `<link`, `rel` and `href` as attributes of the script, and the
    # rest as the script's raw text: only a.js is requested.
    html = b"<div><p><script src=a.js integrity='sha256-x'  <link rel=stylesheet href=b.css><script src=c.js>"
    page = discover(html, URL)
    assert urls(page) == ["https://shop.example/dir/a.js"]
    assert page.references[0].integrity == "sha256-x"


@pytest.mark.parametrize(
    "html",
    [b"", b"<", b"\x00", b"\xff\xfe\x00<script", b"<<<>>>&&&;", b"<html>" * 5000, "é" * 10],
)
def test_garbage_never_raises(html: bytes | str) -> None:
    page = discover(html, URL)
    assert page.references == () and page.base == URL


def test_nul_bytes_and_invalid_utf8_do_not_hide_later_references() -> None:
    page = discover(b"<p>\x00\xff\xc3</p><script src=z.js></script>", URL)
    assert urls(page) == ["https://shop.example/dir/z.js"]


def test_attributes_run_together_and_duplicates_keep_the_first() -> None:
    page = discover(b'<script src="a.js"integrity="sha384-x"></script>', URL)
    assert page.references[0].integrity == "sha384-x"
    page = discover(b"<script src=a.js src=b.js integrity=one integrity=two></script>", URL)
    assert (urls(page), page.references[0].integrity) == (["https://shop.example/dir/a.js"], "one")


def test_raw_text_elements_and_comments_hold_no_elements() -> None:
    html = (
        b"<!--<script src=c.js></script>--><textarea><script src=t.js></script></textarea>"
        b"<title><script src=ti.js></script></title><style>/*<script src=s.js></script>*/</style>"
        b"<xmp><script src=x.js></script></xmp>"
    )
    assert discover(html, URL).references == ()


# <base href>


def test_base_href_is_resolved_against_the_document_url() -> None:
    page = discover(b"<base href='../lib/'><script src='app.js'></script>", URL)
    assert page.base == "https://shop.example/lib/"
    assert urls(page) == ["https://shop.example/lib/app.js"]


def test_only_the_first_base_with_href_counts() -> None:
    html = b"<base target=_blank><base href='https://a.example/'><base href='https://b.example/'><script src=x.js></script>"
    assert urls(discover(html, URL)) == ["https://a.example/x.js"]


def test_a_javascript_base_leaves_the_document_url() -> None:
    html = b"<base href='javascript:alert(1)'><base href='https://b.example/'><script src=x.js></script>"
    page = discover(html, URL)
    assert page.base == URL and urls(page) == ["https://shop.example/dir/x.js"]


def test_elements_before_the_base_keep_the_document_url() -> None:
    # Chromium fetches a script or stylesheet as soon as it is parsed: a later <base> does
    # not move it.
    html = (
        b"<script src=early.js></script><link rel=stylesheet href=early.css>"
        b"<base href='https://cdn.example/v2/'><script src=late.js></script>"
    )
    assert urls(discover(html, URL)) == [
        "https://shop.example/dir/early.js",
        "https://shop.example/dir/early.css",
        "https://cdn.example/v2/late.js",
    ]


def test_src_is_trimmed_fragment_dropped_and_empty_src_skipped() -> None:
    html = (
        b"<script src=' \tx.js#top \n'></script><script src=''></script><script src='  '></script>"
    )
    assert urls(discover(html, URL)) == ["https://shop.example/dir/x.js"]


# Link headers


def test_link_header_preloads_with_integrity() -> None:
    header = (
        '</a.js>; rel=preload; as=script; integrity="sha384-x sha512-y"; crossorigin, '
        '<https://cdn.example/m.js>; rel="modulepreload"; integrity="sha256-z", '
        "</f.woff2>; rel=preload; as=font; crossorigin, </s.css>; rel=stylesheet, "
        "</st.css>; rel=preload; as=style; crossorigin=use-credentials"
    )
    # Link headers resolve against the response URL, never against <base>.
    page = discover(b"<base href='https://elsewhere.example/'>", URL, header)
    a, m, st = page.references
    assert (a.url, a.kind, a.destination, a.integrity, a.crossorigin, a.element) == (
        "https://shop.example/a.js",
        "preload",
        "script",
        "sha384-x sha512-y",
        "",
        "Link header",
    )
    assert (m.url, m.kind, m.module, m.integrity, m.cors) == (
        "https://cdn.example/m.js",
        "modulepreload",
        True,
        "sha256-z",
        True,
    )
    assert (st.url, st.destination, st.credentials) == (
        "https://shop.example/st.css",
        "style",
        True,
    )


def test_no_link_header_no_references() -> None:
    assert discover(b"", URL, None).references == ()
    assert discover(b"", URL, "garbage;;;,,<").references == ()


# Import maps


def test_import_map_integrity_entries() -> None:
    html = (
        b'<base href="https://cdn.example/lib/"><script type=importmap>{"imports": {"lodash": "./lodash.js"},'
        b' "integrity": {"./lodash.js": "sha384-a", "lodash": "sha384-b", "/abs.js": "sha384-c",'
        b' "https://x.example/y.js": "sha384-d", "../up.js": 5}}</script>'
    )
    page = discover(html, URL)
    assert [(r.url, r.integrity, r.kind, r.module, r.element) for r in page.references] == [
        ("https://cdn.example/lib/lodash.js", "sha384-a", "importmap", True, "importmap"),
        ("https://cdn.example/abs.js", "sha384-c", "importmap", True, "importmap"),
        ("https://x.example/y.js", "sha384-d", "importmap", True, "importmap"),
    ]  # bare specifiers and non-string values are not URLs browsers check
    assert page.inline_scripts == ()  # an import map is not an executable script


@pytest.mark.parametrize(
    "html",
    [
        b"<script type=importmap src=map.json></script>",
        b"<script type=importmap>{not json</script>",
        b'<script type=importmap>["integrity"]</script>',
        b'<script type=importmap>{"integrity": ["/a.js"]}</script>',
    ],
)
def test_unusable_import_maps_are_ignored(html: bytes) -> None:
    assert discover(html, URL).references == ()


# Data blocks and inline scripts


@pytest.mark.parametrize(
    "kind",
    [
        "application/json",
        "application/ld+json",
        "text/template",
        "text/plain",
        "text/javascript; charset=utf-8",  # parameters: not a JS MIME type essence match
        "speculationrules",
    ],
)
def test_data_blocks_are_neither_inline_scripts_nor_references(kind: str) -> None:
    html = f'<script type="{kind}">{{"a": 1}}</script><script type="{kind}" src=x.js></script>'
    page = discover(html, URL)
    assert page.inline_scripts == () and page.references == ()


@pytest.mark.parametrize(
    "attrs",
    [
        "",
        'type=""',
        'type=" TEXT/JavaScript "',
        "type=module",
        'language="JavaScript1.5"',
        'language=""',
    ],
)
def test_javascript_types(attrs: str) -> None:
    page = discover(f"<script {attrs}>{B}</script><script {attrs} src=a.js></script>", URL)
    assert len(page.inline_scripts) == 1 and len(page.references) == 1
    assert page.references[0].module == ("module" in attrs)


def test_language_vbscript_is_not_javascript() -> None:
    assert discover(b"<script language=vbscript>x</script>", URL).inline_scripts == ()


def test_csp_hash_of_an_inline_script() -> None:
    page = discover(f"<script>{B}</script>", URL)
    (script,) = page.inline_scripts
    assert script.csp_hash == B_SHA256 == sha256(B) == csp_hash(B)
    assert (script.size, script.module, script.text) == (23, False, B)


def test_csp_hash_is_over_the_text_as_the_parser_gives_it() -> None:
    # Raw text: entities stay literal; CR LF becomes LF in the input stream (Chromium allows
    # the script under the LF hash); non-ASCII is hashed as UTF-8.
    text = "var s = 'a &amp; b < c';\r\n// é\u2028\r\n"
    (script,) = discover(f"<script>{text}</script>".encode(), URL).inline_scripts
    normalized = text.replace("\r\n", "\n")
    assert script.text == normalized
    assert script.csp_hash == sha256(normalized) != sha256(text)
    assert script.size == len(normalized.encode("utf-8"))


def test_inline_module_scripts_are_flagged() -> None:
    (script,) = discover(b"<script type=module>import './a.js';</script>", URL).inline_scripts
    assert script.module


# Case, rel values, crossorigin


def test_upper_case_tags_attributes_and_values() -> None:
    html = (
        b"<SCRIPT SRC='/A.js' INTEGRITY='sha384-x' CROSSORIGIN=USE-CREDENTIALS></SCRIPT>"
        b"<LINK REL=StyleSheet HREF=s.css><Script Type=MODULE Src=m.js></Script>"
        b"<LINK REL=MODULEPRELOAD HREF=mp.js><LINK REL=PRELOAD AS=SCRIPT HREF=p.js>"
    )
    a, s, m, mp, p = discover(html, URL).references
    assert (a.url, a.integrity, a.credentials) == ("https://shop.example/A.js", "sha384-x", True)
    assert (s.kind, s.destination) == ("style", "style")
    assert m.module and m.cors and m.crossorigin is None
    assert mp.kind == "modulepreload" and mp.module
    assert (p.kind, p.destination) == ("preload", "script")


def test_stylesheet_rel_values() -> None:
    html = (
        b"<link rel='alternate stylesheet' href=alt.css><link rel='stylesheet alternate' href=alt2.css>"
        b"<link rel='preload' as=font href=f.woff2><link rel='preload' href=noas.js>"
        b"<link rel=icon href=i.png><link rel=' stylesheet  ' href=ok.css><link rel=stylesheet>"
    )
    assert urls(discover(html, URL)) == ["https://shop.example/dir/ok.css"]


def test_crossorigin_modes() -> None:
    html = b"<script src=a.js crossorigin></script><script src=b.js crossorigin=anonymous></script><script src=c.js></script>"
    a, b, c = discover(html, URL).references
    assert (a.crossorigin, a.cors, a.credentials) == ("", True, False)
    assert (b.crossorigin, b.cors) == ("anonymous", True)
    assert (c.crossorigin, c.cors) == (None, False)


# What a browser running scripts never loads


def test_noscript_and_template_contents_are_not_loaded() -> None:
    html = (
        b"<head><noscript><link rel=stylesheet href=ns.css><base href='https://evil.example/'>"
        b"<meta http-equiv=Content-Security-Policy content=\"script-src 'none'\"></noscript></head>"
        b"<body><noscript><script src=n.js></script><script>inline()</script></noscript>"
        b"<template><script src=t.js></script><link rel=stylesheet href=t.css><script>t()</script></template>"
        b"<script src=ok.js></script>"
    )
    page = discover(html, URL)
    assert urls(page) == ["https://shop.example/dir/ok.js"]
    assert page.inline_scripts == () and page.meta_policies == () and page.base == URL


def test_nomodule_scripts_are_listed_and_flagged() -> None:
    html = (
        b"<script nomodule src=legacy.js></script><script type=module nomodule src=m.js></script>"
    )
    legacy, module = discover(html, URL).references
    assert legacy.nomodule and not legacy.module
    assert module.module and not module.nomodule  # nomodule is ignored on module scripts


def test_meta_content_security_policy_is_collected() -> None:
    html = b"<meta http-equiv=content-security-policy content=\"script-src 'self'\"><meta http-equiv=refresh content=5>"
    assert discover(html, URL).meta_policies == ("script-src 'self'",)


def test_references_are_in_document_order_with_positions() -> None:
    html = b"<link rel=stylesheet href=1.css><script src=2.js></script><link rel=modulepreload href=3.js>"
    page = discover(html, URL, "</0.js>; rel=preload; as=script")
    assert [r.url.rsplit("/", 1)[1] for r in page.references] == ["0.js", "1.css", "2.js", "3.js"]
    assert [r.position for r in page.references] == [0, 1, 2, 3]
