"""`sri-guard check` at scale, side by side with the script a user would otherwise write.

Serves N files of 2-150 KB from a loopback nginx, pins them, then times in one run:

* reference: `curl --parallel` making the same number of fetches sri-guard makes (one per
  client profile), then `sha384sum` over the downloaded files;
* `sri-guard check` (the installed console script, start-up included) with those profiles.

Prints the ratio (sri-guard wall time / reference wall time), sri-guard's peak RSS, and how
time grows with N. Run:  .venv/bin/python -m benchmarks.check_scale [--sizes 500 2000 8000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NGINX_CONF = """
worker_processes 2;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000;
    types {{ application/javascript js; }}
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_files(www: Path, count: int) -> list[str]:
    rng = random.Random(count)
    names = []
    for i in range(count):
        name = f"lib{i:05d}.js"
        size = rng.randint(2 * 1024, 150 * 1024)
        (www / name).write_bytes(rng.randbytes(size))
        names.append(name)
    return names


def peak_rss_mb_of(command: list[str], **kwargs: object) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, **kwargs)  # type: ignore[call-overload]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def run_size(count: int, profiles: list[str], sri_guard: str) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="sri-guard-bench-"))
    root.chmod(0o755)  # nginx's workers run as an unprivileged user
    (root / "www").mkdir()
    (root / "tmp").mkdir()
    port = free_port()
    names = make_files(root / "www", count)
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port))
    nginx = subprocess.Popen(["nginx", "-c", str(root / "nginx.conf")], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        urls = [f"http://127.0.0.1:{port}/{n}" for n in names]
        work = root / "work"
        work.mkdir()
        config = ["profiles = [" + ", ".join(f'"{p}"' for p in profiles) + "]"]
        config += [f'[[target]]\nurl = "{u}"\nkind = "file"' for u in urls]
        (work / "sri-guard.toml").write_text("\n".join(config) + "\n")
        env = {**os.environ, "NO_PROXY": "*"}
        quiet = {
            "stdout": subprocess.DEVNULL,
            "stderr": subprocess.DEVNULL,
            "cwd": work,
            "env": env,
        }
        pinned = subprocess.run(
            [sri_guard, "pin", "-q"], cwd=work, env=env, capture_output=True, text=True, check=False
        )
        if pinned.returncode != 0:
            raise SystemExit(f"sri-guard pin failed:\n{pinned.stdout[-2000:]}{pinned.stderr}")

        # Reference: the same number of fetches with curl --parallel, then sha384sum.
        out = root / "curl"
        curl_config = root / "curl.cfg"
        lines = []
        for p in range(len(profiles)):
            (out / str(p)).mkdir(parents=True)
            for n, u in zip(names, urls, strict=True):
                lines.append(f'url = "{u}"\noutput = "{out / str(p) / n}"')
        curl_config.write_text("\n".join(lines) + "\n")
        start = time.perf_counter()
        subprocess.run(
            ["curl", "--parallel", "--parallel-max", "64", "-s", "-K", str(curl_config)],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        files = [str(f) for f in sorted(out.rglob("*.js"))]
        for i in range(0, len(files), 2000):
            subprocess.run(
                ["sha384sum", *files[i : i + 2000]], check=True, stdout=subprocess.DEVNULL
            )
        reference = time.perf_counter() - start

        wall, rss, code = peak_rss_mb_of([sri_guard, "check", "-q"], **quiet)
        if code != 0:
            raise SystemExit(f"sri-guard check exited {code} on an unchanged set")
        return {
            "files": count,
            "fetches": count * len(profiles),
            "reference": reference,
            "sri_guard": wall,
            "ratio": wall / reference,
            "rss_mb": rss,
        }
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 8000])
    parser.add_argument("--profiles", nargs="+", default=["desktop", "iphone", "android"])
    args = parser.parse_args()
    if shutil.which("nginx") is None:
        raise SystemExit("nginx is needed: apt-get install nginx-light")
    sri_guard = str(Path(sys.executable).parent / "sri-guard")
    print(f"profiles: {' '.join(args.profiles)}; cores: {os.cpu_count()}")
    header = ("files", "fetches", "reference s", "sri-guard s", "ratio", "peak RSS MB")
    print("{:>6} {:>8} {:>12} {:>12} {:>6} {:>12}".format(*header))
    for count in args.sizes:
        r = run_size(count, args.profiles, sri_guard)
        print(
            f"{r['files']:>6.0f} {r['fetches']:>8.0f} {r['reference']:>12.2f} "
            f"{r['sri_guard']:>12.2f} {r['ratio']:>6.2f} {r['rss_mb']:>12.1f}"
        )


if __name__ == "__main__":
    main()
