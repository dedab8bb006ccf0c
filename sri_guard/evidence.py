"""The evidence store: every distinct body ever fetched, content-addressed, and an
append-only log of every run in SQLite (PCI DSS 11.6.1 asks for both: a record of each run,
quiet ones included, and the captured bytes of each change).

Layout of the state directory (default `.sri-guard/`):

    objects/ab/cdef…   the exact decoded bytes served, named by their sha384 (hex)
    log.sqlite3        runs, observations and findings, appended, never rewritten

Only complete responses reach here: a failed fetch has no body to store.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sri_guard import __version__
from sri_guard.errors import SriGuardError
from sri_guard.model import Finding

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL,
    finished TEXT,
    command TEXT NOT NULL,
    version TEXT NOT NULL,
    targets INTEGER NOT NULL DEFAULT 0,
    resources INTEGER NOT NULL DEFAULT 0,
    findings INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER
);
CREATE TABLE IF NOT EXISTS observations (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    target TEXT NOT NULL,
    url TEXT NOT NULL,
    page TEXT,
    profile TEXT,
    kind TEXT NOT NULL,
    integrity TEXT,
    size INTEGER,
    status INTEGER,
    error TEXT
);
CREATE TABLE IF NOT EXISTS findings (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    url TEXT NOT NULL,
    page TEXT,
    profile TEXT,
    message TEXT NOT NULL,
    expected TEXT,
    actual TEXT
);
CREATE INDEX IF NOT EXISTS observations_target ON observations(target, run_id);
"""


@dataclass(frozen=True, slots=True)
class Observed:
    """One row of the run log: a resource seen (or not) in a run."""

    target: str
    """The config target it belongs to."""
    url: str
    """The resource URL."""
    page: str | None
    """The page that loads it, if any."""
    profile: str | None
    """The client profile that fetched it."""
    kind: str
    """page, file, script, style, ..."""
    integrity: str | None
    """sha384 SRI value of the bytes served; None when the fetch failed."""
    size: int | None = None
    """Decoded size."""
    status: int | None = None
    """HTTP status."""
    error: str | None = None
    """Why the fetch failed."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_name(integrity: str) -> str | None:
    """The object file name (hex sha384) for a sha384 SRI value; None for other algorithms."""
    if not integrity.startswith("sha384-"):
        return None
    try:
        return base64.b64decode(integrity[7:], validate=True).hex()
    except ValueError:
        return None


class Evidence:
    """A state directory: bodies by hash and the run log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.objects.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.root / "log.sqlite3")
                self._db.executescript(_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                raise SriGuardError(f"{self.root}: cannot open the evidence store: {exc}") from None
        return self._db

    def path_of(self, integrity: str) -> Path | None:
        """Where the body with this sha384 value is (or would be) stored."""
        name = object_name(integrity)
        if name is None:
            return None
        return self.objects / name[:2] / name[2:]

    def store(self, integrity: str, body: bytes) -> Path | None:
        """Keep a body (once per distinct content); return its path."""
        path = self.path_of(integrity)
        if path is None or path.exists():
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as stream:
                stream.write(body)
            os.replace(tmp, path)
        except OSError as exc:
            raise SriGuardError(f"{self.root}: cannot store evidence: {exc}") from None
        return path

    def body(self, integrity: str) -> bytes | None:
        """The stored body for a sha384 value, if it was ever captured here."""
        path = self.path_of(integrity)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None

    def start_run(self, command: str) -> int:
        """Open a run in the log and return its id."""
        db = self._connect()
        with db:
            cursor = db.execute(
                "INSERT INTO runs (started, command, version) VALUES (?, ?, ?)",
                (_now(), command, __version__),
            )
        return int(cursor.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        *,
        targets: int,
        observed: Sequence[Observed],
        findings: Sequence[Finding],
        exit_code: int,
    ) -> None:
        """Append what a run saw and found, and close it."""
        db = self._connect()
        with db:
            db.executemany(
                "INSERT INTO observations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        o.target,
                        o.url,
                        o.page,
                        o.profile,
                        o.kind,
                        o.integrity,
                        o.size,
                        o.status,
                        o.error,
                    )
                    for o in observed
                ],
            )
            db.executemany(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        f.rule,
                        str(f.level),
                        f.url,
                        f.page,
                        f.profile,
                        f.message,
                        f.expected,
                        f.actual,
                    )
                    for f in findings
                ],
            )
            db.execute(
                "UPDATE runs SET finished = ?, targets = ?, resources = ?, findings = ?, "
                "exit_code = ? WHERE id = ?",
                (_now(), targets, len(observed), len(findings), exit_code, run_id),
            )

    def runs(self, target: str | None = None, limit: int = 50) -> list[sqlite3.Row]:
        """The most recent runs, newest first (only those that saw `target`, if given)."""
        db = self._connect()
        db.row_factory = sqlite3.Row
        if target is None:
            return list(db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)))
        return list(
            db.execute(
                "SELECT * FROM runs WHERE id IN (SELECT run_id FROM observations WHERE target = ?)"
                " ORDER BY id DESC LIMIT ?",
                (target, limit),
            )
        )

    def changes(self, target: str) -> list[sqlite3.Row]:
        """For each (url, profile) of a target, every run where the bytes served changed."""
        db = self._connect()
        db.row_factory = sqlite3.Row
        rows = list(
            db.execute(
                "SELECT o.*, r.started FROM observations o JOIN runs r ON r.id = o.run_id "
                "WHERE o.target = ? ORDER BY o.url, o.profile, o.run_id",
                (target,),
            )
        )
        out: list[sqlite3.Row] = []
        last: dict[tuple[str, str | None], str | None] = {}
        for row in rows:
            key = (row["url"], row["profile"])
            if row["integrity"] is None:
                out.append(row)
                continue
            if last.get(key, "") != row["integrity"]:
                out.append(row)
                last[key] = row["integrity"]
        return out

    def findings_of(self, run_ids: Iterable[int]) -> list[sqlite3.Row]:
        """Findings recorded for some runs."""
        ids = list(run_ids)
        if not ids:
            return []
        db = self._connect()
        db.row_factory = sqlite3.Row
        marks = ",".join("?" * len(ids))
        return list(db.execute(f"SELECT * FROM findings WHERE run_id IN ({marks})", ids))

    def close(self) -> None:
        """Close the log."""
        if self._db is not None:
            self._db.close()
            self._db = None
