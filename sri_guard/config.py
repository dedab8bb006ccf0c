"""Config: `sri-guard.toml` loaded and validated into frozen values.

Every problem is a ConfigError naming the file, the line (where TOML lets us find it) and
the reason, so a cron job fails loudly with exit 2 rather than checking the wrong thing.
Trust: the config is the user's own file; its URLs are fetched as given (explicit targets
may be on private addresses), unlike URLs a fetched page points at.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from sri_guard.errors import ConfigError
from sri_guard.profiles import BUILTIN, DEFAULT_PROFILES, Profile

Policy = Literal["pin", "allow-change"]
POLICIES: tuple[str, ...] = ("pin", "allow-change")


@dataclass(frozen=True, slots=True)
class ResourceRule:
    """A per-resource policy inside a page target."""

    match: str
    """A URL, or a URL prefix ending in `*`, that this rule applies to."""
    policy: Policy = "pin"
    """pin: the bytes must match an approved value; allow-change: changes are `info`."""
    owner: str | None = None
    """Who answers for this script (PCI DSS 6.4.3 inventory)."""
    justification: str | None = None
    """Why the page needs it (PCI DSS 6.4.3)."""

    def matches(self, url: str) -> bool:
        """Whether this rule covers `url`."""
        if self.match.endswith("*"):
            return url.startswith(self.match[:-1])
        return url == self.match


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to watch: a page (subresources discovered) or a hosted file."""

    url: str
    """The URL fetched."""
    kind: Literal["page", "file", "auto"] = "auto"
    """page, file, or auto (a page when served as HTML)."""
    name: str | None = None
    """Short name to select it on the command line (`check checkout`)."""
    policy: Policy = "pin"
    """Default policy for the target and, for pages, its subresources."""
    profiles: tuple[str, ...] | None = None
    """Client profiles to fetch it as (None: the config's default set)."""
    allow_hosts: tuple[str, ...] = ()
    """Hosts whose scripts may be added or change on this page (reported as info)."""
    owner: str | None = None
    """Who answers for it."""
    justification: str | None = None
    """Why it is there."""
    resources: tuple[ResourceRule, ...] = ()
    """Per-resource policies for a page's subresources."""
    line: int | None = None
    """Line of its `[[target]]` header in the config, for messages."""

    def rule_for(self, url: str) -> ResourceRule | None:
        """The first per-resource rule that covers `url`."""
        return next((r for r in self.resources if r.matches(url)), None)

    def policy_for(self, url: str) -> Policy:
        """The effective policy for a subresource (or the target itself)."""
        rule = self.rule_for(url)
        if rule is not None:
            return rule.policy
        host = (urlsplit(url).hostname or "").lower()
        if host and any(host == h or host.endswith("." + h) for h in self.allow_hosts):
            return "allow-change"
        return self.policy

    def selected_by(self, token: str) -> bool:
        """Whether a command-line TARGET argument names this target."""
        return token in (self.url, self.name)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole config file."""

    path: Path | None
    """Where it was read from (None when built in code)."""
    targets: tuple[Target, ...]
    """Every target, in file order."""
    baselines: Path = Path("baselines")
    """Baselines directory (relative paths are relative to the config file)."""
    state: Path = Path(".sri-guard")
    """Evidence store: captured bodies and the run log."""
    notify: tuple[str, ...] = ()
    """Apprise URLs alerted when a check fails."""
    profiles: tuple[str, ...] = DEFAULT_PROFILES
    """Default client profiles for every target."""
    custom_profiles: Mapping[str, Profile] = field(default_factory=dict)
    """Profiles defined in the config, by name."""

    def profile(self, name: str) -> Profile:
        """A profile by name (custom first, then built-in)."""
        return self.custom_profiles.get(name) or BUILTIN[name]

    def select(self, tokens: list[str]) -> tuple[Target, ...]:
        """Targets named on the command line (all when none); ConfigError for an unknown one."""
        if not tokens:
            return self.targets
        chosen: list[Target] = []
        for token in tokens:
            found = [t for t in self.targets if t.selected_by(token)]
            if not found:
                raise ConfigError(f"{self.path}: no target named or with URL {token!r}")
            chosen.extend(t for t in found if t not in chosen)
        return tuple(chosen)


_TOP_KEYS = {"baselines", "state", "notify", "profiles", "target", "profile"}
_TARGET_KEYS = {
    "url",
    "kind",
    "name",
    "policy",
    "profiles",
    "allow_hosts",
    "owner",
    "justification",
    "resource",
}
_RESOURCE_KEYS = {"url", "policy", "owner", "justification"}
_PROFILE_KEYS = {"user_agent", "accept_language", "headers", "base", "impersonate"}


class _Lines:
    """Finds the line of a table or key in the TOML text, for error messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self._tables: dict[str, list[int]] = {}
        header = re.compile(r"^\s*\[\[\s*([^\]\s]+)\s*\]\]")
        for n, line in enumerate(self.lines, 1):
            if match := header.match(line):
                self._tables.setdefault(match.group(1), []).append(n)

    def table(self, header: str, index: int) -> int | None:
        found = self._tables.get(header, [])
        return found[index] if index < len(found) else None

    def key(self, key: str, after: int | None = None) -> int | None:
        pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        start = after or 0
        for n, line in enumerate(self.lines[start:], start + 1):
            if pattern.match(line):
                return n
            if after is not None and n > after and line.lstrip().startswith("[["):
                break
        return None


def load(path: Path) -> Config:
    """Read and validate a config file; ConfigError on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (create one, or pass --config FILE)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    return parse(data, path, text)


def parse(data: Mapping[str, Any], path: Path | None, text: str = "") -> Config:
    """Validate parsed TOML into a Config."""
    where = str(path) if path else "config"
    lines = _Lines(text)

    def fail(reason: str, line: int | None = None) -> ConfigError:
        return ConfigError(f"{where}{f':{line}' if line else ''}: {reason}")

    for key in data:
        if key not in _TOP_KEYS:
            raise fail(
                f"unknown key {key!r} (known: {', '.join(sorted(_TOP_KEYS))})", lines.key(key)
            )
    base = path.parent if path else Path()
    baselines = base / _string(data, "baselines", "baselines", fail, lines)
    state = base / _string(data, "state", ".sri-guard", fail, lines)
    notify = _strings(data, "notify", fail, lines)
    custom = _profiles(data.get("profile", {}), fail, lines)
    known_profiles = set(BUILTIN) | set(custom)
    default_profiles = _strings(data, "profiles", fail, lines) or DEFAULT_PROFILES
    for name in default_profiles:
        if name not in known_profiles:
            raise fail(
                f"unknown profile {name!r} (known: {', '.join(sorted(known_profiles))})",
                lines.key("profiles"),
            )
    raw_targets = data.get("target", [])
    if not isinstance(raw_targets, list):
        raise fail("'target' must be an array of tables: write [[target]]", lines.key("target"))
    targets = []
    for index, raw in enumerate(raw_targets):
        line = lines.table("target", index)
        targets.append(_target(raw, index, line, known_profiles, fail, lines))
    seen: dict[str, int] = {}
    for t in targets:
        for token in filter(None, (t.name,)):
            if token in seen:
                raise fail(f"two targets are named {token!r}", t.line)
            seen[token] = 1
    return Config(path, tuple(targets), baselines, state, notify, default_profiles, custom)


def _string(data: Mapping[str, Any], key: str, default: str, fail: Any, lines: _Lines) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise fail(f"'{key}' must be a non-empty string", lines.key(key))
    return value


def _strings(
    data: Mapping[str, Any], key: str, fail: Any, lines: _Lines, after: int | None = None
) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fail(f"'{key}' must be a list of strings", lines.key(key, after))
    return tuple(value)


def _check_url(url: Any, fail: Any, line: int | None) -> str:
    if not isinstance(url, str):
        raise fail("'url' must be a string", line)
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:  # e.g. "http://[::1": an unclosed IPv6 literal
        raise fail(f"bad URL {url!r}: {exc}", line) from None
    try:
        parts.port  # noqa: B018
    except ValueError:
        raise fail(f"bad URL {url!r}: invalid port", line) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f"bad URL {url!r}: expected http:// or https:// with a host", line)
    return url.strip()


def _policy(raw: Mapping[str, Any], fail: Any, line: int | None) -> Policy:
    value = raw.get("policy", "pin")
    if value not in POLICIES:
        raise fail(f"unknown policy {value!r} (choose {' or '.join(POLICIES)})", line)
    return value  # type: ignore[no-any-return]


def _optional_str(raw: Mapping[str, Any], key: str, fail: Any, line: int | None) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise fail(f"'{key}' must be a string", line)
    return value


def _target(
    raw: Any, index: int, line: int | None, known_profiles: set[str], fail: Any, lines: _Lines
) -> Target:
    if not isinstance(raw, dict):
        raise fail(f"target #{index + 1} must be a table", line)
    for key in raw:
        if key not in _TARGET_KEYS:
            raise fail(
                f"unknown key {key!r} in [[target]] (known: {', '.join(sorted(_TARGET_KEYS))})",
                lines.key(key, line) or line,
            )
    if "url" not in raw:
        raise fail("[[target]] needs a 'url'", line)
    url = _check_url(raw["url"], fail, lines.key("url", line) or line)
    kind = raw.get("kind", "auto")
    if kind not in ("page", "file", "auto"):
        raise fail(f"kind must be 'page' or 'file', not {kind!r}", lines.key("kind", line) or line)
    name = _optional_str(raw, "name", fail, lines.key("name", line) or line)
    profiles = None
    if "profiles" in raw:
        profiles = _strings(raw, "profiles", fail, lines, line)
        for p in profiles:
            if p not in known_profiles:
                raise fail(f"unknown profile {p!r}", lines.key("profiles", line) or line)
    hosts = tuple(h.lower() for h in _strings(raw, "allow_hosts", fail, lines, line))
    rules = []
    raw_rules = raw.get("resource", [])
    if not isinstance(raw_rules, list):
        raise fail("'resource' must be an array of tables: write [[target.resource]]", line)
    for rule_index, rule in enumerate(raw_rules):
        rule_line = lines.table("target.resource", rule_index) or line
        if not isinstance(rule, dict):
            raise fail("[[target.resource]] must be a table", rule_line)
        for key in rule:
            if key not in _RESOURCE_KEYS:
                raise fail(
                    f"unknown key {key!r} in [[target.resource]] (known: "
                    f"{', '.join(sorted(_RESOURCE_KEYS))})",
                    rule_line,
                )
        match = rule.get("url")
        if not isinstance(match, str) or not match:
            raise fail(
                "[[target.resource]] needs a 'url' (a URL, or a prefix ending in *)", rule_line
            )
        rules.append(
            ResourceRule(
                match,
                _policy(rule, fail, rule_line),
                _optional_str(rule, "owner", fail, rule_line),
                _optional_str(rule, "justification", fail, rule_line),
            )
        )
    return Target(
        url=url,
        kind=kind,
        name=name,
        policy=_policy(raw, fail, lines.key("policy", line) or line),
        profiles=profiles,
        allow_hosts=hosts,
        owner=_optional_str(raw, "owner", fail, line),
        justification=_optional_str(raw, "justification", fail, line),
        resources=tuple(rules),
        line=line,
    )


def _profiles(raw: Any, fail: Any, lines: _Lines) -> dict[str, Profile]:
    if not isinstance(raw, dict):
        raise fail("'profile' must be a table: write [profile.NAME]")
    result: dict[str, Profile] = {}
    for name, spec in raw.items():
        line = next(
            (
                n
                for n, text in enumerate(lines.lines, 1)
                if re.match(r"^\s*\[\s*profile\." + re.escape(name) + r"\s*\]", text)
            ),
            None,
        )
        if not isinstance(spec, dict):
            raise fail(f"[profile.{name}] must be a table", line)
        for key in spec:
            if key not in _PROFILE_KEYS:
                raise fail(
                    f"unknown key {key!r} in [profile.{name}] (known: "
                    f"{', '.join(sorted(_PROFILE_KEYS))})",
                    line,
                )
        base_name = spec.get("base", "desktop")
        if not isinstance(base_name, str) or base_name not in BUILTIN:
            raise fail(f"[profile.{name}] base must be one of {', '.join(BUILTIN)}", line)
        base = BUILTIN[base_name]
        headers = spec.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise fail(f"[profile.{name}] headers must be a table of strings", line)
        user_agent = spec.get("user_agent", base.user_agent)
        language = spec.get("accept_language", base.accept_language)
        impersonate = spec.get("impersonate", base.impersonate)
        if not isinstance(user_agent, str) or not isinstance(language, str):
            raise fail(f"[profile.{name}] user_agent and accept_language must be strings", line)
        if impersonate is not None and not isinstance(impersonate, str):
            raise fail(f"[profile.{name}] impersonate must be a curl_cffi target name", line)
        result[name] = Profile(
            name,
            user_agent,
            base.hints if "user_agent" not in spec else (),
            language,
            tuple((k.lower(), v) for k, v in headers.items()),
            impersonate,
        )
    return result
