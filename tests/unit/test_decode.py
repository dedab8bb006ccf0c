"""Bounded content decoding: every coding browsers get from us, and truncation detection."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest

from sri_guard.decode import DecodeError, decoder_for

DATA = b"console.log('x');\n" * 5000


def decode_all(coding: str | None, payload: bytes, chunk: int = 1000) -> bytes:
    d = decoder_for(coding)
    out = bytearray()
    for i in range(0, len(payload), chunk):
        for piece in d.feed(payload[i : i + chunk]):
            out += piece
    for piece in d.finish():
        out += piece
    return bytes(out)


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        (None, lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw DEFLATE, as some servers send
        ("br", brotli.compress),
        ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
    ],
)
def test_round_trip(coding: str | None, encode) -> None:  # type: ignore[no-untyped-def]
    assert decode_all(coding, encode(DATA)) == DATA


def test_multi_member_gzip() -> None:
    assert decode_all("gzip", gzip.compress(b"a" * 10) + gzip.compress(b"b" * 10)) == (
        b"a" * 10 + b"b" * 10
    )


@pytest.mark.parametrize(("coding", "encode"), [("gzip", gzip.compress), ("br", brotli.compress)])
def test_truncated_stream_is_an_error(coding: str, encode) -> None:  # type: ignore[no-untyped-def]
    payload = encode(DATA)
    with pytest.raises(DecodeError, match="ends early"):
        decode_all(coding, payload[: len(payload) // 2])


def test_garbage_is_an_error() -> None:
    with pytest.raises(DecodeError, match="invalid gzip"):
        decode_all("gzip", b"this is not gzip at all")


def test_unknown_coding_is_refused() -> None:
    with pytest.raises(DecodeError, match="zstd"):
        decoder_for("zstd")


def test_bomb_is_yielded_in_bounded_steps() -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    d = decoder_for("gzip")
    biggest = 0
    total = 0
    for piece in d.feed(bomb):
        biggest = max(biggest, len(piece))
        total += len(piece)
        if total > 1024 * 1024:
            break  # the fetcher stops here once its limit is passed
    assert biggest <= 64 * 1024
