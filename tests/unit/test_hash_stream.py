"""`sri-guard hash` on local files: streamed in chunks, every byte hashed exactly once."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path

import pytest

from sri_guard.commands import hash as hashing

CHUNK = hashing._CHUNK


def sri(data: bytes, algorithm: str = "sha384") -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + CHUNK // 2]
)
def test_files_across_chunk_boundaries(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    result = hashing.hash_local(str(path), ("sha256", "sha512"))
    assert result.integrity == f"{sri(data, 'sha256')} {sri(data, 'sha512')}"
    assert result.size == size


@pytest.mark.parametrize("size", [CHUNK - 1, 2 * CHUNK + 7])
def test_stdin_without_a_file_descriptor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)

    class Stdin:
        buffer = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]

    monkeypatch.setattr("sys.stdin", Stdin)
    result = hashing.hash_local("-", ("sha384",))
    assert (result.integrity, result.size) == (sri(data), size)
