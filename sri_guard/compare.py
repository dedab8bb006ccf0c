"""Compare what was observed with the baseline: every unexpected change becomes a finding.

Pure apart from reading old bodies from the evidence store for diffs. Rules (contract):
content-changed, profile-divergence, resource-added, resource-removed, integrity-changed,
inline-changed, redirect-changed, header-changed, unpinned, plus every scan finding of the
page's resources and fetch-failed. A failed fetch is only ever `fetch-failed`, never a
change. Policies: `pin` (the bytes must be one of the approved values) or `allow-change`
(changes are reported at `info` and never fail the run).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sri_guard.baseline import Baseline, Pinned
from sri_guard.changes import diff
from sri_guard.config import Target
from sri_guard.evidence import Evidence
from sri_guard.fetch import FetchResult
from sri_guard.model import Finding
from sri_guard.observe import Observation
from sri_guard.rules import Severity
from sri_guard.survey import SECURITY_HEADERS, Fetched

_NONCE = re.compile(r"'nonce-[^']*'", re.IGNORECASE)


def normalize_header(name: str, value: str) -> str:
    """A header value with per-request randomness removed (CSP nonces), whitespace folded."""
    value = " ".join(value.split())
    if name.startswith("content-security-policy"):
        value = _NONCE.sub("'nonce-*'", value)
    return value


def security_headers(result: FetchResult | None) -> dict[str, str]:
    """A page's security-impacting headers, normalised for comparison."""
    if result is None:
        return {}
    out = {}
    for name in SECURITY_HEADERS:
        value = result.header(name)
        if value is not None:
            out[name] = normalize_header(name, value)
    return out


@dataclass(frozen=True, slots=True)
class Served:
    """What one profile was served for one URL."""

    profile: str
    """The profile."""
    result: FetchResult
    """The first response."""
    confirm: FetchResult | None
    """The confirming second response, if one was made."""

    @property
    def integrity(self) -> str:
        """sha384 value of the first response."""
        return self.result.integrity("sha384")


def _who(profiles: Sequence[str], everyone: Sequence[str]) -> str | None:
    if not profiles or sorted(profiles) == sorted(everyone):
        return None
    return ", ".join(profiles)


class Comparer:
    """Compares one target's observations with its baseline."""

    def __init__(self, target: Target, baseline: Baseline | None, evidence: Evidence | None):
        self.target = target
        self.baseline = baseline
        self.evidence = evidence
        self.findings: list[Finding] = []
        self._seen: dict[tuple[str, str, str | None, str], list[str]] = {}

    def run(self, observations: Sequence[Observation]) -> list[Finding]:
        """All findings for the target."""
        everyone = [o.profile for o in observations]
        for o in observations:
            if o.error is not None:
                self.findings.append(
                    Finding(
                        "fetch-failed",
                        self.target.url,
                        f"target could not be fetched: {o.error}",
                        profile=_who([o.profile], everyone),
                    )
                )
        ok = [o for o in observations if o.error is None]
        for o in ok:
            if o.survey is not None:
                self._add_unique(o.survey.findings, o.profile)
        if self.baseline is None:
            self.findings.append(
                Finding(
                    "unpinned",
                    self.target.url,
                    "no baseline yet: run `sri-guard pin` and commit the baselines",
                )
            )
            return self._finish(everyone)
        if self.baseline.kind == "file":
            assert self.baseline.file is not None
            # (The observer fetches a target as the kind its baseline records.)
            served = [Served(o.profile, o.file, o.confirm) for o in ok if o.file is not None]
            self._bytes(self.baseline.file, served, None, everyone, "file")
            self._redirects(self.baseline.file, served, None)
            return self._finish(everyone)
        self._page(ok, everyone)
        return self._finish(everyone)

    def _add_unique(self, findings: Iterable[Finding], profile: str) -> None:
        """Add what one profile saw; the same finding seen by several profiles is kept once,
        and `_finish` names the profiles when not all of them saw it."""
        for f in findings:
            if f.rule == "fetch-failed" and f.url == self.target.url:
                continue  # already reported once per profile from the observation
            key = (f.rule, f.url, f.page, f.message)
            if key in self._seen:
                self._seen[key].append(profile)
            else:
                self._seen[key] = [profile]
                self.findings.append(f)

    def _finish(self, everyone: Sequence[str]) -> list[Finding]:
        def named(f: Finding) -> Finding:
            profiles = self._seen.get((f.rule, f.url, f.page, f.message))
            if profiles is None or f.profile is not None:
                return f
            return dataclasses.replace(f, profile=_who(profiles, everyone))

        return [named(f) for f in self.findings]

    # Bytes of one URL across profiles.

    def _bytes(
        self,
        pinned: Pinned,
        served: Sequence[Served],
        page: str | None,
        everyone: Sequence[str],
        kind: str,
    ) -> None:
        if not served:
            return
        url = pinned.url
        policy = self.target.policy_for(url)
        unexpected = [s for s in served if not pinned.approves(s.profile, s.result.digests)]
        if not unexpected:
            return
        expected_all = pinned.approved(unexpected[0].profile)
        matching = [s for s in served if s not in unexpected]
        divergent = bool(matching) and not pinned.varies
        by_value: dict[str, list[Served]] = {}
        for s in unexpected:
            by_value.setdefault(s.integrity, []).append(s)
        for value, group in by_value.items():
            profiles = [s.profile for s in group]
            who = _who(profiles, everyone)
            confirms = [s.confirm for s in group if s.confirm is not None]
            flapping = any(pinned.approves(group[0].profile, c.digests) for c in confirms)
            unstable = any(c.integrity("sha384") != value for c in confirms)
            if divergent:
                rule = "profile-divergence"
                others = ", ".join(s.profile for s in matching)
                message = (
                    f"{who or 'some profiles'} served {value}, while {others} got the pinned "
                    "bytes: content served only to some visitors (cloaking?)"
                )
            else:
                rule = "content-changed"
                message = f"bytes served changed: {value}, pinned {' or '.join(expected_all)}"
                if who:
                    message += f" (for {who})"
            if flapping:
                message += (
                    "; a second fetch got the pinned bytes again: "
                    "the origin or CDN flaps between versions"
                )
            elif unstable:
                message += "; a second fetch got yet other bytes: content changes on every request"
            elif confirms:
                message += "; confirmed by a second fetch"
            severity = None
            if policy == "allow-change":
                severity = Severity.INFO
                message += " (allowed to change by policy)"
            if pinned.owner:
                message += f"; owner: {pinned.owner}"
            self.findings.append(
                Finding(
                    rule,
                    url,
                    message,
                    page=page,
                    expected=" ".join(expected_all),
                    actual=value,
                    severity=severity,
                    profile=who,
                    detail=self._diff(expected_all, value, kind),
                )
            )

    def _diff(self, old_values: Sequence[str], new_value: str, kind: str) -> str | None:
        if self.evidence is None:
            return None
        new = self.evidence.body(new_value)
        old = next((b for v in old_values if (b := self.evidence.body(v)) is not None), None)
        if new is None:
            return None
        if old is None:
            return (
                f"(the pinned bytes are not in this evidence store; the bytes now served "
                f"are kept at {self.evidence.path_of(new_value)})"
            )
        return diff(old, new, kind) or "(the change is in whitespace or encoding only)"

    def _redirects(self, pinned: Pinned, served: Sequence[Served], page: str | None) -> None:
        expected_final = pinned.final_url or pinned.url
        for s in served[:1]:
            final = s.result.final_url
            if final != expected_final or tuple(s.result.redirects) != tuple(pinned.redirects):
                old = " → ".join([*pinned.redirects, expected_final])
                new = " → ".join([*s.result.redirects, final])
                self.findings.append(
                    Finding(
                        "redirect-changed",
                        pinned.url,
                        f"redirects changed: was {old}, now {new}",
                        page=page,
                        expected=expected_final,
                        actual=final,
                    )
                )

    # Pages.

    def _page(self, ok: Sequence[Observation], everyone: Sequence[str]) -> None:
        b = self.baseline
        assert b is not None
        page_url = self.target.url
        current: dict[str, list[tuple[str, Fetched]]] = {}
        for o in ok:
            if o.survey is None:
                continue  # (the observer surveys a target whose baseline is a page)
            survey = o.survey
            if b.page is not None and survey.page is not None:
                self._redirects(b.page, [Served(o.profile, survey.page, None)], None)
            seen_urls: set[str] = set()
            for item in survey.fetched:
                if item.ref.url in seen_urls:
                    continue
                seen_urls.add(item.ref.url)
                current.setdefault(item.ref.url, []).append((o.profile, item))
            self._inline(o, everyone)
            self._headers(o, everyone)
        # Added and removed, per profile.
        page = page_url
        added: dict[str, list[str]] = {}
        for url, seen in current.items():
            pinned = b.resource(url)
            for profile, _ in seen:
                if pinned is None or not pinned.loaded_by(profile):
                    added.setdefault(url, []).append(profile)
        for url, profiles in added.items():
            item = current[url][0][1]
            result = item.result
            value = result.integrity() if result is not None else None
            policy = self.target.policy_for(url)
            who = _who(profiles, everyone)
            message = f"page now loads {item.ref.kind} {url}" + (
                f" (only for {who})" if who else ""
            )
            if value:
                message += f", served {value}"
            self.findings.append(
                Finding(
                    "resource-added",
                    url,
                    message + (" (host allowed by policy)" if policy == "allow-change" else ""),
                    page=page,
                    actual=value,
                    profile=who,
                    severity=Severity.INFO if policy == "allow-change" else None,
                )
            )
        for pinned in b.resources:
            missing = [
                o.profile
                for o in ok
                if o.survey is not None
                and pinned.loaded_by(o.profile)
                and pinned.url not in {i.ref.url for i in o.survey.fetched}
            ]
            if missing:
                who = _who(missing, everyone)
                self.findings.append(
                    Finding(
                        "resource-removed",
                        pinned.url,
                        f"page no longer loads {pinned.kind} {pinned.url}"
                        + (f" (for {who})" if who else ""),
                        page=page,
                        expected=" ".join(pinned.integrity),
                        profile=who,
                    )
                )
        # Changed bytes, declared integrity and redirects of resources still loaded.
        for url, seen in current.items():
            pinned = b.resource(url)
            if pinned is None:
                continue
            items = [(p, i) for p, i in seen if pinned.loaded_by(p)]
            served = [Served(p, i.result, i.confirm) for p, i in items if i.result is not None]
            kind = pinned.kind
            self._bytes(pinned, served, page, everyone, "style" if kind == "style" else "script")
            self._redirects(pinned, served, page)
            declared = items[0][1].ref.integrity if items else None
            if items and declared != pinned.declared:
                self.findings.append(
                    Finding(
                        "integrity-changed",
                        url,
                        f"the page's integrity attribute changed from {pinned.declared!r} "
                        f"to {declared!r}",
                        page=page,
                        expected=pinned.declared,
                        actual=declared,
                    )
                )

    def _inline(self, o: Observation, everyone: Sequence[str]) -> None:
        b = self.baseline
        assert b is not None and o.survey is not None and o.survey.discovered is not None
        scripts = o.survey.discovered.inline_scripts
        now = Counter(s.csp_hash for s in scripts)
        was = Counter(b.inline_for(o.profile))
        if now == was:
            return
        added = list((now - was).elements())
        removed = list((was - now).elements())
        parts = []
        if added:
            parts.append(f"{len(added)} added or changed")
        if removed:
            parts.append(f"{len(removed)} removed or changed")
        texts = [s.text.strip() for s in scripts if s.csp_hash in added]
        detail = (
            "\n".join(
                f"+ {h}\n" + "\n".join("  " + line for line in t.splitlines()[:40])
                for h, t in zip(added, texts, strict=False)
            )
            or None
        )
        self._add_unique(
            [
                Finding(
                    "inline-changed",
                    self.target.url,
                    "executable inline scripts differ from the baseline: " + ", ".join(parts),
                    page=self.target.url,
                    expected=" ".join(sorted(removed)) or None,
                    actual=" ".join(sorted(added)) or None,
                    detail=detail,
                )
            ],
            o.profile,
        )

    def _headers(self, o: Observation, everyone: Sequence[str]) -> None:
        b = self.baseline
        assert b is not None and o.survey is not None
        now = security_headers(o.survey.page)
        was = dict(b.headers_for(o.profile))
        found = []
        for name in sorted(set(now) | set(was)):
            if now.get(name) != was.get(name):
                old = was.get(name)
                new = now.get(name)
                if old is None:
                    what = f"{name} added: {new!r}"
                elif new is None:
                    what = f"{name} removed (was {old!r})"
                else:
                    what = f"{name} changed from {old!r} to {new!r}"
                found.append(
                    Finding(
                        "header-changed",
                        self.target.url,
                        what,
                        page=self.target.url,
                        expected=old,
                        actual=new,
                    )
                )
        self._add_unique(found, o.profile)


def compare(
    target: Target,
    baseline: Baseline | None,
    observations: Sequence[Observation],
    evidence: Evidence | None = None,
) -> list[Finding]:
    """Findings for one target."""
    return Comparer(target, baseline, evidence).run(observations)
