"""The command line: parses options, builds the objects, calls one function per command.

Exit codes (contract): 0 clean, 1 a finding at or above --fail-on, 2 usage/config error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from sri_guard import __version__
from sri_guard.errors import SriGuardError

if TYPE_CHECKING:
    from sri_guard.fetch import Limits, Progress
    from sri_guard.model import Report

app = typer.Typer(
    name="sri-guard",
    help="JavaScript supply-chain integrity checker: SRI hashes, browser-exact "
    "verification, and baselines pinned in git.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"


class FailOn(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Report format.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the report here (default stdout).")
]
FailOnOpt = Annotated[
    FailOn,
    typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity."),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr; only the report.")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Config file.", show_default=True)]
BaselinesOpt = Annotated[
    Path | None,
    typer.Option("--baselines", help="Baselines directory (default: config's, else ./baselines)."),
]
AllowPrivateOpt = Annotated[
    bool,
    typer.Option(
        "--allow-private",
        help="Let pages point sri-guard at loopback/private/link-local addresses.",
    ),
]


def _fail(message: str) -> NoReturn:
    typer.echo(f"sri-guard: error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def _errors(debug: bool) -> Iterator[None]:
    """Turn every error into one line on stderr and exit 2 (a traceback only with --debug)."""
    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except SriGuardError as exc:
        if debug:
            raise
        _fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("sri-guard: interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        if debug:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)")


@contextmanager
def _progress(quiet: bool) -> Iterator[Progress | None]:
    """A progress bar on stderr while fetching: only on a terminal and without --quiet, so
    a cron job or a pipe gets the report and nothing else."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from sri_guard.progress import TerminalProgress

    with TerminalProgress() as bar:
        yield bar


def _write(text: str, output: Path | None) -> None:
    """Write the report, opening the output file only now that there is something to write."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SriGuardError(f"cannot write {output}: {exc.strerror or exc}") from None


def _emit(report: Report, fmt: Format, output: Path | None, fail_on: FailOn) -> NoReturn:
    from sri_guard._format import get_formatter
    from sri_guard.rules import Severity

    color = (
        fmt is Format.text
        and output is None
        and sys.stdout.isatty()
        and ("NO_COLOR" not in os.environ)
    )
    _write(get_formatter(fmt.value, color=color).format(report), output)
    raise typer.Exit(1 if report.failing(Severity.parse(fail_on.value)) else 0)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sri-guard {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """JavaScript supply-chain integrity checker."""


@app.command("hash")
def hash_command(
    sources: Annotated[
        list[str],
        typer.Argument(help="Files, http(s):// URLs, or - for stdin.", show_default=False),
    ],
    algorithm: Annotated[
        list[str] | None,
        typer.Option(
            "--algorithm",
            "-a",
            help="sha256, sha384 or sha512; repeat for several. [default: sha384]",
        ),
    ] = None,
    tag: Annotated[
        bool, typer.Option("--tag", help="Print a ready <script> or <link> tag instead.")
    ] = False,
    fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Print the SRI value of each file, URL or stdin ('INTEGRITY  SOURCE', like sha256sum)."""
    from sri_guard.sri import DEFAULT_ALGORITHM, check_algorithms

    with _errors(debug):
        try:
            algorithms = check_algorithms(algorithm or [DEFAULT_ALGORITHM])
        except ValueError as exc:
            _fail(str(exc))
        from sri_guard.commands import hash as hashing

        items, errors = hashing.run(sources, algorithms)
        if fmt is Format.text:
            if tag:
                text = "".join(hashing.tag(item) + "\n" for item in items)
            else:
                text = "".join(f"{item.integrity}  {item.source}\n" for item in items)
            _write(text, output)
        else:
            from sri_guard._format import get_formatter

            _write(get_formatter(fmt.value).format(hashing.to_report(items, len(sources))), output)
        for error in errors:
            typer.echo(f"sri-guard: error: {error}", err=True)
        if errors:
            raise typer.Exit(2)


TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Deadline in seconds for each fetch, all included.")
]
MaxSizeOpt = Annotated[
    int, typer.Option("--max-size", help="Largest body accepted, in bytes after decoding.")
]


def _limits(timeout: float, max_size: int) -> object:
    from sri_guard.fetch import Limits

    if timeout <= 0:
        _fail("--timeout must be positive")
    if max_size <= 0:
        _fail("--max-size must be positive")
    return Limits(deadline=timeout, max_bytes=max_size)


@app.command("scan")
def scan_command(
    pages: Annotated[
        list[str], typer.Argument(help="Page URLs or local HTML files.", show_default=False)
    ],
    fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
    fail_on: FailOnOpt = FailOn.medium,
    quiet: QuietOpt = False,
    allow_private: AllowPrivateOpt = False,
    timeout: TimeoutOpt = 30.0,
    max_size: MaxSizeOpt = 32 * 1024 * 1024,
    debug: DebugOpt = False,
) -> None:
    """Verify every subresource of pages exactly as a browser enforces integrity."""
    with _errors(debug):
        from sri_guard.commands import scan
        from sri_guard.fetch import Limits

        limits = _limits(timeout, max_size)
        assert isinstance(limits, Limits)
        with _progress(quiet) as progress:
            report = scan.run(pages, limits=limits, allow_private=allow_private, progress=progress)
        _emit(report, fmt, output, fail_on)


TargetsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Target names or URLs from the config (default: all).", show_default=False),
]
StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state", help="Evidence store directory (default: config's, else ./.sri-guard)."
    ),
]
ProfileOpt = Annotated[
    list[str] | None,
    typer.Option("--profile", "-p", help="Fetch as these profiles only (repeatable)."),
]


def _fetch_limits(timeout: float, max_size: int) -> Limits:
    from sri_guard.fetch import Limits

    limits = _limits(timeout, max_size)
    assert isinstance(limits, Limits)
    return limits


@app.command("pin")
def pin_command(
    targets: TargetsArg = None,
    add: Annotated[
        bool,
        typer.Option("--add", help="Approve the current values in addition to the pinned ones."),
    ] = False,
    config: ConfigOpt = Path("sri-guard.toml"),
    baselines: BaselinesOpt = None,
    state: StateOpt = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
    quiet: QuietOpt = False,
    allow_private: AllowPrivateOpt = False,
    timeout: TimeoutOpt = 30.0,
    max_size: MaxSizeOpt = 32 * 1024 * 1024,
    debug: DebugOpt = False,
) -> None:
    """Fetch the targets (all, or those named) and write their baselines."""
    with _errors(debug):
        from sri_guard.commands import pin

        with _progress(quiet) as progress:
            report, written = pin.run(
                config,
                baselines,
                targets or [],
                add=add,
                limits=_fetch_limits(timeout, max_size),
                allow_private=allow_private,
                state=state,
                profiles=profile,
                progress=progress,
            )
        if not quiet:
            for path in written:
                typer.echo(f"pinned {path}", err=True)
            if not written and not report.findings:
                typer.echo("baselines already up to date", err=True)
        _emit(report, fmt, output, FailOn.info)  # any finding (a failed fetch) fails a pin


@app.command("check")
def check_command(
    targets: TargetsArg = None,
    config: ConfigOpt = Path("sri-guard.toml"),
    baselines: BaselinesOpt = None,
    state: StateOpt = None,
    profile: ProfileOpt = None,
    notify: Annotated[
        list[str] | None,
        typer.Option("--notify", help="Apprise URL alerted when the check fails (repeatable)."),
    ] = None,
    fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
    fail_on: FailOnOpt = FailOn.medium,
    quiet: QuietOpt = False,
    allow_private: AllowPrivateOpt = False,
    timeout: TimeoutOpt = 30.0,
    max_size: MaxSizeOpt = 32 * 1024 * 1024,
    debug: DebugOpt = False,
) -> None:
    """The cron job: compare the targets with their baselines and report every change."""
    with _errors(debug):
        from sri_guard.commands import check
        from sri_guard.rules import Severity

        with _progress(quiet) as progress:
            report, errors = check.run(
                config,
                baselines,
                targets or [],
                fail_on=Severity.parse(fail_on.value),
                notify=notify or [],
                limits=_fetch_limits(timeout, max_size),
                allow_private=allow_private,
                state=state,
                profiles=profile,
                progress=progress,
            )
        for error in errors:
            typer.echo(f"sri-guard: warning: {error}", err=True)
        _emit(report, fmt, output, fail_on)


@app.command("history")
def history_command(
    target: Annotated[
        str | None, typer.Argument(help="A target name or URL.", show_default=False)
    ] = None,
    config: ConfigOpt = Path("sri-guard.toml"),
    state: StateOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="Most recent runs shown.")] = 20,
    debug: DebugOpt = False,
) -> None:
    """Show the run log and the captured changes from the evidence store."""
    with _errors(debug):
        from sri_guard.commands import history

        _write(history.run(config, state, target, limit), None)


@app.command("demo")
def demo_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo writes its config, baselines and state.")
    ] = Path("sri-guard-demo"),
    debug: DebugOpt = False,
) -> None:
    """Replay the 2020 TaskRouter SDK tampering on loopback: pin, check, tamper, check."""
    with _errors(debug):
        from sri_guard.commands import demo

        ok = demo.run(directory, typer.echo)
        raise typer.Exit(0 if ok else 1)


BuildDirArg = Annotated[
    Path, typer.Argument(help="The build output: a directory of HTML files.", show_default=False)
]
RootOpt = Annotated[
    Path | None,
    typer.Option("--root", help="Directory served at the site root (default: BUILD_DIR)."),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url", help="URL the web root is served at, e.g. https://example.com/docs/."
    ),
]


@app.command("stamp")
def stamp_command(
    build_dir: BuildDirArg,
    algorithm: Annotated[
        list[str] | None,
        typer.Option(
            "--algorithm",
            "-a",
            help="sha256, sha384 or sha512; repeat for several. [default: sha384]",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    root: RootOpt = None,
    base_url: BaseUrlOpt = None,
    fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
    fail_on: FailOnOpt = FailOn.medium,
    quiet: QuietOpt = False,
    timeout: TimeoutOpt = 30.0,
    max_size: MaxSizeOpt = 32 * 1024 * 1024,
    debug: DebugOpt = False,
) -> None:
    """Add or correct integrity (and crossorigin) on every reference in a build, in place."""
    from sri_guard.sri import DEFAULT_ALGORITHM, check_algorithms

    with _errors(debug):
        try:
            algorithms = check_algorithms(algorithm or [DEFAULT_ALGORITHM])
        except ValueError as exc:
            _fail(str(exc))
        from sri_guard.commands import stamp

        report = stamp.run(
            build_dir,
            algorithms=algorithms,
            root=root,
            base_url=base_url,
            dry_run=dry_run,
            limits=_fetch_limits(timeout, max_size),
        )
        _emit(report, fmt, output, fail_on)


@app.command("verify")
def verify_command(
    build_dir: BuildDirArg,
    root: RootOpt = None,
    base_url: BaseUrlOpt = None,
    fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
    fail_on: FailOnOpt = FailOn.medium,
    quiet: QuietOpt = False,
    timeout: TimeoutOpt = 30.0,
    max_size: MaxSizeOpt = 32 * 1024 * 1024,
    debug: DebugOpt = False,
) -> None:
    """Check a build without changing it: every integrity matches its file or URL."""
    with _errors(debug):
        from sri_guard.commands import verify

        report = verify.run(
            build_dir, root=root, base_url=base_url, limits=_fetch_limits(timeout, max_size)
        )
        _emit(report, fmt, output, fail_on)


def main() -> None:
    """Console-script entry point."""
    app()
