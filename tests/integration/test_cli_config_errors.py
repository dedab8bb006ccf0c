"""Bad config and bad baselines: exit 2, one line naming the file (and line), no traceback,
nothing fetched and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import Server


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[target]]\nurl = "https://a.example/x.js"\ncolour = "red"\n',
            "sri-guard.toml:3: unknown key 'colour'",
        ),
        (
            '[[target]]\nurl = "ftp://a.example/x.js"\n',
            "sri-guard.toml:2: bad URL 'ftp://a.example/x.js'",
        ),
        ('[[target]]\nurl = "https://a.example:99999/x.js"\n', "invalid port"),
        ("[[target]]\nurl = 42\n", "sri-guard.toml:2: 'url' must be a string"),
        ('[[target]]\nname = "x"\n', "sri-guard.toml:1: [[target]] needs a 'url'"),
        (
            '[[target]]\nurl = "https://a.example/"\npolicy = "yolo"\n',
            "sri-guard.toml:3: unknown policy 'yolo'",
        ),
        (
            '[[target]]\nurl = "https://a.example/"\nkind = "video"\n',
            "sri-guard.toml:3: kind must be",
        ),
        (
            '[[target]]\nurl = "https://a.example/"\nprofiles = ["nokia"]\n',
            "unknown profile 'nokia'",
        ),
        ("baselines = 3\n", "sri-guard.toml:1: 'baselines' must be a non-empty string"),
        ('notify = "json://x"\nfoo = 1\n', "sri-guard.toml:2: unknown key 'foo'"),
        ("[[target]\nurl = \n", "invalid TOML"),
        (
            '[[target]]\nurl = "https://a.example/"\n[[target.resource]]\npolicy = "pin"\n',
            "sri-guard.toml:3: [[target.resource]] needs a 'url'",
        ),
    ],
)
def test_invalid_config_exits_2_naming_file_and_line(
    run, tmp_path: Path, text: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sri-guard.toml").write_text(text)
    for command in ("check", "pin"):
        r = run(command)
        assert r.code == 2, r.stderr
        assert r.stdout == ""
        assert expected in r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "baselines").exists()


def test_missing_config(run) -> None:  # type: ignore[no-untyped-def]
    r = run("check")
    assert r.code == 2
    assert "sri-guard.toml: config file not found" in r.stderr


def test_unknown_target_name(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sri-guard.toml").write_text('[[target]]\nurl = "https://a.example/"\nname = "a"\n')
    r = run("check", "b")
    assert r.code == 2 and "no target named or with URL 'b'" in r.stderr


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: "{not json", "not JSON"),
        (lambda t: t.replace('"schema": 1', '"schema": 7'), "schema must be 1"),
        (lambda t: t.replace('"sha384-', '"md5-'), "is not an SRI value"),
        (
            lambda t: t.replace('"kind": "file",\n  "profiles"', '"kind": "movie",\n  "profiles"'),
            "kind must be",
        ),
        (lambda t: t.replace('"size": ', '"size": "big", "x": '), "size must be"),
    ],
)
def test_corrupt_baseline_exits_2_naming_the_file(
    run, tmp_path: Path, server: Server, mutate, expected: str
) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/sdk.js", "sdk()", content_type="application/javascript")
    (tmp_path / "sri-guard.toml").write_text(f'[[target]]\nurl = "{url}"\n')
    assert run("pin").code == 0
    path = next((tmp_path / "baselines").glob("*.json"))
    path.write_text(mutate(path.read_text()))
    broken = path.read_bytes()
    r = run("check")
    assert r.code == 2, r.stdout + r.stderr
    assert path.name in r.stderr and expected in r.stderr
    assert "Traceback" not in r.stderr
    assert run("pin").code == 2
    assert path.read_bytes() == broken


def test_notify_url_typo_is_exit_2(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sri-guard.toml").write_text('[[target]]\nurl = "https://a.example/"\n')
    r = run("check", "--notify", "nosuchscheme://x")
    assert r.code == 2 and "not one apprise supports" in r.stderr
