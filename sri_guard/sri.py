"""The SRI core: parse, choose, verify and format `integrity` metadata. Pure, no I/O.

Follows W3C Subresource Integrity (Level 1 §3.3, "Verification of HTML document
subresources"; the Level 2 draft where it agrees with browsers) and records where Chromium,
Firefox and the draft disagree, as `../shared/docs/sri-notes.md` lists them:

* tokens are split on ASCII whitespace; `?options` are ignored;
* only `sha256`, `sha384` and `sha512`, matched case-sensitively as Chromium and Firefox
  do, count; other tokens are dropped (with a warning where some engine would accept them);
* standard padded base64 is the format; base64url and unpadded digests are accepted, as
  Chromium and Firefox accept them, with a warning;
* a known algorithm with an undecodable digest is kept as an entry that can never match
  (the draft, WPT and Firefox fail closed; Chromium drops the token instead);
* Chromium also reads `sha-256`, `sha-384` and `sha-512` (lower case only): such tokens are
  ignored as the draft and Firefox do, but kept aside for Chromium's verdict
  (`Metadata.for_chromium`);
* only the strongest algorithm present is compared, and any digest of it may match.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

ALGORITHMS: tuple[str, ...] = ("sha256", "sha384", "sha512")
"""The algorithms browsers accept, weakest first (SRI §3.2: the order used to pick one)."""

DEFAULT_ALGORITHM = "sha384"

_DIGEST_SIZE = {"sha256": 32, "sha384": 48, "sha512": 64}
# HTML's "ASCII whitespace" (U+0009, U+000A, U+000C, U+000D, U+0020); str.split() would
# also split on Unicode spaces, which browsers keep inside a token.
_ASCII_WHITESPACE = re.compile(r"[\t\n\f\r ]+")
_STANDARD_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_URLSAFE_B64 = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
# Chromium's extra spelling, matched case-sensitively as Chromium 156 does (`SHA-384-` is
# ignored there, observed in tests/integration/test_browser_conformance.py).
_CHROMIUM_DASHED = re.compile(r"^sha-(256|384|512)-")


@dataclass(frozen=True, slots=True)
class HashEntry:
    """One usable token of an `integrity` attribute."""

    algorithm: str
    """Canonical algorithm name: one of `ALGORITHMS`."""
    digest: bytes | None
    """The decoded digest, or None when it is not valid base64 (the token can never match)."""
    token: str
    """The token as written, options included."""
    note: str | None = None
    """What is wrong or unportable about this token, as one line; None when nothing."""

    @property
    def malformed(self) -> bool:
        """True when the digest could not be decoded (browsers disagree on what follows)."""
        return self.digest is None


@dataclass(frozen=True, slots=True)
class Metadata:
    """A parsed `integrity` value: what a browser keeps of it, and what we warn about."""

    raw: str
    """The attribute value as written."""
    entries: tuple[HashEntry, ...] = ()
    """Tokens with a supported algorithm, in order; empty means the browser checks nothing."""
    ignored: tuple[str, ...] = ()
    """Tokens browsers drop (unknown algorithm, wrong case, not `alg-digest`)."""
    warnings: tuple[str, ...] = field(default=())
    """One line per portability problem (base64url, unpadded, upper case, malformed)."""
    chromium_only: tuple[HashEntry, ...] = ()
    """`sha-NNN-` tokens (also in `ignored`): Chromium checks them, the draft and Firefox
    drop them."""

    @property
    def blank(self) -> bool:
        """True for an empty or whitespace-only value: no check, and nothing to warn about."""
        return not self.entries and not self.ignored

    @property
    def enforced(self) -> bool:
        """True when a browser will check the response against this metadata."""
        return bool(self.entries)

    @property
    def strongest_algorithm(self) -> str | None:
        """The algorithm a browser compares (SRI §3.3.4 "get the strongest metadata")."""
        if not self.entries:
            return None
        return max((e.algorithm for e in self.entries), key=ALGORITHMS.index)

    @property
    def strongest(self) -> tuple[HashEntry, ...]:
        """The entries of the strongest algorithm: the only ones that can let a response in."""
        algorithm = self.strongest_algorithm
        return tuple(e for e in self.entries if e.algorithm == algorithm)

    @property
    def malformed(self) -> tuple[HashEntry, ...]:
        """Entries whose digest could not be decoded."""
        return tuple(e for e in self.entries if e.malformed)

    def without_malformed(self) -> Metadata:
        """The metadata without tokens whose digest is malformed."""
        kept = tuple(e for e in self.entries if not e.malformed)
        dropped = tuple(e.token for e in self.entries if e.malformed)
        return Metadata(self.raw, kept, self.ignored + dropped, self.warnings)

    def for_chromium(self) -> Metadata:
        """The metadata as Chromium keeps it: tokens with a malformed digest dropped, and
        `sha-NNN-` tokens read as `shaNNN` (both observed in Chromium 156)."""
        kept = self.without_malformed()
        extra = tuple(e for e in self.chromium_only if not e.malformed)
        if not extra:
            return kept
        ignored = tuple(t for t in kept.ignored if t not in {e.token for e in extra})
        return Metadata(self.raw, kept.entries + extra, ignored, self.warnings)


class Outcome(StrEnum):
    """What a browser does with a response, given the metadata."""

    UNCHECKED = "unchecked"
    """No usable metadata: the resource loads without any check."""
    MATCH = "match"
    """A digest of the strongest algorithm matches: the resource loads."""
    MISMATCH = "mismatch"
    """No digest of the strongest algorithm matches: the browser blocks the resource."""


def _decode_digest(algorithm: str, text: str) -> tuple[bytes | None, str | None]:
    """Decode a digest as browsers do; return it and a warning, or (None, reason)."""
    if not text:
        return None, "has an empty digest"
    if _STANDARD_B64.match(text) and len(text) % 4 == 0:
        warning = None
        decoded = base64.b64decode(text, validate=True)
    elif _URLSAFE_B64.match(text) or _STANDARD_B64.match(text):
        stripped = text.rstrip("=")
        padded = stripped + "=" * (-len(stripped) % 4)
        try:
            decoded = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
        except (binascii.Error, ValueError):
            return None, "has a digest that is not base64"
        kinds = []
        if "-" in text or "_" in text:
            kinds.append("base64url")
        if len(text) % 4:
            kinds.append("unpadded")
        warning = (
            f"uses {' and '.join(kinds)} digest encoding: Chromium and Firefox accept it, "
            "the SRI draft does not; write padded standard base64"
        )
    else:
        return None, "has a digest that is not base64"
    if len(decoded) != _DIGEST_SIZE[algorithm]:
        size = _DIGEST_SIZE[algorithm]
        return decoded, f"has a {len(decoded)}-byte digest; {algorithm} digests are {size} bytes"
    return decoded, warning


def parse(value: str | None) -> Metadata:
    """Parse an `integrity` attribute value as browsers do (SRI §3.3.3 "parse metadata")."""
    if value is None:
        return Metadata("")
    entries: list[HashEntry] = []
    ignored: list[str] = []
    warnings: list[str] = []
    chromium_only: list[HashEntry] = []
    for token in _ASCII_WHITESPACE.split(value.strip("\t\n\f\r ")):
        if not token:
            continue
        expression = token.split("?", 1)[0]
        algorithm, dash, digest_text = expression.partition("-")
        dashed = _CHROMIUM_DASHED.match(expression)
        if dashed:
            ignored.append(token)
            spelling = (
                f"'{_short(token)}': the 'sha-NNN' spelling is accepted by Chromium only; "
                f"Firefox and the SRI spec ignore it; write 'sha{dashed.group(1)}-'"
            )
            warnings.append(spelling)
            name = "sha" + dashed.group(1)
            digest, _ = _decode_digest(name, expression[dashed.end() :])
            chromium_only.append(HashEntry(name, digest, token, spelling))
            continue
        if not dash or algorithm not in ALGORITHMS:
            ignored.append(token)
            if dash and algorithm.lower() in ALGORITHMS:
                warnings.append(
                    f"'{_short(token)}': Chromium and Firefox match algorithm names "
                    f"case-sensitively and ignore '{algorithm}' (the draft accepts it); "
                    f"write '{algorithm.lower()}'"
                )
            continue
        digest, warning = _decode_digest(algorithm, digest_text)
        note = None
        if digest is None:
            note = (
                f"'{_short(token)}' {warning}: the SRI draft, WPT and Firefox block the "
                "resource (fail closed), Chromium ignores the token"
            )
        elif warning:
            note = f"'{_short(token)}' {warning}"
        entries.append(HashEntry(algorithm, digest, token, note))
        if note:
            warnings.append(note)
    return Metadata(value, tuple(entries), tuple(ignored), tuple(warnings), tuple(chromium_only))


def _short(token: str, limit: int = 24) -> str:
    return token if len(token) <= limit else token[: limit - 1] + "…"


def verify(metadata: Metadata, digests: Mapping[str, bytes]) -> Outcome:
    """Decide as a browser does whether a response with these digests passes (SRI §3.3.5).

    `digests` maps algorithm names to the digest of the bytes served (after content codings
    are removed); it must hold the strongest algorithm of `metadata`.
    """
    algorithm = metadata.strongest_algorithm
    if algorithm is None:
        return Outcome.UNCHECKED
    actual = digests[algorithm]
    if any(entry.digest == actual for entry in metadata.strongest):
        return Outcome.MATCH
    return Outcome.MISMATCH


class MultiHasher:
    """Feeds bytes to one hash object per algorithm, so a stream is read once."""

    __slots__ = ("_hashes",)

    def __init__(self, algorithms: Iterable[str] = ALGORITHMS) -> None:
        self._hashes = {name: hashlib.new(name) for name in dict.fromkeys(algorithms)}

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes to every digest."""
        for h in self._hashes.values():
            h.update(data)

    def digests(self) -> dict[str, bytes]:
        """The digest of everything fed so far, per algorithm."""
        return {name: h.digest() for name, h in self._hashes.items()}


def digest_bytes(data: bytes, algorithms: Iterable[str] = ALGORITHMS) -> dict[str, bytes]:
    """Digests of `data` for each algorithm."""
    hasher = MultiHasher(algorithms)
    hasher.update(data)
    return hasher.digests()


def format_entry(algorithm: str, digest: bytes) -> str:
    """`alg-<padded standard base64>`: the only form every browser and the spec accept."""
    return f"{algorithm}-{base64.b64encode(digest).decode('ascii')}"


def format_integrity(digests: Mapping[str, bytes], algorithms: Iterable[str] | None = None) -> str:
    """An `integrity` value: one token per algorithm, space-separated, in the order asked."""
    names = list(algorithms) if algorithms is not None else list(digests)
    return " ".join(format_entry(name, digests[name]) for name in names)


def check_algorithms(names: Iterable[str]) -> tuple[str, ...]:
    """Validate user-chosen algorithm names; raise ValueError naming the bad one."""
    result = []
    for name in names:
        canonical = name.strip().lower()
        if canonical not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {name!r}: choose from {', '.join(ALGORITHMS)}")
        result.append(canonical)
    return tuple(dict.fromkeys(result))
