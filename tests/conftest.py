"""Fixtures: loopback servers (HTTP, and HTTPS with trustme certificates) and the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.servers import Server

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def cdn() -> Iterator[Server]:
    """A second origin (another port) for cross-origin resources."""
    s = Server()
    yield s
    s.close()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[Server]:
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    s = Server(ctx)
    yield s
    s.close()


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def cli_env(ca_file: Path, home: Path) -> dict[str, str]:
    """The environment the CLI runs in: our test CA trusted, no proxies, no colour."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.lower().endswith("_proxy") and not k.startswith(("SSL_CERT", "SRI_GUARD"))
    }
    environment.update(
        SSL_CERT_FILE=str(ca_file),
        NO_PROXY="*",
        NO_COLOR="1",
        HOME=str(home),
        PYTHONWARNINGS="error",
    )
    return environment


def cli_command() -> list[str]:
    """The installed console script (or `python -m sri_guard` without one)."""
    script = Path(sys.executable).parent / "sri-guard"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sri_guard"]


def run_cli(
    args: tuple[str, ...], cwd: Path, env: dict[str, str], stdin: bytes | None = None
) -> Result:
    """Run the real `sri-guard` command once; the timeout bounds any hang."""
    proc = subprocess.run(
        [*cli_command(), *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    return Result(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


@pytest.fixture
def env(ca_file: Path, tmp_path: Path) -> dict[str, str]:
    return cli_env(ca_file, tmp_path)


@pytest.fixture
def run(env: dict[str, str], tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the real `sri-guard` command (the installed console script) in tmp_path."""

    def _run(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> Result:
        return run_cli(args, cwd or tmp_path, env, stdin)

    return _run


@pytest.fixture(scope="session")
def jquery() -> bytes:
    """jQuery 3.7.1's dist/jquery.min.js, byte for byte as published (from its npm package)."""
    return (DATA / "jquery-3.7.1.min.js").read_bytes()
