"""Bounded removal of HTTP content codings (gzip, deflate, br), a chunk at a time.

Browsers hash the body after content codings are removed (Fetch §4.6 "HTTP-network fetch":
the decoded body; SRI hashes that). A decoder here never produces more than `step` bytes per
call to the underlying library, so a compression bomb is refused once the decoded total passes
the limit, without ever holding more than one step in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli

_STEP = 64 * 1024


class DecodeError(Exception):
    """The body is not valid for its declared Content-Encoding, or ends early."""


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...
    def finish(self) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip (wbits 16+15, multi-member) or deflate (zlib-wrapped, or raw as some servers send)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._raw_fallback = not gzip
        self._seen_input = False
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._d.decompress(data, _STEP)
            except zlib.error as exc:
                if self._raw_fallback and not self._seen_input:
                    # "deflate" sent as raw DEFLATE without the zlib wrapper: browsers accept it.
                    self._raw_fallback = False
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise DecodeError(f"invalid {self._name} data ({exc})") from None
            self._seen_input = True
            if out:
                yield out
            if self._d.eof:
                rest = self._d.unused_data
                if rest and self._gzip and rest.lstrip(b"\x00"):
                    self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
                    data = rest
                    continue
                return
            data = self._d.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        if not self._seen_input:
            # An empty body with a coding header: browsers load it as empty.
            return
        out = self._d.flush()
        if out:
            yield out
        if not self._d.eof:
            raise DecodeError(f"{self._name} stream ends early (truncated body)")

    @property
    def _name(self) -> str:
        return "gzip" if self._gzip else "deflate"


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()
        self._seen_input = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._seen_input = True
        try:
            out = self._d.process(data, output_buffer_limit=_STEP)
            if out:
                yield out
            while not self._d.can_accept_more_data():
                out = self._d.process(b"", output_buffer_limit=_STEP)
                if not out:
                    break
                yield out
        except brotli.error as exc:
            raise DecodeError(f"invalid br data ({exc})") from None

    def finish(self) -> Iterator[bytes]:
        if self._seen_input and not self._d.is_finished():
            raise DecodeError("br stream ends early (truncated body)")
        return iter(())


class _Chain:
    """Several codings, applied in order, are removed in reverse order (RFC 9110 §8.4)."""

    def __init__(self, decoders: list[_Decoder]) -> None:
        self._decoders = decoders

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, self._decoders[0].feed(data))

    def finish(self) -> Iterator[bytes]:
        yield from self._finish_from(0)

    def _through(self, index: int, chunks: Iterator[bytes]) -> Iterator[bytes]:
        if index + 1 == len(self._decoders):
            yield from chunks
            return
        for chunk in chunks:
            yield from self._through(index + 1, self._decoders[index + 1].feed(chunk))

    def _finish_from(self, index: int) -> Iterator[bytes]:
        if index == len(self._decoders):
            return
        yield from self._through(index, self._decoders[index].finish())
        yield from self._finish_from(index + 1)


SUPPORTED = ("gzip", "deflate", "br")
"""The codings we advertise in Accept-Encoding and can remove."""


def decoder_for(content_encoding: str | None) -> _Decoder:
    """A decoder for a Content-Encoding header value; DecodeError if a coding is unknown."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    decoders: list[_Decoder] = []
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            decoders.append(_Zlib(gzip=True))
        elif coding == "deflate":
            decoders.append(_Zlib(gzip=False))
        elif coding == "br":
            decoders.append(_Brotli())
        else:
            raise DecodeError(f"unsupported Content-Encoding {coding!r} (not requested)")
    if not decoders:
        return _Identity()
    if len(decoders) == 1:
        return decoders[0]
    return _Chain(decoders)
