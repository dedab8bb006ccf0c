"""A fail-safe for tests that point sri-guard at private and link-local addresses.

While installed, no DNS query and no connection can leave the machine: `socket.getaddrinfo`
answers from a fixed table or for numeric hosts only (never asking a resolver), and
`socket.socket.connect` refuses, and records, any address outside 127.0.0.0/8. So a guard
that failed to refuse `169.254.169.254` makes the test fail on a recorded attempt instead of
sending traffic anywhere.

`python -m tests.loopback_only sri-guard-args...` runs the real CLI with the fail-safe
installed and with 127.0.0.1 looking public to the private-address guard, so a page served
on loopback is treated as a public page (its subresources on private addresses refused).
Attempts are reported on stderr as `loopback-only: blocked ...`.
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

FAKE_DNS: dict[str, tuple[str, ...]] = {
    "localhost": ("127.0.0.1",),
    "localhost.": ("127.0.0.1",),
    "metadata.test": ("169.254.169.254",),
    "intranet.test": ("10.1.2.3",),
    "mixed.test": ("93.184.216.34", "10.0.0.1"),
    "ula.test": ("fd00::1",),
    "public.test": ("93.184.216.34",),
}
"""Names the fail-safe resolves (everything else must be numeric)."""

PUBLIC_LOOKING = "127.0.0.1"
"""The loopback host `looks_public` presents to the guard as a public one."""


class Blocked(OSError):
    """A connection the fail-safe refused: the address is not on loopback."""


def _allowed(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    return isinstance(host, str) and host.startswith("127.")


def install(
    setattr_: Callable[[Any, str, Any], None],
    dns: Mapping[str, Sequence[str]] = FAKE_DNS,
    on_blocked: Callable[[str], None] | None = None,
) -> list[str]:
    """Install the fail-safe with `setattr_` (e.g. `monkeypatch.setattr`); returns the list
    each blocked connection attempt is appended to."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    blocked: list[str] = []

    def getaddrinfo(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.lower() in dns:
            out = []
            for ip in dns[name.lower()]:
                numeric = real_getaddrinfo(
                    ip, port, family, type or socket.SOCK_STREAM, proto, socket.AI_NUMERICHOST
                )
                out.extend(numeric)
            if not out:
                raise socket.gaierror(socket.EAI_NONAME, "no address of that family")
            return out
        # Numeric hosts only: a name not in the table is unknown, never asked of a resolver.
        return real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    def refuse(address: Any) -> None:
        what = f"blocked connection to {address!r}"
        blocked.append(what)
        if on_blocked is not None:
            on_blocked(what)
        raise Blocked(errno.ENETUNREACH, f"loopback-only: {what}")

    def connect(self: socket.socket, address: Any) -> None:
        if not _allowed(address):
            refuse(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _allowed(address):
            refuse(address)
        return real_connect_ex(self, address)

    setattr_(socket, "getaddrinfo", getaddrinfo)
    setattr_(socket.socket, "connect", connect)
    setattr_(socket.socket, "connect_ex", connect_ex)
    return blocked


def looks_public(setattr_: Callable[[Any, str, Any], None]) -> None:
    """Make the private-address guard see `PUBLIC_LOOKING` as public (every other host,
    loopback included, is judged as usual)."""
    from sri_guard import fetch, survey

    real = fetch.host_is_private

    async def host_is_private(host: str) -> bool:
        return False if host == PUBLIC_LOOKING else await real(host)

    setattr_(fetch, "host_is_private", host_is_private)
    setattr_(survey, "host_is_private", host_is_private)


def main() -> None:
    """Run the CLI with the fail-safe installed and 127.0.0.1 looking public."""

    def report(what: str) -> None:
        print(f"loopback-only: {what}", file=sys.stderr, flush=True)

    install(setattr, on_blocked=report)
    looks_public(setattr)
    from sri_guard._cli import main as cli

    sys.argv = ["sri-guard", *sys.argv[1:]]
    cli()


if __name__ == "__main__":
    main()
