"""Bad input everywhere: property-based tests of the parsers that read what others wrote.

The integrity parser, HTML discovery, the config loader and the baseline loader each take
input sri-guard does not control. None may raise anything but its documented error, and
none may turn bad input into a silent pass (a page whose scripts go unseen, a corrupted
baseline that loads as something else than it says).
"""

from __future__ import annotations

import base64
import contextlib
import json
import string
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sri_guard import baseline, config, discover, sri
from sri_guard.baseline import Baseline, Pinned
from sri_guard.errors import BaselineError, ConfigError
from sri_guard.sri import ALGORITHMS, Outcome

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- The integrity parser -------------------------------------------------------------------

ASCII_WS = " \t\n\f\r"
B64 = string.ascii_letters + string.digits + "+/=-_"


@st.composite
def integrity_tokens(draw: st.DrawFn) -> str:
    """Tokens shaped like integrity metadata, right and wrong."""
    algorithm = draw(
        st.sampled_from(["sha256", "sha384", "sha512", "SHA384", "sha-384", "md5", "", "sha1"])
    )
    digest = draw(
        st.one_of(
            st.binary(max_size=70).map(lambda b: base64.b64encode(b).decode()),
            st.binary(max_size=70).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
            st.text(alphabet=B64, max_size=90),
            st.text(max_size=10),
        )
    )
    options = draw(st.sampled_from(["", "?", "?foo", "?a=b?c"]))
    dash = draw(st.sampled_from(["-", "-", "", "--"]))
    return f"{algorithm}{dash}{digest}{options}"


integrity_values = st.one_of(
    st.text(),
    st.text(alphabet=B64 + ASCII_WS + "sha?"),
    st.lists(integrity_tokens(), max_size=6).map(" ".join),
    st.tuples(st.lists(integrity_tokens(), max_size=6), st.text(alphabet=ASCII_WS, min_size=1)).map(
        lambda t: t[1].join(t[0])
    ),
)


@SETTINGS
@given(value=integrity_values, body=st.binary(max_size=64))
@example(value="sha384-" + "A" * 100_001, body=b"")
@example(value="\x00\ud800 sha512-\u3000", body=b"")
def test_integrity_parse_and_verify_never_raise(value: str, body: bytes) -> None:
    meta = sri.parse(value)
    digests = sri.digest_bytes(body)
    for m in (meta, meta.for_chromium(), meta.without_malformed()):
        outcome = sri.verify(m, digests)
        assert outcome in Outcome
        strongest = m.strongest
        assert len({e.algorithm for e in strongest}) <= 1
        if outcome is Outcome.MATCH:
            assert any(e.digest == digests[e.algorithm] for e in strongest)
        if not m.entries:
            assert outcome is Outcome.UNCHECKED


@SETTINGS
@given(
    body=st.binary(max_size=256),
    algorithms=st.lists(st.sampled_from(ALGORITHMS), min_size=1, max_size=3, unique=True),
    separator=st.text(alphabet=ASCII_WS, min_size=1, max_size=3),
    option=st.sampled_from(["", "?ct=application/javascript", "?"]),
)
def test_formatting_round_trips(
    body: bytes, algorithms: list[str], separator: str, option: str
) -> None:
    digests = sri.digest_bytes(body)
    value = sri.format_integrity(digests, algorithms)
    meta = sri.parse(value)
    assert [(e.algorithm, e.digest) for e in meta.entries] == [(a, digests[a]) for a in algorithms]
    assert meta.ignored == () and meta.warnings == ()
    assert sri.verify(meta, digests) is Outcome.MATCH
    assert sri.verify(meta, sri.digest_bytes(body + b"\n")) is Outcome.MISMATCH
    # Whitespace between tokens and `?options` change nothing (SRI §3.3.3).
    spaced = separator.join(t + option for t in value.split(" "))
    again = sri.parse(separator + spaced + separator)
    assert [(e.algorithm, e.digest) for e in again.entries] == [
        (e.algorithm, e.digest) for e in meta.entries
    ]
    for name in algorithms:
        entry = sri.format_entry(name, digests[name])
        assert sri.parse(entry).entries[0].token == entry


# -- HTML discovery -------------------------------------------------------------------------

PAGE = "https://shop.example/checkout/"
SCRIPTS = (
    '<script src="/js/app.js"></script>\n'
    '<link rel="stylesheet" href="/css/site.css">\n'
    "<script>window.inline = 1;</script>\n"
)
EXPECTED = ["https://shop.example/js/app.js", "https://shop.example/css/site.css"]

# Labels browsers decode as something other than the page (WHATWG Encoding: "replacement").
_REPLACEMENT = {"iso-2022-kr", "csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext"}
LABELS = sorted(
    {
        "utf-8",
        "UTF-8",
        "utf8",
        "utf-16",
        "utf-16le",
        "utf-16be",
        "utf-32",
        "utf-7",
        "x-user-defined",
        "windows-1252",
        "iso-8859-1",
        "latin1",
        "shift_jis",
        "euc-jp",
        "iso-2022-jp",
        "gb18030",
        "big5",
        "koi8-r",
        "cp500",
        "cp037",
        "ebcdic-cp-us",
        "unicode",
        "ucs-2",
        "rot13",
        "base64",
        "hex",
        "zlib",
        "idna",
        "punycode",
        "raw_unicode_escape",
        "unicode_escape",
        "mbcs",
        "no-such-encoding",
        "",
    }
)


def declarations(label: str) -> list[str]:
    return [
        f'<meta charset="{label}">',
        f"<meta charset={label}>",
        f'<meta http-equiv="Content-Type" content="text/html; charset={label}">',
        f'<?xml version="1.0" encoding="{label}"?>',
    ]


def refs(page: discover.Page) -> list[str]:
    return [r.url for r in page.references]


@SETTINGS
@given(html=st.binary(max_size=4000))
@example(html=b"\x00")
@example(html=b"\xff\xfe\x00\x00<")
@example(html=b'<meta charset="\x00">')
def test_discover_accepts_any_bytes(html: bytes) -> None:
    page = discover.discover(html, PAGE)
    assert all(r.url for r in page.references)


@SETTINGS
@given(html=st.text(max_size=2000), link=st.text(max_size=300), url=st.text(max_size=40))
@example(html="<base href='http://[::1'><script src=a.js></script>", link="", url=PAGE)
@example(html="", link="<" + "a" * 10_000, url=PAGE)
@example(html="", link="<a>" + "; x=" * 5_000 + '"', url=PAGE)
def test_discover_accepts_any_text_link_header_and_url(html: str, link: str, url: str) -> None:
    discover.discover(html, url or PAGE, link)


@SETTINGS
@given(
    label=st.one_of(st.sampled_from(LABELS), st.text(max_size=12)),
    form=st.integers(0, 3),
    before=st.text(alphabet=string.ascii_letters + " \n", max_size=40),
)
@example(label="\x00\xff", form=0, before="")
@example(label="utf-16", form=0, before="")
@example(label="utf-32", form=3, before="")
@example(label="cp500", form=2, before="")
def test_an_encoding_declaration_never_hides_the_scripts(
    label: str, form: int, before: str
) -> None:
    """A browser reads an ASCII page the same whatever its meta charset says (a declared
    UTF-16 is read as UTF-8, an unknown label is ignored, an XML declaration does not
    count in HTML): sri-guard must see the same scripts, or a page could hide a script from
    it with one meta tag."""
    if label.strip().lower() in _REPLACEMENT:
        return
    # (Without quotes and angle brackets the label stays inside its declaration.)
    declaration = declarations(label.translate({ord(c): None for c in "\"'<>`"}))[form]
    html = f"<!doctype html>{declaration}<title>{before}</title>\n{SCRIPTS}"
    page = discover.discover(html.encode("utf-8", "surrogatepass"), PAGE)
    assert refs(page) == EXPECTED
    assert [s.text for s in page.inline_scripts] == ["window.inline = 1;"]


@pytest.mark.parametrize("label", ["utf-8", "windows-1252", "shift_jis", "koi8-r"])
def test_declared_ascii_compatible_encodings_are_still_used(label: str) -> None:
    """The fallback above only replaces decodings that lose ASCII: a declared legacy
    encoding still decodes the inline script text (its CSP hash depends on it)."""
    text = "window.x = 'é';" if label != "shift_jis" else "window.x = '日本';"
    if label == "koi8-r":
        text = "window.x = 'я';"
    html = f'<meta charset="{label}"><script>{text}</script>'.encode(label)
    [inline] = discover.discover(html, PAGE).inline_scripts
    assert inline.text == text


def test_a_bom_wins_over_a_declaration() -> None:
    html = ('<meta charset="windows-1252">' + SCRIPTS).encode("utf-16-le")
    assert refs(discover.discover(b"\xff\xfe" + html, PAGE)) == EXPECTED


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deeply_nested_markup(depth: int) -> None:
    html = "<div>" * depth + SCRIPTS + "</div>" * depth
    assert refs(discover.discover(html.encode(), PAGE)) == EXPECTED
    nested = "<span><b><i>" * (depth // 3) + '<script src="/deep.js"></script>'
    assert refs(discover.discover(nested, PAGE)) == ["https://shop.example/deep.js"]


def test_huge_attributes() -> None:
    src = "/" + "a" * 5_000_000 + ".js"
    html = f'<script src="{src}" integrity="{"x" * 1_000_000}" data-x="{"y" * 1_000_000}">'
    [ref] = discover.discover(html + "</script>", PAGE).references
    assert ref.url == "https://shop.example" + src
    assert sri.parse(ref.integrity).entries == ()


def test_deeply_nested_import_map() -> None:
    doc = '{"integrity": ' + "[" * 100_000 + "]" * 100_000 + "}"
    html = f'<script type="importmap">{doc}</script><script src="/a.js"></script>'
    assert refs(discover.discover(html, PAGE)) == ["https://shop.example/a.js"]


# -- Config ---------------------------------------------------------------------------------

TOP_KEYS = ["baselines", "state", "notify", "profiles", "target", "profile"]
TARGET_KEYS = [
    "url",
    "kind",
    "name",
    "policy",
    "profiles",
    "allow_hosts",
    "owner",
    "justification",
    "resource",
]
PROFILE_KEYS = ["user_agent", "accept_language", "headers", "base", "impersonate"]
KNOWN_STRINGS = [
    "https://shop.example/checkout",
    "http://[::1",
    "http://[::1]:99999/",
    "http://host:-1/",
    "ftp://x/",
    "file:///etc/passwd",
    "page",
    "file",
    "auto",
    "pin",
    "allow-change",
    "desktop",
    "iphone",
    "android",
    "chrome",
    "",
    "*",
]

toml_leaf = st.one_of(
    st.sampled_from(KNOWN_STRINGS),
    st.text(max_size=12),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.datetimes(),
    st.dates(),
    st.times(),
)
toml_keys = st.one_of(
    st.sampled_from(TOP_KEYS + TARGET_KEYS + PROFILE_KEYS + ["match", "desktop"]),
    st.text(max_size=6),
)
toml_values = st.recursive(
    toml_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(toml_keys, inner, max_size=4),
    max_leaves=12,
)
targets = st.lists(
    st.dictionaries(
        st.sampled_from(TARGET_KEYS) | st.text(max_size=4),
        toml_values
        | st.lists(st.dictionaries(st.sampled_from(["url", "policy", "owner"]), toml_values)),
        max_size=6,
    ),
    max_size=3,
)
profiles = st.dictionaries(
    st.text(max_size=6),
    st.dictionaries(st.sampled_from(PROFILE_KEYS) | st.text(max_size=4), toml_values, max_size=4),
    max_size=2,
)
config_data = st.one_of(
    st.dictionaries(toml_keys, toml_values, max_size=5),
    st.fixed_dictionaries(
        {},
        optional={
            "target": targets | toml_values,
            "profile": profiles | toml_values,
            "profiles": toml_values,
            "baselines": toml_values,
            "notify": toml_values,
        },
    ),
)


def only(error: type[Exception], call: Callable[[], object]) -> None:
    """Run `call`: it may succeed or raise `error`, nothing else."""
    with contextlib.suppress(error):
        call()


@SETTINGS
@given(data=config_data)
@example(data={"target": [{"url": "http://[::1"}]})
@example(data={"profile": {"x": {"base": ["desktop"]}}})
@example(data={"profile": {"x": {"base": {"a": 1}}}})
@example(data={"target": [{"url": "https://a.example/", "resource": [{"url": ["x"]}]}]})
def test_config_parse_raises_only_config_error(data: dict[str, Any]) -> None:
    only(ConfigError, lambda: config.parse(data, Path("sri-guard.toml")))


toml_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "[[target]]",
                "[[target.resource]]",
                "[profile.x]",
                "[profile.x.headers]",
                'url = "https://shop.example/"',
                'url = "http://[::1"',
                "kind = 'page'",
                'profiles = ["desktop", "nope"]',
                "base = ['desktop']",
                "baselines = 3",
                "x = [[[[1]]]]",
                "target = 1",
            ]
        ),
        st.text(max_size=30),
    ),
    max_size=8,
).map("\n".join)


@SETTINGS
@given(text=st.one_of(st.text(max_size=400), toml_lines))
@example(text="x = " + "[" * 100_000 + "]" * 100_000)
@example(text="x = " + "{a=" * 5_000 + "1" + "}" * 5_000)
@example(text="[[target]]\nurl = 'http://[::1'\n")
def test_config_load_raises_only_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sri-guard.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        only(ConfigError, lambda: config.load(path))


# -- Baselines ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


def _load_text(text: str) -> Baseline | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return baseline.load(path)


@SETTINGS
@given(text=st.one_of(st.text(max_size=300), json_values.map(json.dumps)))
@example(text="[" * 100_000)
@example(text='{"schema": 1, "kind": "page", "target": "x", "resources": ' + "[" * 50_000)
@example(text="1" * 5_000)
def test_baseline_load_raises_only_baseline_error(text: str) -> None:
    only(BaselineError, lambda: _load_text(text))


sri_values = st.binary(min_size=1, max_size=8).map(
    lambda b: sri.format_entry("sha384", sri.digest_bytes(b)["sha384"])
)
profile_names = st.sampled_from(["desktop", "iphone", "android"])
urls = st.sampled_from(
    ["https://cdn.example/a.js", "https://cdn.example/b.css", "https://shop.example/c.js"]
)
short = st.none() | st.text(alphabet=string.ascii_letters + " ", max_size=8)


@st.composite
def pinned(draw: st.DrawFn, kind: str | None = None) -> Pinned:
    by_profile = draw(
        st.dictionaries(profile_names, st.lists(sri_values, min_size=1, max_size=2), max_size=2)
    )
    return Pinned(
        url=draw(urls),
        kind=kind or draw(st.sampled_from(["script", "style", "preload", "modulepreload"])),
        integrity=tuple(draw(st.lists(sri_values, min_size=0 if by_profile else 1, max_size=2))),
        by_profile={k: tuple(v) for k, v in by_profile.items()},
        profiles=draw(st.none() | st.lists(profile_names, max_size=2).map(tuple)),
        declared=draw(st.none() | sri_values),
        crossorigin=draw(st.sampled_from([None, "", "anonymous"])),
        final_url=draw(st.none() | urls),
        redirects=tuple(draw(st.lists(urls, max_size=2))),
        size=draw(st.none() | st.integers(0, 10**6)),
        content_type=draw(st.none() | st.just("application/javascript")) if kind else None,
        owner=draw(short),
        justification=draw(short),
    )


headers = st.dictionaries(
    st.sampled_from(["content-security-policy", "integrity-policy", "x-frame-options"]),
    st.text(alphabet=string.ascii_letters + " ;'-", max_size=20),
    max_size=3,
)


@st.composite
def baselines(draw: st.DrawFn) -> Baseline:
    target = "https://shop.example/checkout"
    profiles = tuple(draw(st.lists(profile_names, min_size=1, max_size=3, unique=True)))
    if draw(st.booleans()):
        file = draw(pinned("file"))
        return Baseline(target, "file", profiles, file=Pinned(**{**_fields(file), "url": target}))
    page = draw(pinned("page"))
    resources = draw(st.lists(pinned(), max_size=3, unique_by=lambda p: p.url))
    return Baseline(
        target,
        "page",
        profiles,
        page=Pinned(**{**_fields(page), "url": target, "integrity": ()}),
        resources=tuple(sorted(resources, key=lambda p: p.url)),
        inline=tuple(sorted(draw(st.lists(sri_values, max_size=2)))),
        headers=draw(headers),
        headers_by_profile=draw(st.dictionaries(profile_names, headers, max_size=1)),
    )


def _fields(p: Pinned) -> dict[str, Any]:
    return {name: getattr(p, name) for name in Pinned.__slots__}


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document a mutation can hit."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    doc = json.loads(json.dumps(doc))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


_OPTIONAL_EMPTY = {
    "headers",
    "inline_scripts",
    "redirects",
    "integrity_by_profile",
    "inline_scripts_by_profile",
    "headers_by_profile",
}


def _canon(doc: Any, key: Any = None) -> Any:
    """A document as the loader is documented to read it: absent and null are the same, an
    empty optional collection is absent, and lists kept sorted are compared sorted."""
    if isinstance(doc, dict):
        out = {}
        for k, v in doc.items():
            if v is None or (k in _OPTIONAL_EMPTY and v in ([], {})):
                continue
            out[k] = _canon(v, k)
        if key is None:
            out.setdefault("profiles", [])
        return out
    if isinstance(doc, list):
        items = [_canon(v, "item") for v in doc]
        if key in ("resources", "inline_scripts"):
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return items
    return doc


@SETTINGS
@given(
    original=baselines(),
    data=st.data(),
    replacement=json_values | sri_values | urls | profile_names,
    delete=st.booleans(),
)
def test_a_mutated_baseline_loads_as_written_or_not_at_all(
    original: Baseline, data: st.DataObject, replacement: Any, delete: bool
) -> None:
    """Never a silent pass: a baseline edited (or corrupted) anywhere either raises
    BaselineError or loads to exactly what the file says (nothing coerced or dropped)."""
    text = baseline.to_json(original)
    assert _load_text(text) == original  # the unmutated round trip
    doc = json.loads(text)
    path = data.draw(st.sampled_from(_paths(doc)))
    mutated = _mutate(doc, path, replacement, delete)
    try:
        loaded = _load_text(json.dumps(mutated))
    except BaselineError:
        return
    assert loaded is not None
    assert _canon(json.loads(baseline.to_json(loaded))) == _canon(mutated)


def test_a_file_baseline_relabelled_as_a_page_is_refused() -> None:
    """Read as a page, a hosted file's baseline would approve any bytes (no subresources to
    compare): the loader must refuse it rather than pass every check."""
    file = Pinned("https://cdn.example/sdk.js", "file", (sri.format_entry("sha384", b"x" * 48),))
    doc = json.loads(baseline.to_json(Baseline(file.url, "file", ("desktop",), file=file)))
    doc["kind"] = "page"
    with pytest.raises(BaselineError, match="page"):
        _load_text(json.dumps(doc))
