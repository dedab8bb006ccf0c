"""The build-site model: URL resolution, the web root boundary, reference extraction,
import-map layout, and when `stamp` leaves an existing integrity alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sri_guard import sri
from sri_guard.build import (
    DEFAULT_BASE_URL,
    Local,
    Refused,
    Remote,
    Site,
    dump_like,
    read_page,
    remove_dot_segments,
    resolve,
)
from sri_guard.commands.stamp import up_to_date
from sri_guard.errors import UsageError

PAGE = "https://build.invalid/docs/index.html"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("app.js", ("https://build.invalid/docs/app.js", False)),
        ("/assets/app.js?v=1#top", ("https://build.invalid/assets/app.js?v=1", False)),
        ("  ./a\n.js\t", ("https://build.invalid/docs/a.js", False)),
        ("..\\x.js", ("https://build.invalid/x.js", False)),
        ("../../etc/passwd", ("https://build.invalid/etc/passwd", True)),
        ("%2e%2e/%2E%2e/x.js", ("https://build.invalid/x.js", True)),
        ("//cdn.example/lib.js", ("https://cdn.example/lib.js", False)),
        ("https://cdn.example/a/../lib.js", ("https://cdn.example/lib.js", False)),
        ("data:text/javascript,1", ("data:text/javascript,1", False)),
        ("", None),
        ("   ", None),
        ("http://[bad", None),
    ],
)
def test_resolve_like_a_browser(raw: str, expected: tuple[str, bool] | None) -> None:
    assert resolve(PAGE, raw) == expected


def test_remove_dot_segments() -> None:
    assert remove_dot_segments("/a/b/../c/./d") == ("/a/c/d", False)
    assert remove_dot_segments("/a/..") == ("/", False)
    assert remove_dot_segments("/..") == ("/", True)
    assert remove_dot_segments("/a/.") == ("/a/", False)


def test_site_maps_urls_under_the_base_to_files_under_the_root(tmp_path: Path) -> None:
    build = tmp_path / "site" / "docs"
    build.mkdir(parents=True)
    site = Site.create(build, root=tmp_path / "site", base_url="https://example.com/")
    assert site.page_url(build / "a b.html") == "https://example.com/docs/a%20b.html"
    assert site.locate("https://example.com/docs/x.js") == Local(tmp_path / "site/docs/x.js")
    assert site.locate("https://example.com/x%20y.js") == Local(tmp_path / "site/x y.js")
    assert site.locate("https://cdn.example/x.js") is None
    assert site.locate("http://example.com/x.js") is None  # another origin (scheme)
    refused = site.locate("https://example.com/a%2F..%2F..%2Fsecret")
    assert isinstance(refused, Refused) and "leaves the web root" in refused.reason

    mounted = Site.create(build, base_url="https://example.com/docs")
    assert mounted.base_url == "https://example.com/docs/"
    assert mounted.locate("https://example.com/docs/app.js") == Local(build / "app.js")
    outside = mounted.locate("https://example.com/other/app.js")
    assert isinstance(outside, Refused) and "outside the build" in outside.reason


def test_site_refuses_symbolic_links_out_of_the_root(tmp_path: Path) -> None:
    (tmp_path / "secret.js").write_text("secret")
    build = tmp_path / "dist"
    build.mkdir()
    os.symlink(tmp_path / "secret.js", build / "link.js")
    site = Site.create(build)
    refused = site.locate(DEFAULT_BASE_URL + "link.js")
    assert isinstance(refused, Refused) and "symbolic link" in refused.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"build_dir": "missing"}, "missing: no such directory"),
        ({"build_dir": "file.html"}, "not a directory"),
        ({"root": "dist/sub"}, "does not contain the build directory"),
        ({"base_url": "ftp://example.com/"}, "give an http(s) URL with a host"),
        ({"base_url": "https://example.com/?q"}, "no query or fragment"),
        ({"base_url": "https://example.com:99999/"}, "invalid port"),
    ],
)
def test_site_usage_errors(tmp_path: Path, kwargs: dict[str, str], message: str) -> None:
    (tmp_path / "dist" / "sub").mkdir(parents=True)
    (tmp_path / "file.html").write_text("")
    build = tmp_path / kwargs.pop("build_dir", "dist")
    root = kwargs.get("root")
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Site.create(
            build,
            root=tmp_path / root if root else None,
            base_url=kwargs.get("base_url"),
        )


def test_read_page_finds_what_browsers_integrity_check(tmp_path: Path) -> None:
    site = Site.create(tmp_path, base_url="https://example.com/")
    html = """<!doctype html>
<base href="/static/">
<SCRIPT SRC="app.js"></SCRIPT>
<script type="module" src="m.js"></script>
<script type="text/template" src="t.js"></script>
<script type="application/ld+json">{}</script>
<script language="javascript" src="lang.js"></script>
<link rel="stylesheet" href="s.css">
<link rel="alternate stylesheet" href="alt.css">
<link rel="preload" as="script" href="p.js">
<link rel="preload" as="image" href="i.png">
<link rel="modulepreload" href="mp.js" crossorigin>
<link rel="icon" href="favicon.ico">
<script src="data:text/javascript,1"></script>
<script src="https://cdn.example/lib.js" integrity="sha384-x"></script>
<svg><script href="svg.js"></script></svg>
<script type="importmap">
{"imports": {"a": "/static/a.js", "lib/": "/static/lib/", "bad": "bare.js",
  "cdn": "https://cdn.example/c.js"},
 "scopes": {"/x/": {"a": "./b.js"}},
 "integrity": {"/static/a.js": "sha384-old", "nonsense": "sha384-y"}}
</script>
"""
    page = read_page(site, tmp_path / "index.html", html.encode())
    assert page.base == "https://example.com/static/"
    seen = [(r.ref.kind, r.ref.raw, r.ref.module, r.ref.line) for r in page.refs]
    assert seen == [
        ("script", "app.js", False, 3),
        ("script", "m.js", True, 4),
        ("script", "lang.js", False, 7),
        ("style", "s.css", False, 8),
        ("preload", "p.js", False, 10),
        ("modulepreload", "mp.js", True, 12),
        ("script", "https://cdn.example/lib.js", False, 15),
    ]
    assert page.refs[0].target == Local(tmp_path / "static" / "app.js")
    assert page.refs[-1].target == Remote("https://cdn.example/lib.js")
    assert page.refs[-1].ref.integrity == "sha384-x"
    assert page.refs[5].ref.crossorigin == ""
    (import_map,) = page.import_maps
    assert [(m.address, m.url) for m in import_map.modules] == [
        ("/static/a.js", "https://example.com/static/a.js"),
        ("https://cdn.example/c.js", "https://cdn.example/c.js"),
        ("./b.js", "https://example.com/static/b.js"),
    ]
    assert [(e.ref.raw, e.ref.integrity) for e in import_map.entries] == [
        ("/static/a.js", "sha384-old")
    ]


def test_read_page_keeps_a_broken_import_map_as_an_error(tmp_path: Path) -> None:
    site = Site.create(tmp_path)
    page = read_page(site, tmp_path / "i.html", b'<script type="importmap">{oops</script>')
    assert page.import_maps[0].data is None
    assert (page.import_maps[0].error or "").startswith("not valid JSON")


def test_dump_like_keeps_the_layout() -> None:
    data = {"imports": {"a": "/a.js"}, "integrity": {"/a.js": "sha384-Q"}}
    original = '\n    {\n        "imports": {\n            "a": "/a.js"\n        }\n    }\n  '
    out = dump_like(original, data)
    assert out.startswith('\n    {\n        "imports": {\n            "a": "/a.js"\n        },')
    assert out.endswith("\n        }\n    }\n  ")
    assert json.loads(out) == data
    assert dump_like('{"imports":{"a":"/a.js"}}', data) == json.dumps(data, separators=(",", ":"))
    assert dump_like('{"imports": {}}', data) == json.dumps(data)
    tabbed = dump_like('{\n\t"imports": {}\n}', data)
    assert '\n\t"imports": {\n\t\t"a"' in tabbed
    # A URL that would close the element is escaped (still the same JSON).
    tricky = {"imports": {"x": "/</script><!--.js"}}
    escaped = dump_like("{}", tricky)
    assert "</script" not in escaped and "<!--" not in escaped
    assert json.loads(escaped) == tricky


B = b"alert('Hello, world.');"


@pytest.mark.parametrize(
    ("declared", "algorithms", "expected"),
    [
        (sri.format_integrity(sri.digest_bytes(B), ["sha384"]), ["sha384"], True),
        (sri.format_integrity(sri.digest_bytes(B), ["sha384", "sha512"]), ["sha384"], True),
        (sri.format_integrity(sri.digest_bytes(B), ["sha256"]), ["sha384"], False),
        (sri.format_integrity(sri.digest_bytes(B + b"x"), ["sha384"]), ["sha384"], False),
        # A correct strongest digest beside a stale weaker one: replaced (all must match).
        (
            sri.format_integrity(sri.digest_bytes(B), ["sha384"])
            + " "
            + sri.format_integrity(sri.digest_bytes(b"old"), ["sha256"]),
            ["sha384"],
            False,
        ),
        ("md5-abc " + sri.format_integrity(sri.digest_bytes(B), ["sha384"]), ["sha384"], False),
        (
            sri.format_integrity(sri.digest_bytes(B), ["sha384"]).replace("+", "-").rstrip("="),
            ["sha384"],
            False,
        ),  # base64url: browsers differ, so rewritten in standard form
        ("", ["sha384"], False),
    ],
)
def test_up_to_date(declared: str, algorithms: list[str], expected: bool) -> None:
    assert up_to_date(sri.parse(declared), sri.digest_bytes(B), algorithms) is expected
