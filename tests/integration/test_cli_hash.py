"""`sri-guard hash`, run as the real command, against files, stdin and loopback URLs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.servers import Server

JQ256 = "sha256-/JqT3SQfawRcv/BIHPThkBvs0OEvtFFmqPF/lYI/Cxo="
B = b"alert('Hello, world.');"
S384 = "sha384-H8BRh8j48O9oYatfu5AZzq6A9RINhZO5H16dQZngK7T62em8MUt1FLm52t+eX6xO"


def test_jquery_from_file_url_and_stdin(
    run, jquery: bytes, tmp_path: Path, server: Server, tls_server: Server
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "jquery.min.js").write_bytes(jquery)
    server.route("/jquery.min.js", gzip.compress(jquery), headers={"Content-Encoding": "gzip"})
    tls_server.route("/jquery.min.js", jquery, content_type="application/javascript")
    r = run("hash", "-a", "sha256", "jquery.min.js")
    assert (r.code, r.stdout) == (0, f"{JQ256}  jquery.min.js\n")
    url = server.url("/jquery.min.js")
    assert run("hash", "-a", "sha256", url).stdout == f"{JQ256}  {url}\n"
    secure = tls_server.url("/jquery.min.js")
    assert run("hash", "-a", "sha256", secure).stdout == f"{JQ256}  {secure}\n"
    assert run("hash", "-a", "sha256", "-", stdin=jquery).stdout == f"{JQ256}  -\n"


def test_default_is_sha384_and_several_algorithms_make_one_value(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "b.js").write_bytes(B)
    assert run("hash", "b.js").stdout == f"{S384}  b.js\n"
    r = run("hash", "-a", "sha256", "-a", "sha384", "b.js")
    assert r.stdout == f"sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng= {S384}  b.js\n"


def test_tag_by_extension_and_content_type(run, tmp_path: Path, server: Server) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "b.js").write_bytes(B)
    (tmp_path / "s.css").write_bytes(b"body{}")
    r = run("hash", "--tag", "b.js", "s.css")
    lines = r.stdout.splitlines()
    assert lines[0] == f'<script src="b.js" integrity="{S384}" crossorigin="anonymous"></script>'
    assert lines[1].startswith('<link rel="stylesheet" href="s.css" integrity="sha384-')
    url = server.route("/style", "body{}", content_type="text/css; charset=utf-8")
    assert run("hash", "--tag", url).stdout.startswith(f'<link rel="stylesheet" href="{url}"')


def test_json_format(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "b.js").write_bytes(B)
    doc = json.loads(run("hash", "--format", "json", "b.js").stdout)
    assert doc["tool"] == "sri-guard" and doc["schema"] == 1 and doc["command"] == "hash"
    assert doc["resources"][0]["integrity"] == S384
    assert doc["resources"][0]["size"] == 23


def test_missing_file_exits_2_with_one_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "b.js").write_bytes(B)
    r = run("hash", "b.js", "missing.js")
    assert r.code == 2
    assert r.stdout == f"{S384}  b.js\n"
    assert r.stderr == "sri-guard: error: cannot read missing.js: No such file or directory\n"


def test_failed_fetch_exits_2(run, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.route("/gone.js", "x", status=404)
    r = run("hash", server.url("/gone.js"))
    assert r.code == 2
    assert r.stderr.strip() == f"sri-guard: error: {server.url('/gone.js')}: HTTP 404 Not Found"
    assert "Traceback" not in r.stderr


def test_unknown_algorithm_exits_2(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "b.js").write_bytes(B)
    r = run("hash", "-a", "md5", "b.js")
    assert r.code == 2 and r.stdout == ""
    assert "unknown algorithm 'md5'" in r.stderr


def test_bad_flag_exits_2(run) -> None:  # type: ignore[no-untyped-def]
    r = run("hash", "--no-such-flag", "x")
    assert r.code == 2 and "Traceback" not in r.stderr


def test_python_dash_m_is_the_same_program(env: dict[str, str], tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "b.js").write_bytes(B)
    proc = subprocess.run(
        [sys.executable, "-m", "sri_guard", "hash", "b.js"],
        capture_output=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert proc.stdout.decode() == f"{S384}  b.js\n"
