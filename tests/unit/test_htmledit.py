"""The tag scanner and surgical editor against the HTML tokenizer's tricky cases."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sri_guard import htmledit
from sri_guard.htmledit import Edit, apply, scan, set_attributes


def srcs(text: str) -> list[str]:
    """The src/href of every script and link a browser would create, in order."""
    found = []
    for tag in scan(text, ("script", "link")):
        if not tag.foreign:
            found.append(tag.value("src") or tag.value("href") or "")
    return found


def test_attributes_with_every_quoting_style_case_and_line_break() -> None:
    text = "<SCRIPT\n  SRC='a.js'\n\tdefer type=module data-x=\"1\" async\n></SCRIPT>"
    (tag,) = scan(text)
    assert tag.name == "script" and tag.start == 0 and tag.end == text.index("></") + 1
    names = [(a.name, a.raw_name, a.value, a.quote) for a in tag.attributes]
    assert names == [
        ("src", "SRC", "a.js", "'"),
        ("defer", "defer", None, ""),
        ("type", "type", "module", ""),
        ("data-x", "data-x", "1", '"'),
        ("async", "async", None, ""),
    ]
    src = tag.attributes[0]
    assert text[src.start : src.end] == "SRC='a.js'"
    assert text[src.value_start : src.value_end] == "a.js"
    assert tag.value("defer") == "" and tag.value("nope") is None


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<!-- <script src=a.js></script> --><script src=b.js>", ["b.js"]),
        ("<!--><script src=a.js>", ["a.js"]),  # abrupt empty comment
        ("<!---><script src=a.js>", ["a.js"]),
        ("<!-- x --!><script src=a.js>", ["a.js"]),  # --!> ends a comment
        ("<!--!><script src=a.js>-->", []),  # '!' then '>' does not
        ("<!-- <!-- nested --> <script src=a.js>", ["a.js"]),
        ("<!DOCTYPE html><?xml version='1.0'?><script src=a.js>", ["a.js"]),
        ("<![CDATA[ x ]]><script src=a.js>", ["a.js"]),  # bogus comment in HTML
        ("<![CDATA[ <script src=a.js> ]]>", []),  # ...that ends at the first '>'
        ("<svg><![CDATA[ > <script src=a.js> ]]></svg><script src=b.js>", ["b.js"]),
        ('</div title=">"><script src=a.js>', ["a.js"]),  # quoted '>' in an end tag
        ("</ x><script src=a.js>", ["a.js"]),  # bogus comment
        ("a < b <3 <script src=a.js>", ["a.js"]),
        ("<script src=a.js", []),  # EOF in tag: dropped
        ("<script src='a.js>", []),
    ],
)
def test_markup_that_is_not_a_tag(html: str, expected: list[str]) -> None:
    assert srcs(html) == expected


def test_inline_script_text_is_not_markup() -> None:
    text = (
        '<script>var s = "<not a tag>"; var t = "<script src=x.js>";'
        " if (a </script b) {}</script><link rel=stylesheet href=s.css>"
    )
    # `</script ` (space) ends the element, as in browsers: everything before is text.
    assert srcs(text) == ["", "s.css"]
    (script, _) = scan(text, ("script", "link"))
    assert script.content is not None
    assert text[script.content[0] : script.content[1]].endswith("(a ")


def test_script_data_escape_states() -> None:
    # <!-- then <script> enters "double escaped": </script> there does not end the element.
    text = "<script><!-- <script>x</script> <link href=in.css> --></script><link href=out.css>"
    assert srcs(text) == ["", "out.css"]
    # In the (single) escaped state </script> does end it.
    assert srcs("<script><!-- </script><link href=y.css>") == ["", "y.css"]
    # "-->" needs its two dashes together.
    assert srcs("<script><!-- -x- ></script><link href=z.css>") == ["", "z.css"]
    # "<!-->" is back to plain script data at once: the inner "<script>" is just text.
    assert srcs("<script><!--><script></script><link href=w.css>") == ["", "w.css"]


@pytest.mark.parametrize("element", ["style", "textarea", "title", "xmp", "iframe", "noembed"])
def test_raw_text_elements_hide_tags(element: str) -> None:
    text = f"<{element}><script src=no.js></script></{element.upper()} ><script src=yes.js>"
    assert srcs(text) == ["yes.js"]


def test_plaintext_swallows_the_rest() -> None:
    assert srcs("<script src=a.js></script><plaintext><script src=b.js>") == ["a.js"]


def test_foreign_content() -> None:
    text = (
        '<svg><script href="svg.js"></script><style><script src=in-svg-style.js></style>'
        '<foreignObject><script src="html.js"></script><style><script src=no.js></style>'
        "</foreignObject></svg><math><mi><link href=mi.css></mi></math>"
        "<svg><p><script src=breakout.js></script>"
    )
    tags = list(scan(text, ("script", "link")))
    html_tags = [t.value("src") or t.value("href") for t in tags if not t.foreign]
    assert html_tags == ["html.js", "mi.css", "breakout.js"]
    assert [t.value("href") or t.value("src") for t in tags if t.foreign] == [
        "svg.js",
        "in-svg-style.js",
    ]


def test_character_references_in_attribute_values() -> None:
    unescape = htmledit.unescape_attribute
    assert unescape("a.js?x=1&amp;y=2") == "a.js?x=1&y=2"
    assert unescape("&#x2F;a&#47;b") == "/a/b"
    assert unescape("?a=1&copy=2") == "?a=1&copy=2"  # legacy ref before '=' stays
    assert unescape("?a=1&copy2") == "?a=1&copy2"
    assert unescape("&copy x") == "© x"
    assert unescape("&notin; &notit;") == "∉ &notit;"


def test_duplicate_attribute_first_wins() -> None:
    (tag,) = scan('<script src="a.js" src="b.js">')
    assert tag.value("src") == "a.js" and len(tag.attributes) == 2


def edited(text: str, values: dict[str, str]) -> str:
    (tag,) = scan(text, ("script", "link"))
    return apply(text, set_attributes(tag, values))


def test_new_attributes_go_after_the_last_attribute_in_its_quote_style() -> None:
    values = {"integrity": "sha384-X", "crossorigin": "anonymous"}
    assert edited('<script src="a.js"></script>', values) == (
        '<script src="a.js" integrity="sha384-X" crossorigin="anonymous"></script>'
    )
    assert edited("<link rel=stylesheet href='s.css' />", values) == (
        "<link rel=stylesheet href='s.css' integrity='sha384-X' crossorigin='anonymous' />"
    )
    assert edited("<link rel=stylesheet href=s.css>", values) == (
        '<link rel=stylesheet href=s.css integrity="sha384-X" crossorigin="anonymous">'
    )
    assert edited('<SCRIPT SRC="A.JS">', {"integrity": "sha384-X"}) == (
        '<SCRIPT SRC="A.JS" INTEGRITY="sha384-X">'
    )
    assert edited('<script\n  src="a.js"\n>', {"integrity": "sha384-X"}) == (
        '<script\n  src="a.js" integrity="sha384-X"\n>'
    )
    # `name=` before '>': inserted after it, the text would become its value.
    assert edited("<script src=a.js defer=>", {"integrity": "sha384-X"}) == (
        '<script src=a.js integrity="sha384-X" defer=>'
    )


def test_existing_values_are_replaced_in_place() -> None:
    assert edited("<script integrity='old' src=a.js>", {"integrity": "sha384-new"}) == (
        "<script integrity='sha384-new' src=a.js>"
    )
    assert edited("<script integrity=old src=a.js>", {"integrity": "sha384-new"}) == (
        "<script integrity=sha384-new src=a.js>"
    )
    assert edited("<script integrity=old src=a.js>", {"integrity": "sha256-a sha384-b"}) == (
        '<script integrity="sha256-a sha384-b" src=a.js>'
    )
    assert edited("<script integrity src=a.js>", {"integrity": "sha384-new"}) == (
        '<script integrity="sha384-new" src=a.js>'
    )
    assert edited('<script src=a.js integrity="" crossorigin>', {"integrity": "sha384-n"}) == (
        '<script src=a.js integrity="sha384-n" crossorigin>'
    )


def test_apply_refuses_overlapping_edits() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        apply("abcdef", [Edit(1, 4, "x"), Edit(3, 5, "y")])
    assert apply("abcdef", [Edit(4, 4, "!"), Edit(0, 1, "A")]) == "Abcd!ef"


def test_undecodable_bytes_round_trip() -> None:
    raw = b"<p>\xff\xfe caf\xc3\xa9</p><script src='a.js'></script>"
    text = raw.decode("utf-8", "surrogateescape")
    out = edited(text, {"integrity": "sha384-X"})
    assert out.encode("utf-8", "surrogateescape") == raw.replace(
        b"'a.js'", b"'a.js' integrity='sha384-X'"
    )


FRAGMENTS = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<!-- c -->",
        "<!--",
        "-->",
        "text ",
        "<br/>",
        '"',
        "'",
        "<style>x</style>",
        "<script>var a='<b>';</script>",
        "&amp;",
        "\n",
        "<svg>",
        "</svg>",
    ]
)
TAGS = st.sampled_from(
    [
        '<script src="a.js"></script>',
        "<SCRIPT SRC='A.JS'></SCRIPT>",
        "<link rel=stylesheet href=s.css>",
        "<link\n rel='preload' as=script href=\"p.js\"/>",
    ]
)


@given(st.lists(st.one_of(FRAGMENTS, TAGS), max_size=12))
def test_removing_added_attributes_gives_back_the_original(parts: list[str]) -> None:
    text = "".join(parts)
    edits = []
    for tag in scan(text, ("script", "link")):
        if tag.get("src") or tag.get("href"):
            edits.extend(set_attributes(tag, {"integrity": "sha384-Q", "crossorigin": "anonymous"}))
    out = apply(text, edits)
    pattern = (
        r" (?:integrity|INTEGRITY)=([\"'])sha384-Q\1 (?:crossorigin|CROSSORIGIN)=\1anonymous\1"
    )
    assert re.sub(pattern, "", out) == text
    assert len(re.findall(pattern, out)) == len(edits)
