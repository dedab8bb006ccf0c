"""The pre-commit hook and the GitHub Action run what they declare, against a real build."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

APP = b"console.log('app');\n"


def integrity(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def make_build(directory: Path, *, tampered: bool = False) -> Path:
    build = directory / "dist"
    build.mkdir()
    (build / "app.js").write_bytes(b"tampered" if tampered else APP)
    (build / "index.html").write_text(
        f'<!doctype html><script src="/app.js" integrity="{integrity(APP)}"></script>\n'
    )
    return build


def read_hooks(path: Path) -> list[dict[str, str]]:
    """The few lines of .pre-commit-hooks.yaml: a list of flat `key: value` mappings.
    (Parsed by hand so the test needs no YAML library.)"""
    hooks: list[dict[str, str]] = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^(- |  )([a-z_]+): (.*)$", line)
        assert match, f"unexpected line in {path.name}: {line!r}"
        if match.group(1) == "- ":
            hooks.append({})
        hooks[-1][match.group(2)] = match.group(3).strip()
    return hooks


def path_env(env: dict[str, str]) -> dict[str, str]:
    """The test environment with the installed `sri-guard` first on PATH."""
    return {**env, "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")}


def test_pre_commit_hook_runs_verify(env: dict[str, str], tmp_path: Path) -> None:
    (hook,) = read_hooks(ROOT / ".pre-commit-hooks.yaml")
    assert hook["id"] == "sri-guard-verify"
    assert hook["language"] == "python" and hook["pass_filenames"] == "false"
    assert re.search(hook["files"], "dist/index.html") and re.search(hook["files"], "a.mjs")
    # pre-commit runs `entry` + the user's `args` (the build directory), no file names.
    command = [*shlex.split(hook["entry"]), "dist"]
    assert command[:2] == ["sri-guard", "verify"]

    clean = tmp_path / "clean"
    clean.mkdir()
    make_build(clean)
    proc = subprocess.run(
        command, cwd=clean, env=path_env(env), capture_output=True, text=True, check=False
    )
    assert (proc.returncode, proc.stdout) == (0, "0 findings in 1 target, 1 resource\n")

    bad = tmp_path / "bad"
    bad.mkdir()
    make_build(bad, tampered=True)
    proc = subprocess.run(
        command, cwd=bad, env=path_env(env), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1 and "integrity-mismatch" in proc.stdout


@pytest.fixture(scope="module")
def action() -> dict[str, object]:
    yaml = pytest.importorskip("yaml")
    document = yaml.safe_load((ROOT / "action.yml").read_text())
    assert isinstance(document, dict)
    return document


def _steps(action: dict[str, object]) -> list[dict[str, object]]:
    runs = action["runs"]
    assert isinstance(runs, dict) and runs["using"] == "composite"
    steps = runs["steps"]
    assert isinstance(steps, list)
    return steps


def test_action_installs_verifies_and_uploads_sarif(action: dict[str, object]) -> None:
    steps = _steps(action)
    uses = [s.get("uses") for s in steps if "uses" in s]
    assert uses == ["actions/setup-python@v6", "github/codeql-action/upload-sarif@v4"]
    install = next(s for s in steps if s.get("name") == "Install sri-guard")
    assert "pip install" in str(install["run"])
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql"))  # type: ignore[union-attr]
    assert upload["with"] == {"sarif_file": "${{ inputs.sarif-file }}", "category": "sri-guard"}
    # Inputs reach scripts through env only: no ${{ }} expansion inside a script (injection).
    for step in steps:
        assert "${{" not in str(step.get("run", "")), step.get("name")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("tampered", "code"), [(False, 0), (True, 1)])
def test_action_verify_step_writes_sarif_and_exit_code(
    action: dict[str, object],
    env: dict[str, str],
    tmp_path: Path,
    tampered: bool,
    code: int,
) -> None:
    step = next(s for s in _steps(action) if s.get("id") == "verify")
    make_build(tmp_path, tampered=tampered)
    outputs = tmp_path / "github_output"
    variables = {
        **path_env(env),
        "BUILD_DIR": "dist",
        "EXTRA_ARGS": "--base-url https://example.com/",
        "FAIL_ON": "medium",
        "SARIF_FILE": "sri-guard.sarif",
        "GITHUB_OUTPUT": str(outputs),
    }
    # GitHub runs `shell: bash` steps as `bash --noprofile --norc -eo pipefail {0}`.
    script = tmp_path / "step.sh"
    script.write_text(str(step["run"]))
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path,
        env=variables,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr  # findings fail the job later, after the upload
    assert outputs.read_text() == f"exit-code={code}\n"
    sarif = json.loads((tmp_path / "sri-guard.sarif").read_text())
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == (["integrity-mismatch"] if tampered else [])

    variables["BUILD_DIR"] = "missing"
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path,
        env=variables,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "missing: no such directory" in proc.stderr
