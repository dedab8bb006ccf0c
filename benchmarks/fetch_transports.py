"""The fetcher's transports, side by side with `curl --parallel` + `sha384sum`.

Serves N files of 2-150 KB (deterministic sizes and bytes) from nginx on 127.0.0.1, then,
alternating for a few rounds, times:

* reference: `curl --parallel --parallel-max 64 --output-dir OUT -O URL...` (the URLs in a
  `-K` config file), then `sha384sum` over the downloaded files;
* `sri_guard.fetch.Fetcher(transport="aiohttp")` fetching every URL at once through
  `asyncio.gather`, hashing on the fly (sha384 only, no body kept);
* the same with `transport="httpx"` (httpx's own HTTP/1.1 transport);
* the same with `transport="aiohttp"` computing all three SRI digests (`fetch()`'s default);
* a floor: aiohttp alone (no httpx layer, none of the fetcher's checks), sha384 on the fly.

Each fetcher variant runs in a fresh interpreter (timed from opening the Fetcher to the last
result, start-up excluded) and its digests are checked against the served bytes. Prints
the median wall time per variant, its ratio to the reference, and peak RSS. nginx is always
stopped at the end. Run:

    .venv/bin/python -m benchmarks.fetch_transports [--files 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NGINX_CONF = """\
worker_processes {workers};
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 60s;
    keepalive_requests 100000;
    types {{ application/javascript js; }}
    default_type application/octet-stream;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
    }}
}}
"""

# name, transport, algorithms
VARIANTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Fetcher aiohttp, sha384", "aiohttp", ("sha384",)),
    ("Fetcher httpx, sha384", "httpx", ("sha384",)),
    ("Fetcher aiohttp, 3 digests", "aiohttp", ("sha256", "sha384", "sha512")),
    ("floor: bare aiohttp, sha384", "bare-aiohttp", ("sha384",)),
)
REFERENCE = "curl --parallel 64 + sha384sum"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_files(www: Path, count: int) -> dict[str, str]:
    """Write `count` files of 2-150 KB; return name -> sha384 hex of each."""
    rng = random.Random(20240601 + count)
    expected = {}
    for i in range(count):
        data = rng.randbytes(rng.randint(2 * 1024, 150 * 1024))
        name = f"lib{i:05d}.js"
        (www / name).write_bytes(data)
        expected[name] = hashlib.sha384(data).hexdigest()
    return expected


def start_nginx(root: Path, port: int, workers: str) -> subprocess.Popen[bytes]:
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port, workers=workers))
    nginx = subprocess.Popen(
        ["nginx", "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if nginx.poll() is not None:
            log = (root / "error.log").read_text(errors="replace")
            raise SystemExit(f"nginx exited {nginx.returncode}:\n{log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return nginx
        except OSError:
            time.sleep(0.05)
    nginx.kill()
    raise SystemExit("nginx did not start listening within 5 s")


def stop_nginx(nginx: subprocess.Popen[bytes]) -> None:
    if nginx.poll() is None:
        nginx.terminate()  # SIGTERM: fast shutdown of the master and its workers
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait()


def run_reference(
    root: Path, out: Path, urls: list[str], expected: dict[str, str]
) -> tuple[float, float]:
    """(total seconds, download-only seconds) for curl --parallel into `out`, then sha384sum."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    config = root / "curl.cfg"
    lines = [f'output-dir = "{out}"', "remote-name-all"]
    lines += [f'url = "{u}"' for u in urls]
    config.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    # (curl 7.88 shows its parallel progress meter despite -s; --no-progress-meter works.)
    curl = ["curl", "--parallel", "--parallel-max", "64", "--no-progress-meter", "-S"]
    subprocess.run([*curl, "--noproxy", "*", "-K", str(config)], check=True)
    downloaded = time.perf_counter() - started
    names = sorted(expected)
    sums: list[str] = []
    for i in range(0, len(names), 1000):  # stay well under ARG_MAX
        done = subprocess.run(
            ["sha384sum", *names[i : i + 1000]],
            cwd=out,
            check=True,
            capture_output=True,
            text=True,
        )
        sums += done.stdout.splitlines()
    total = time.perf_counter() - started
    got = {line.split()[1]: line.split()[0] for line in sums}
    if got != expected:
        raise SystemExit("curl + sha384sum: digests differ from the served files")
    return total, downloaded


def run_variant(
    transport: str, algorithms: tuple[str, ...], urls_file: Path, per_host: int | None
) -> dict[str, float]:
    """One fetcher variant in a fresh interpreter (this module's --worker mode)."""
    argv = [sys.executable, "-m", "benchmarks.fetch_transports", "--worker", transport]
    argv += ["--urls-file", str(urls_file), "--algorithms", *algorithms]
    if per_host is not None:
        argv += ["--per-host", str(per_host)]
    env = {**os.environ, "NO_PROXY": "*", "no_proxy": "*"}
    done = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
    return dict(json.loads(done.stdout))


async def bare_aiohttp(urls: list[str], per_host: int) -> tuple[float, dict[str, str]]:
    """The floor: aiohttp alone, same concurrency, sha384 on the fly; none of the fetcher's
    checks (no limits, redirects, codings, retries) and no httpx layer."""
    import aiohttp

    started = time.perf_counter()
    slots = asyncio.Semaphore(per_host)
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str) -> tuple[str, str]:
            async with slots, session.get(url, auto_decompress=False) as response:
                response.raise_for_status()
                digest = hashlib.sha384()
                async for chunk in response.content.iter_any():
                    digest.update(chunk)
                return url, digest.hexdigest()

        digests = dict(await asyncio.gather(*(one(url) for url in urls)))
    return time.perf_counter() - started, digests


def worker(
    transport: str, algorithms: tuple[str, ...], urls_file: Path, per_host: int | None
) -> None:
    """Fetch every URL at once through one Fetcher; print wall time, RSS and mismatches."""
    from sri_guard.fetch import Fetcher, FetchResult, Limits

    expected: dict[str, str] = json.loads(urls_file.read_text())
    limits = Limits() if per_host is None else Limits(per_host=per_host)

    async def go() -> tuple[float, list[FetchResult]]:
        started = time.perf_counter()
        async with Fetcher(limits, transport=transport) as fetcher:  # type: ignore[arg-type]
            results = await asyncio.gather(
                *(fetcher.fetch(url, algorithms=algorithms) for url in expected)
            )
        return time.perf_counter() - started, results

    if transport == "bare-aiohttp":
        wall, digests = asyncio.run(bare_aiohttp(list(expected), limits.per_host))
    else:
        wall, results = asyncio.run(go())
        # The fetcher always computes sha384, whatever else is asked for.
        digests = {r.url: r.digests["sha384"].hex() for r in results}
    wrong = sum(1 for url, digest in expected.items() if digests.get(url) != digest)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    print(json.dumps({"wall": wall, "rss_mb": rss_mb, "wrong": wrong}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=2000, help="files served (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument(
        "--per-host",
        type=int,
        default=None,
        help="Limits.per_host for the fetchers (default: the Fetcher's own, 16)",
    )
    parser.add_argument("--nginx-workers", default="1", help="worker_processes (default 1)")
    parser.add_argument(
        "--worker", choices=["aiohttp", "httpx", "bare-aiohttp"], help=argparse.SUPPRESS
    )
    parser.add_argument("--urls-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--algorithms", nargs="+", default=["sha384"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, tuple(args.algorithms), args.urls_file, args.per_host)
        return

    for tool in ("nginx", "curl", "sha384sum"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (nginx: apt-get install nginx-light)")
    root = Path(tempfile.mkdtemp(prefix="sri-guard-fetch-bench-"))
    # curl writes its downloads to a tmpfs when there is one: the reference then pays no
    # disk writeback (which made it vary by 2x between rounds), so it is at its fastest.
    shm = Path("/dev/shm")
    scratch = Path(tempfile.mkdtemp(prefix="sri-guard-curl-", dir=shm)) if shm.is_dir() else root
    try:
        root.chmod(0o755)  # nginx's workers run as an unprivileged user
        (root / "www").mkdir()
        (root / "tmp").mkdir()
        expected = make_files(root / "www", args.files)
        total_mb = sum(f.stat().st_size for f in (root / "www").iterdir()) / 1e6
        port = free_port()
        urls = {f"http://127.0.0.1:{port}/{name}": digest for name, digest in expected.items()}
        urls_file = root / "urls.json"
        urls_file.write_text(json.dumps(urls))
        nginx = start_nginx(root, port, args.nginx_workers)
        try:
            walls: dict[str, list[float]] = {REFERENCE: [], **{v[0]: [] for v in VARIANTS}}
            download: list[float] = []
            rss: dict[str, float] = {}
            for i in range(args.rounds):
                order = [REFERENCE, *(v[0] for v in VARIANTS)]
                if i % 2:
                    order.reverse()  # neither side always runs first
                for name in order:
                    if name == REFERENCE:
                        out = scratch / "curl-out"
                        total, fetched = run_reference(root, out, list(urls), expected)
                        walls[name].append(total)
                        download.append(fetched)
                        continue
                    _, transport, algorithms = next(v for v in VARIANTS if v[0] == name)
                    r = run_variant(transport, algorithms, urls_file, args.per_host)
                    if r["wrong"]:
                        raise SystemExit(f"{name}: {r['wrong']:.0f} digests differ")
                    walls[name].append(r["wall"])
                    rss[name] = max(rss.get(name, 0.0), r["rss_mb"])
        finally:
            stop_nginx(nginx)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)

    reference = statistics.median(walls[REFERENCE])
    per_host = args.per_host if args.per_host is not None else "16 (default)"
    print(
        f"{args.files} files, {total_mb:.0f} MB, nginx workers {args.nginx_workers}, "
        f"{args.rounds} rounds alternating, cores {os.cpu_count()}, per_host {per_host}"
    )
    print(f"curl writes to {scratch.parent if scratch != root else root}")
    print(f"{'variant':<32} {'median s':>9} {'MB/s':>7} {'ratio':>6} {'peak RSS MB':>12}")
    for name, times in walls.items():
        wall = statistics.median(times)
        memory = f"{rss[name]:>12.1f}" if name in rss else f"{'':>12}"
        print(f"{name:<32} {wall:>9.2f} {total_mb / wall:>7.0f} {wall / reference:>6.2f} {memory}")
    print(f"(reference download alone, curl: {statistics.median(download):.2f} s)")


if __name__ == "__main__":
    main()
