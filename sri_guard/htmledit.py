"""Find start tags in raw HTML and change their attributes without re-serializing the file.

A tokenizer, not a parser: it follows the WHATWG HTML tokenizer (HTML §13.2.5) just far
enough to know where each start tag and each of its attributes is, and skips what a browser
does not read as markup: comments (with their abrupt `<!-->` and `--!>` endings), the
doctype, processing instructions and other bogus comments, the text of `<script>` (script
data with its escape states, §13.2.5.4-§13.2.5.31), `<style>`, `<xmp>`, `<iframe>`,
`<noembed>`, `<noframes>` (raw text), `<textarea>` and `<title>` (RCDATA), CDATA sections in
SVG and MathML, and everything after `<plaintext>`. Of tree construction it tracks only
foreign content (§13.2.6.5), so that an SVG `<script>` is told apart from an HTML one.

Offsets index the `str` given; decode files as UTF-8 with `surrogateescape` so that every
byte outside an edit round-trips unchanged. An edit is an (start, end, text) replacement;
`apply` makes them from the end of the text so earlier offsets stay valid.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from html.entities import html5

_WS = "\t\n\f\r "
_SKIP_WS = re.compile(r"[\t\n\f\r ]*")
_TAG_NAME_END = re.compile(r"[\t\n\f\r />]")
# §13.2.5.32: a name may start with '=' (a parse error, but part of the name).
_ATTR_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r /=>]*")
_UNQUOTED_VALUE = re.compile(r"[^\t\n\f\r >]*")
_ASCII_ALPHA = re.compile(r"[A-Za-z]")
_SCRIPT_SPECIAL = re.compile(r"[-<>]")
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;?)")

_RAWTEXT = frozenset({"style", "xmp", "iframe", "noembed", "noframes", "textarea", "title"})
"""Elements whose text runs to the matching end tag (RAWTEXT and RCDATA alike: no tags)."""

# §13.2.6.5: these start tags end foreign content ("breakout" elements).
_BREAKOUT = frozenset(
    [
        "b",
        "big",
        "blockquote",
        "body",
        "br",
        "center",
        "code",
        "dd",
        "div",
        "dl",
        "dt",
        "em",
        "embed",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "hr",
        "i",
        "img",
        "li",
        "listing",
        "menu",
        "meta",
        "nobr",
        "ol",
        "p",
        "pre",
        "ruby",
        "s",
        "small",
        "span",
        "strong",
        "strike",
        "sub",
        "sup",
        "table",
        "tt",
        "u",
        "ul",
        "var",
    ]
)
# §13.2.6.5 "HTML integration point" and "MathML text integration point": HTML inside.
_INTEGRATION = frozenset({"foreignobject", "desc", "title", "mi", "mo", "mn", "ms", "mtext"})


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of a start tag, as written."""

    name: str
    """The name, ASCII lower-cased (HTML attribute names are case-insensitive)."""
    raw_name: str
    """The name as written."""
    value: str | None
    """The value with character references decoded; None when written without `=`."""
    quote: str
    """`"`, `'`, or '' for an unquoted value or no value."""
    start: int
    """Offset of the first character of the name."""
    end: int
    """Offset just past the attribute (past the closing quote, if any)."""
    value_start: int
    """Offset of the value's first character, inside the quotes (== end if no value)."""
    value_end: int
    """Offset just past the value's last character, inside the quotes."""


@dataclass(frozen=True, slots=True)
class Tag:
    """One start tag, with where everything in it is."""

    name: str
    """The tag name, ASCII lower-cased."""
    start: int
    """Offset of the `<`."""
    end: int
    """Offset just past the `>`."""
    attributes: tuple[Attribute, ...]
    """Every attribute in order, duplicates included (a browser keeps the first)."""
    self_closing: bool
    """True when the tag ends with `/>` (HTML ignores it on non-void elements)."""
    foreign: bool
    """True inside SVG or MathML: a `<script>` there is not an HTML script."""
    content: tuple[int, int] | None = None
    """For raw-text elements (`<script>`, `<style>`, ...): the span of their text."""

    def get(self, name: str) -> Attribute | None:
        """The attribute a browser uses for `name` (the first one written), or None."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    def value(self, name: str) -> str | None:
        """The decoded value of attribute `name`: '' when written without a value, None
        when absent."""
        attribute = self.get(name)
        if attribute is None:
            return None
        return attribute.value if attribute.value is not None else ""


@dataclass(frozen=True, slots=True, order=True)
class Edit:
    """Replace text[start:end] with `text` (start == end inserts)."""

    start: int
    """Offset where the replaced span starts."""
    end: int
    """Offset just past the replaced span."""
    text: str
    """The replacement."""


def unescape_attribute(raw: str) -> str:
    """Decode character references as HTML does in attribute values (§13.2.5.72-80).

    Unlike text, a legacy named reference without `;` followed by `=` or an alphanumeric is
    left alone in an attribute (`?a=1&copy=2` keeps `&copy`).
    """
    if "&" not in raw:
        return raw

    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        if body.startswith("#"):
            return html.unescape(match.group(0))
        if body.endswith(";") and body in html5:
            return html5[body]
        name = body.rstrip(";")
        for length in range(len(name), 0, -1):
            prefix = name[:length]
            if prefix in html5:  # html5 holds legacy names without ';' as keys too
                following = body[length : length + 1] or raw[match.end() : match.end() + 1]
                if following == "=" or following.isalnum():
                    return match.group(0)
                return html5[prefix] + body[length:]
        return match.group(0)

    return _CHARREF.sub(replace, raw)


def _skip_ws(text: str, pos: int) -> int:
    match = _SKIP_WS.match(text, pos)
    return match.end() if match else pos


def _read_tag(text: str, at: int, name_start: int) -> tuple[str, list[Attribute], bool, int] | None:
    """Tokenize one tag from its name (§13.2.5.8-§13.2.5.40).

    Returns (raw name, attributes, self-closing, end offset), or None if the file ends
    inside the tag (a browser then drops the tag: eof-in-tag).
    """
    n = len(text)
    match = _TAG_NAME_END.search(text, name_start)
    if match is None:
        return None
    raw_name = text[name_start : match.start()]
    pos = match.start()
    attributes: list[Attribute] = []
    while True:
        pos = _skip_ws(text, pos)
        if pos >= n:
            return None
        char = text[pos]
        if char == ">":
            return raw_name, attributes, False, pos + 1
        if char == "/":
            if pos + 1 < n and text[pos + 1] == ">":
                return raw_name, attributes, True, pos + 2
            pos += 1  # unexpected-solidus-in-tag: ignored
            continue
        name_match = _ATTR_NAME.match(text, pos)
        assert name_match is not None
        attr_start = pos
        attr_raw_name = name_match.group()
        pos = name_match.end()
        after = _skip_ws(text, pos)
        if after < n and text[after] == "=":
            value_at = _skip_ws(text, after + 1)
            if value_at >= n:
                return None
            quote = text[value_at]
            if quote in "\"'":
                close = text.find(quote, value_at + 1)
                if close < 0:
                    return None
                value_start, value_end, end = value_at + 1, close, close + 1
            else:
                quote = ""
                unquoted = _UNQUOTED_VALUE.match(text, value_at)
                value_end = unquoted.end() if unquoted else value_at
                if value_end >= n:
                    return None
                value_start, end = value_at, value_end
            raw_value = text[value_start:value_end]
            value: str | None = unescape_attribute(raw_value)
        else:
            quote, value, end = "", None, pos
            value_start = value_end = pos
        attributes.append(
            Attribute(
                attr_raw_name.lower(),
                attr_raw_name,
                value,
                quote,
                attr_start,
                end,
                value_start,
                value_end,
            )
        )
        pos = end


def _end_of_rawtext(text: str, name: str, pos: int) -> int:
    """Offset of the `</name` that ends a raw-text element (§13.2.5.12 "appropriate end
    tag"), or len(text)."""
    pattern = _end_tag_pattern(name)
    match = pattern.search(text, pos)
    return match.start() if match else len(text)


_END_TAG_PATTERNS: dict[str, re.Pattern[str]] = {}


def _end_tag_pattern(name: str) -> re.Pattern[str]:
    pattern = _END_TAG_PATTERNS.get(name)
    if pattern is None:
        pattern = re.compile(rf"</{re.escape(name)}(?=[\t\n\f\r />])", re.IGNORECASE)
        _END_TAG_PATTERNS[name] = pattern
    return pattern


def _script_tag_at(text: str, pos: int, end_tag: bool) -> int:
    """If `<script` (or `</script`) followed by whitespace, `/` or `>` starts at pos, the
    offset past the name; else -1."""
    start = pos + (2 if end_tag else 1)
    stop = start + 6
    if text[start:stop].lower() == "script" and stop < len(text) and text[stop] in "\t\n\f\r />":
        return stop
    return -1


def _end_of_script(text: str, pos: int) -> int:
    """Offset of the `</script` ending script data, following its escape states
    (§13.2.5.4 script data, §13.2.5.20-§13.2.5.31 escaped and double-escaped), or len(text).

    Inside `<!--`, a `<script>` starts a "double-escaped" run in which `</script>` does not
    end the element; `-->` ends the escape.
    """
    n = len(text)
    data, escaped, double = 0, 1, 2
    state = data
    dashes = 0  # consecutive '-' just seen in the escaped states
    while pos < n:
        if state == data:
            pos = text.find("<", pos)
            if pos < 0:
                return n
            if text.startswith("</", pos) and _script_tag_at(text, pos, end_tag=True) >= 0:
                return pos
            if text.startswith("<!--", pos):
                # §13.2.5.18-19: "<!--" enters the escaped state; its dashes count for "-->".
                state, dashes, pos = escaped, 2, pos + 4
                continue
            pos += 1
            continue
        match = _SCRIPT_SPECIAL.search(text, pos)
        if match is None:
            return n
        if match.start() > pos:
            dashes = 0  # other characters in between: "-" and "->" no longer close
        pos = match.start()
        char = text[pos]
        if char == "-":
            dashes += 1
            pos += 1
            continue
        if char == ">":
            if dashes >= 2:
                state = data
            dashes = 0
            pos += 1
            continue
        # '<'
        dashes = 0
        if state == escaped:
            if text.startswith("</", pos) and _script_tag_at(text, pos, end_tag=True) >= 0:
                return pos
            after = _script_tag_at(text, pos, end_tag=False)
            if after >= 0:
                state, pos = double, after
                continue
        else:
            after = _script_tag_at(text, pos, end_tag=True) if text.startswith("</", pos) else -1
            if after >= 0:
                state, pos = escaped, after
                continue
        pos += 1
    return n


def scan(text: str, names: Iterable[str] | None = None) -> Iterator[Tag]:
    """Yield the start tags of `text` in document order (only those in `names`, if given).

    Tags inside comments, raw text and CDATA are not tags and are never yielded.
    """
    wanted = frozenset(names) if names is not None else None
    n = len(text)
    pos = 0
    # Open foreign (svg/math) elements and integration points: (name, content is foreign).
    stack: list[tuple[str, bool]] = []
    while True:
        pos = text.find("<", pos)
        if pos < 0 or pos + 1 >= n:
            return
        nxt = text[pos + 1]
        foreign = bool(stack) and stack[-1][1]
        if nxt == "!":
            if text.startswith("<!--", pos):
                # §13.2.5.43-52: "<!-->" and "<!--->" close at once; "--!>" closes too.
                close = text.find("-->", pos + 2)
                bang = text.find("--!>", pos + 4)
                ends = [e + 3 for e in (close,) if e >= 0] + [b + 4 for b in (bang,) if b >= 0]
                pos = min(ends) if ends else n
            elif foreign and text.startswith("<![CDATA[", pos):
                close = text.find("]]>", pos + 9)
                pos = close + 3 if close >= 0 else n
            else:  # doctype, or a bogus comment (CDATA in HTML content is one, too)
                close = text.find(">", pos + 2)
                pos = close + 1 if close >= 0 else n
            continue
        if nxt == "?":
            close = text.find(">", pos + 2)
            pos = close + 1 if close >= 0 else n
            continue
        if nxt == "/":
            if pos + 2 < n and _ASCII_ALPHA.match(text, pos + 2):
                parsed = _read_tag(text, pos, pos + 2)
                if parsed is None:
                    return
                raw_name, _, _, end = parsed
                name = raw_name.lower()
                for depth in range(len(stack) - 1, -1, -1):
                    if stack[depth][0] == name:
                        del stack[depth:]
                        break
                pos = end
            elif text.startswith("</>", pos):
                pos += 3
            else:
                close = text.find(">", pos + 2)
                pos = close + 1 if close >= 0 else n
            continue
        if not _ASCII_ALPHA.match(nxt):
            pos += 1
            continue
        parsed = _read_tag(text, pos, pos + 1)
        if parsed is None:
            return
        raw_name, attributes, self_closing, end = parsed
        name = raw_name.lower()
        start = pos
        pos = end
        if foreign and (
            name in _BREAKOUT
            or (name == "font" and any(a.name in ("color", "face", "size") for a in attributes))
        ):
            while stack and stack[-1][1]:
                stack.pop()
            foreign = bool(stack) and stack[-1][1]
        if foreign:
            if not self_closing and name in _INTEGRATION:
                stack.append((name, False))
            elif not self_closing and name in ("svg", "math"):
                stack.append((name, True))
            if wanted is None or name in wanted:
                yield Tag(name, start, end, tuple(attributes), self_closing, True)
            continue
        content: tuple[int, int] | None = None
        if name in ("svg", "math") and not self_closing:
            stack.append((name, True))
        elif name == "script":
            close_at = _end_of_script(text, end)
            content = (end, close_at)
        elif name in _RAWTEXT:
            close_at = _end_of_rawtext(text, name, end)
            content = (end, close_at)
        elif name == "plaintext":
            content = (end, n)
        if wanted is None or name in wanted:
            yield Tag(name, start, end, tuple(attributes), self_closing, False, content)
        if content is not None:
            pos = content[1]


def _quote_style(tag: Tag) -> str:
    for attribute in tag.attributes:
        if attribute.quote:
            return attribute.quote
    return '"'


def _upper_case_names(tag: Tag) -> bool:
    """True when the tag's author writes attribute names in upper case (`SRC=`)."""
    lettered = [a.raw_name for a in tag.attributes if any(c.isalpha() for c in a.raw_name)]
    return bool(lettered) and all(name == name.upper() for name in lettered)


def _quoted(value: str, quote: str) -> str:
    escaped = value.replace("&", "&amp;")
    escaped = escaped.replace('"', "&quot;") if quote == '"' else escaped.replace("'", "&#39;")
    return f"{quote}{escaped}{quote}"


def _safe_unquoted(value: str) -> bool:
    return bool(value) and not any(c in value for c in "\t\n\f\r \"'<>`&")


def set_attributes(tag: Tag, values: Mapping[str, str]) -> list[Edit]:
    """Edits that give `tag` these attribute values and leave every other byte alone.

    An existing attribute keeps its name, position and quote character; only its value is
    replaced (an unquoted value stays unquoted when the new one allows it). Missing
    attributes are added together just after the last attribute, in the quote style of the
    tag's other attributes (double quotes if none are quoted), in upper case if the tag's
    attribute names are all upper case.
    """
    edits: list[Edit] = []
    added: list[str] = []
    quote = _quote_style(tag)
    upper = _upper_case_names(tag)
    for name, value in values.items():
        attribute = tag.get(name)
        if attribute is None:
            written = name.upper() if upper else name
            added.append(f"{written}={_quoted(value, quote)}")
        elif attribute.value is None:  # `<script integrity src=...>`: give it a value
            edits.append(Edit(attribute.end, attribute.end, "=" + _quoted(value, quote)))
        elif attribute.quote:
            escaped = _quoted(value, attribute.quote)[1:-1]
            edits.append(Edit(attribute.value_start, attribute.value_end, escaped))
        elif _safe_unquoted(value):
            edits.append(Edit(attribute.value_start, attribute.value_end, value))
        else:
            edits.append(Edit(attribute.value_start, attribute.value_end, _quoted(value, quote)))
    if added:
        text = " ".join(added)
        last = tag.attributes[-1] if tag.attributes else None
        if last is not None and last.value == "" and not last.quote:
            # `name=` right before `>`: text inserted after it would become its value.
            edits.append(Edit(last.start, last.start, text + " "))
        else:
            at = last.end if last is not None else tag.start + 1 + len(tag.name)
            edits.append(Edit(at, at, " " + text))
    return edits


def apply(text: str, edits: Iterable[Edit]) -> str:
    """`text` with the edits made; ValueError if two edits overlap."""
    ordered = sorted(edits)
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end or (after.start == before.start == after.end == before.end):
            raise ValueError(f"overlapping edits at offset {after.start}")
    pieces: list[str] = []
    cursor = 0
    for edit in ordered:
        pieces.append(text[cursor : edit.start])
        pieces.append(edit.text)
        cursor = edit.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def line_of(text: str, offset: int) -> int:
    """1-based line number of an offset."""
    return text.count("\n", 0, offset) + 1
