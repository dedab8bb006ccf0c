"""`sri-guard hash` on one large local file, side by side with `openssl dgst -sha384`.

Both run as subprocesses (interpreter start-up included for sri-guard), alternating, for a
few rounds over the same file once it is in the page cache. Prints the median wall time of
each, their ratio, and the peak RSS of each (from `wait4`). The goal is a ratio within 1.10
and sri-guard's peak RSS under 60 MB.

    .venv/bin/python -m benchmarks.hash_large [--size-mib 1024] [--rounds 7]
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GOAL_RATIO = 1.10
GOAL_RSS_MB = 60.0
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Run:
    """One subprocess run."""

    wall: float
    """Seconds from spawn to reap."""
    max_rss_mb: float
    """Peak resident set size of the child, in MB (10**6 bytes)."""
    stdout: str
    """What it printed."""


def run(argv: list[str], report: Path | None) -> Run:
    """Run `argv` once and time it; peak RSS from GNU time's report if given, else wait4.

    wait4 alone overstates small tools: Python spawns the child with vfork, and Linux
    carries the high-water mark of the memory it started in (this Python process) across
    exec. So when GNU time is installed, it runs the tool (a small C parent) and reports %M.
    """
    prefix = ["/usr/bin/time", "-f", "%M", "-o", str(report)] if report else []
    started = time.perf_counter()
    proc = subprocess.Popen([*prefix, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    proc.stderr.close()
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} exited {proc.returncode}: {err.decode(errors='replace').strip()}")
    # Linux reports ru_maxrss, and GNU time its %M, in KiB.
    max_rss_kib = int(report.read_text().split()[-1]) if report else usage.ru_maxrss
    return Run(wall, max_rss_kib * 1024 / 1e6, out.decode())


def ensure_file(size_mib: int, directory: Path) -> Path:
    """A file of `size_mib` MiB of random bytes, reused when it already has that size."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"random-{size_mib}MiB.bin"
    size = size_mib * 1024 * 1024
    if path.exists() and path.stat().st_size == size:
        return path
    print(f"writing {size_mib} MiB of random bytes to {path} ...", flush=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        left = size
        while left:
            n = min(_CHUNK, left)
            out.write(os.urandom(n))
            left -= n
    partial.replace(path)
    return path


def warm(path: Path) -> None:
    """Read the file once so both tools hash it from the page cache."""
    with path.open("rb", buffering=0) as stream:
        while stream.read(_CHUNK):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="file size (default 1024)")
    parser.add_argument("--rounds", type=int, default=7, help="runs of each tool (default 7)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "sri-guard-bench",
        help="where the random file is kept between runs",
    )
    args = parser.parse_args()

    openssl = shutil.which("openssl")
    if openssl is None:
        sys.exit("openssl not found on PATH")
    sri_guard = Path(sys.executable).parent / "sri-guard"
    if not sri_guard.exists():
        sys.exit(f"{sri_guard} not found: install the package in this venv (pip install -e .)")

    path = ensure_file(args.size_mib, args.dir)
    warm(path)

    reference = [openssl, "dgst", "-sha384", str(path)]
    ours = [str(sri_guard), "hash", str(path)]
    report = args.dir / "time.txt" if Path("/usr/bin/time").exists() else None
    results: dict[str, list[Run]] = {"openssl": [], "sri-guard": []}
    for i in range(args.rounds):
        # Alternate which goes first so neither always gets the warmer cache or CPU.
        order = [("openssl", reference), ("sri-guard", ours)]
        for name, argv in order if i % 2 == 0 else reversed(order):
            results[name].append(run(argv, report))

    # Both must have hashed the same bytes.
    hex_digest = results["openssl"][0].stdout.rsplit("=", 1)[1].strip()
    expected = "sha384-" + base64.b64encode(bytes.fromhex(hex_digest)).decode()
    got = results["sri-guard"][0].stdout.split()[0]
    if got != expected:
        sys.exit(f"digest mismatch: openssl {expected}, sri-guard {got}")

    walls = {name: statistics.median(r.wall for r in runs) for name, runs in results.items()}
    rss = {name: max(r.max_rss_mb for r in runs) for name, runs in results.items()}
    ratio = walls["sri-guard"] / walls["openssl"]
    size_mb = path.stat().st_size / 1e6

    print(f"file: {path} ({args.size_mib} MiB), {args.rounds} rounds, alternating")
    print(f"{'tool':<28} {'median wall s':>13} {'MB/s':>8} {'peak RSS MB':>12}")
    for name, argv in (("openssl", reference), ("sri-guard", ours)):
        label = " ".join([Path(argv[0]).name, *argv[1:-1]])
        print(f"{label:<28} {walls[name]:>13.3f} {size_mb / walls[name]:>8.0f} {rss[name]:>12.1f}")
    print(f"peak RSS measured by {'/usr/bin/time' if report else 'wait4 (an upper bound)'}")
    print(f"ratio sri-guard/openssl: {ratio:.3f} (goal <= {GOAL_RATIO:.2f})")
    print(f"sri-guard peak RSS: {rss['sri-guard']:.1f} MB (goal < {GOAL_RSS_MB:.0f} MB)")
    met = ratio <= GOAL_RATIO and rss["sri-guard"] < GOAL_RSS_MB
    print("goal met" if met else "goal MISSED")


if __name__ == "__main__":
    main()
