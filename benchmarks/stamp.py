"""`sri-guard stamp` and `verify` on a large build, side by side with `sha384sum`.

Generates a build in a temp directory: PAGES HTML pages, each with REFS references
(scripts, module scripts, stylesheets, preloads; root-relative and relative, quoted all
three ways, upper and lower case) over PAGES x REFS distinct asset files of 1-40 KB. Then
times, each as a subprocess with start-up included:

* reference: `sha384sum` over every asset (the hashing alone, no HTML read or written);
* `sri-guard stamp` on the fresh build (hashes, edits and rewrites every page);
* `sri-guard stamp` again (nothing to change: reads and hashes, writes nothing);
* `sri-guard verify`.

Prints files, seconds and the ratio to the reference. No assertion: a figure to watch.
Run:  .venv/bin/python -m benchmarks.stamp [--pages 200] [--refs 20]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATES = (
    '<script src="/assets/{name}.js"></script>',
    "<SCRIPT SRC='../assets/{name}.js' DEFER></SCRIPT>",
    '<script type="module" src="/assets/{name}.js"></script>',
    "<link rel=stylesheet href=/assets/{name}.css>",
    '<link rel="preload" as="script"\n      href="/assets/{name}.js">',
)


def make_build(root: Path, pages: int, refs: int) -> tuple[int, int]:
    """Write the build; return (HTML pages, asset files)."""
    rng = random.Random(pages * 1000 + refs)
    assets = root / "assets"
    assets.mkdir(parents=True)
    (root / "p").mkdir()
    count = 0
    for page in range(pages):
        lines = ["<!DOCTYPE html>", "<html><head>", "<!-- generated -->"]
        for ref in range(refs):
            template = TEMPLATES[ref % len(TEMPLATES)]
            name = f"a{page:04d}-{ref:02d}"
            suffix = ".css" if "stylesheet" in template else ".js"
            size = rng.randint(1024, 40 * 1024)
            (assets / (name + suffix)).write_bytes(rng.randbytes(size))
            count += 1
            lines.append("  " + template.format(name=name))
        lines += [
            "<script>var s = '<not a tag>';</script>",
            "</head><body><p>page</p></body></html>",
        ]
        (root / "p" / f"page{page:04d}.html").write_text("\n".join(lines) + "\n")
    return pages, count


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed ({proc.returncode}): {proc.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--refs", type=int, default=20)
    args = parser.parse_args()
    script = Path(sys.executable).parent / "sri-guard"
    sri_guard = [str(script)] if script.exists() else [sys.executable, "-m", "sri_guard"]
    with tempfile.TemporaryDirectory(prefix="sri-guard-bench-") as temp:
        work = Path(temp)
        build = work / "site"
        pages, assets = make_build(build, args.pages, args.refs)
        files = sorted(str(p) for p in (build / "assets").iterdir())
        reference = None
        if shutil.which("sha384sum"):
            reference = timed(["sha384sum", *files], work)
        first = timed([*sri_guard, "stamp", "site", "-q"], work)
        second = timed([*sri_guard, "stamp", "site", "-q"], work)
        verify = timed([*sri_guard, "verify", "site", "-q"], work)
        check = subprocess.run(
            [*sri_guard, "verify", "site", "--format", "json"],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
    print(f"build: {pages} HTML pages, {assets} asset files, {pages * args.refs} references")
    if reference is not None:
        print(f"sha384sum over the assets       {reference:7.2f} s   (reference)")
    for label, seconds in (
        ("sri-guard stamp (fresh build)", first),
        ("sri-guard stamp (second run)", second),
        ("sri-guard verify", verify),
    ):
        ratio = f"   x{seconds / reference:.1f}" if reference else ""
        print(f"{label:<32}{seconds:7.2f} s{ratio}")
    print(f"verify after stamp exited {check.returncode}")


if __name__ == "__main__":
    main()
