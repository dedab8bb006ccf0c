"""Progress: on a terminal, `scan`, `pin` and `check` draw a progress bar on stderr with
fetch counts and failures; with `-q`, or when stderr is not a terminal (cron, a pipe), stderr
carries nothing and stdout only the report.

The terminal is a real pseudo-terminal (`pty`): stderr (and stdin) are its slave side, stdout
is a pipe so the JSON report can be read apart from what was drawn.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import cli_command
from tests.servers import Server

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


@dataclass
class Terminal:
    code: int
    screen: str
    """Everything written to the terminal, escape sequences removed."""
    stdout: str


def in_terminal(args: tuple[str, ...], cwd: Path, env: dict[str, str]) -> Terminal:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every slave descriptor is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [*cli_command(), *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=slave,
            cwd=cwd,
            env={**env, "TERM": "xterm-256color"},
            timeout=120,
            check=False,
        )
    finally:
        os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    screen = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return Terminal(proc.returncode, screen, proc.stdout.decode())


def _page(server: Server) -> str:
    server.route("/app.js", "app()", content_type="text/javascript")
    server.route("/lib.js", "lib()", content_type="text/javascript")
    return server.route(
        "/index.html",
        '<script src="/app.js"></script><script src="/lib.js"></script>'
        '<script src="/gone.js"></script>',
        content_type="text/html",
    )


def test_scan_on_a_terminal_shows_counts_and_failures(
    env: dict[str, str], tmp_path: Path, server: Server
) -> None:
    page = _page(server)
    t = in_terminal(("scan", "-f", "json", page), tmp_path, env)
    assert t.code == 1
    # The page and its three scripts; /gone.js is a 404.
    assert re.search(r"fetched .*4/4 +1 failed", t.screen), t.screen
    assert json.loads(t.stdout)["summary"]["resources"] == 4


def test_check_and_pin_on_a_terminal(
    env: dict[str, str], tmp_path: Path, server: Server, run: Any
) -> None:
    page = _page(server)
    server.route("/sdk.js", "sdk()", content_type="text/javascript")
    (tmp_path / "sri-guard.toml").write_text(
        f'profiles = ["desktop"]\n[[target]]\nurl = "{page}"\n'
        f'[[target]]\nurl = "{server.url("/sdk.js")}"\n'
    )
    pin = in_terminal(("pin", "-f", "json"), tmp_path, env)
    assert pin.code == 1  # /gone.js: the page is not pinned
    assert re.search(r"fetched .*5/5 +1 failed", pin.screen), pin.screen

    server.route("/gone.js", "back()", content_type="text/javascript")
    assert in_terminal(("pin",), tmp_path, env).code == 0
    check = in_terminal(("check", "-f", "json"), tmp_path, env)
    assert check.code == 0
    assert re.search(r"fetched .*5/5 +0 failed", check.screen), check.screen
    assert json.loads(check.stdout)["findings"] == []


def test_quiet_on_a_terminal_draws_nothing(
    env: dict[str, str], tmp_path: Path, server: Server
) -> None:
    page = _page(server)
    (tmp_path / "sri-guard.toml").write_text(
        f'profiles = ["desktop"]\n[[target]]\nurl = "{page}"\n'
    )
    for args in (("scan", "-q", page), ("check", "-q"), ("pin", "-q")):
        t = in_terminal((*args, "-f", "json"), tmp_path, env)
        assert t.screen == "", (args, t.screen)
        assert json.loads(t.stdout)["command"] == args[0]


def test_no_terminal_no_progress(run: Any, tmp_path: Path, server: Server) -> None:
    """Cron: stderr is a pipe (or a file), so it gets nothing; stdout is only the report."""
    page = _page(server)
    (tmp_path / "sri-guard.toml").write_text(
        f'profiles = ["desktop"]\n[[target]]\nurl = "{page}"\n'
    )
    scan = run("scan", "-f", "json", page)
    assert scan.code == 1 and scan.stderr == ""
    assert json.loads(scan.stdout)["command"] == "scan"
    check = run("check", "-f", "json")
    assert check.stderr == ""
    assert json.loads(check.stdout)["command"] == "check"
    pin = run("pin", "-q", "-f", "json")
    assert pin.stderr == ""


def test_a_config_error_on_a_terminal_draws_no_bar(env: dict[str, str], tmp_path: Path) -> None:
    t = in_terminal(("check",), tmp_path, env)
    assert t.code == 2
    assert t.screen.startswith("sri-guard: error: sri-guard.toml: config file not found")
    assert "fetched" not in t.screen
