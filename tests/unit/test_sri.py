"""The SRI core against every vector of sri-notes.md and the applicable WPT cases."""

from __future__ import annotations

import base64
import hashlib

import pytest

from sri_guard import sri
from sri_guard.sri import Outcome

B = b"alert('Hello, world.');"
S256 = "qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng="
S384 = "H8BRh8j48O9oYatfu5AZzq6A9RINhZO5H16dQZngK7T62em8MUt1FLm52t+eX6xO"
S512 = "Q2bFTOhEALkN8hOms2FKTDLy7eugP2zFZ1T8LCvX42Fp3WoNr3bjZSAHeOsHrbV1Fu9/A0EzCinRE7Af1ofPrw=="
BAD256 = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
BAD512 = base64.b64encode(hashlib.sha512(b"other").digest()).decode()


def outcome(value: str, body: bytes = B) -> Outcome:
    return sri.verify(sri.parse(value), sri.digest_bytes(body))


def test_digests_of_the_reference_body() -> None:
    d = sri.digest_bytes(B)
    assert sri.format_entry("sha256", d["sha256"]) == f"sha256-{S256}"
    assert sri.format_entry("sha384", d["sha384"]) == f"sha384-{S384}"
    assert sri.format_entry("sha512", d["sha512"]) == f"sha512-{S512}"


@pytest.mark.parametrize(
    ("value", "body", "expected"),
    [
        (f"sha384-{S384}", B, Outcome.MATCH),
        (f"sha384-{S384}\nsha512-{S512}", B, Outcome.MATCH),
        (f"sha512-{S512} sha256-{BAD256}", B, Outcome.MATCH),
        (f"sha512-{BAD512} sha256-{S256}", B, Outcome.MISMATCH),
        (f"sha256-{S256} sha256-{BAD256}", B, Outcome.MATCH),
        (f"sha256-{BAD256} sha256-{S256}", B, Outcome.MATCH),
        ("", B, Outcome.UNCHECKED),
        ("   \t\n ", B, Outcome.UNCHECKED),
        (f"foo666-{S256}", B, Outcome.UNCHECKED),
        (f"sha256-{S256}?foo=bar?spam=eggs", B, Outcome.MATCH),
        ("sha256-%", B, Outcome.MISMATCH),
        (f"sha512-% sha256-{S256}", B, Outcome.MISMATCH),
        (f"sha384-{S384}", B + b"\n", Outcome.MISMATCH),
        # WPT: unknown algorithms beside a valid one are ignored.
        (f"foo666-{S256} sha256-{S256}", B, Outcome.MATCH),
        (f"md5-abc sha1-def sha256-{S256}", B, Outcome.MATCH),
        # WPT: tabs, form feeds and CR are ASCII whitespace too.
        (f"\tsha384-{S384}\f\rsha512-{S512}\t", B, Outcome.MATCH),
    ],
)
def test_browser_outcomes(value: str, body: bytes, expected: Outcome) -> None:
    assert outcome(value, body) is expected


def test_malformed_digest_fails_closed_and_says_both_outcomes() -> None:
    meta = sri.parse("sha256-%")
    assert meta.enforced and meta.malformed
    assert "Chromium" in meta.warnings[0] and "Firefox" in meta.warnings[0]
    # Chromium's view: the token is dropped, the script loads unchecked.
    assert sri.verify(meta.without_malformed(), sri.digest_bytes(B)) is Outcome.UNCHECKED


def test_unknown_algorithms_leave_no_metadata() -> None:
    meta = sri.parse(f"foo666-{S256} md5-xyz")
    assert not meta.enforced and not meta.blank
    assert meta.ignored == (f"foo666-{S256}", "md5-xyz")


def test_blank_is_blank() -> None:
    assert sri.parse("  ").blank
    assert sri.parse(None).blank


def test_uppercase_algorithm_is_ignored_as_browsers_do_with_a_warning() -> None:
    meta = sri.parse(f"SHA384-{S384}")
    assert not meta.enforced
    assert "case-sensitively" in meta.warnings[0]


def test_chromium_dashed_spelling_is_ignored_with_a_warning() -> None:
    meta = sri.parse(f"sha-384-{S384}")
    assert not meta.enforced
    assert "Chromium only" in meta.warnings[0]


def test_base64url_and_unpadded_are_accepted_with_a_warning() -> None:
    digest = hashlib.sha512(B).digest()
    urlsafe = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    meta = sri.parse(f"sha512-{urlsafe}")
    assert meta.entries[0].digest == digest
    assert "base64url" in meta.warnings[0] or "unpadded" in meta.warnings[0]
    assert outcome(f"sha512-{urlsafe}") is Outcome.MATCH
    unpadded = S512.rstrip("=")
    assert outcome(f"sha512-{unpadded}") is Outcome.MATCH
    assert "unpadded" in sri.parse(f"sha512-{unpadded}").warnings[0]


def test_unicode_whitespace_does_not_split_tokens() -> None:
    # U+00A0 is not ASCII whitespace: the whole thing is one (malformed) token.
    meta = sri.parse(f"sha256-{S256}\u00a0sha384-{S384}")
    assert len(meta.entries) == 1 and meta.entries[0].malformed


def test_strongest_algorithm_is_chosen() -> None:
    meta = sri.parse(f"sha256-{S256} sha512-{BAD512} sha384-{S384}")
    assert meta.strongest_algorithm == "sha512"
    assert [e.token for e in meta.strongest] == [f"sha512-{BAD512}"]


def test_wrong_length_digest_never_matches() -> None:
    meta = sri.parse("sha256-YWJj")
    assert meta.enforced and "32 bytes" in meta.warnings[0]
    assert outcome("sha256-YWJj") is Outcome.MISMATCH


def test_format_integrity_is_padded_standard_base64_in_the_order_asked() -> None:
    digests = sri.digest_bytes(B)
    assert sri.format_integrity(digests, ["sha512", "sha256"]) == f"sha512-{S512} sha256-{S256}"


def test_multihasher_streams() -> None:
    h = sri.MultiHasher(["sha384"])
    for i in range(0, len(B), 5):
        h.update(B[i : i + 5])
    assert h.digests()["sha384"] == hashlib.sha384(B).digest()


def test_check_algorithms() -> None:
    assert sri.check_algorithms(["SHA256", "sha384", "sha256"]) == ("sha256", "sha384")
    with pytest.raises(ValueError, match="md5"):
        sri.check_algorithms(["md5"])


def test_jquery_published_value(jquery: bytes) -> None:
    d = sri.digest_bytes(jquery, ["sha256"])
    assert (
        sri.format_entry("sha256", d["sha256"])
        == "sha256-/JqT3SQfawRcv/BIHPThkBvs0OEvtFFmqPF/lYI/Cxo="
    )
