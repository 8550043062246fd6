"""Semantic versions and Helm version ranges, with the semantics of Masterminds semver v3 (what Helm uses).

`Version.parse` is loose like Masterminds' `NewVersion`: a leading `v` and missing minor/patch are
tolerated (`v1.2` is 1.2.0). `Range.parse` understands what `helm install --version` understands:

- operators `=`, `!=`, `>`, `<`, `>=` (`=>`), `<=` (`=<`), `~` (`~>`), `^`; no operator means `=`;
- wildcards `x`, `X`, `*` and missing components (`1.2` == `1.2.x`): `1.2.x` is >=1.2.0 <1.3.0;
- `~1.2.3` is >=1.2.3 <1.3.0, `~1` is >=1.0.0 <2.0.0;
- `^1.2.3` is >=1.2.3 <2.0.0, `^0.2.3` is >=0.2.3 <0.3.0, `^0.0.3` is >=0.0.3 <0.0.4;
- hyphen ranges `1.2 - 1.4.5` (>= 1.2, <= 1.4.5);
- terms separated by spaces or commas must all hold; `||` separates alternatives;
- an empty range or `*` matches every release.

Pre-releases follow Masterminds' per-term rule: a pre-release version (`2.0.0-rc.1`) satisfies a term only
when that term's own version carries a pre-release (`>=2.0.0-0`), so plain ranges never select one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Range", "Version", "VersionError", "newest_matching"]


class VersionError(ValueError):
    """A version or range string that cannot be parsed."""


_IDENT = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION_RE = re.compile(rf"^v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:-({_IDENT}))?(?:\+({_IDENT}))?$")

# A version inside a range: components may be wildcards.
_CV = rf"v?(?:[0-9]+|[xX*])(?:\.(?:[0-9]+|[xX*]))?(?:\.(?:[0-9]+|[xX*]))?(?:-{_IDENT})?(?:\+{_IDENT})?"
_CV_PARTS = re.compile(
    rf"^v?([0-9]+|[xX*])(?:\.([0-9]+|[xX*]))?(?:\.([0-9]+|[xX*]))?(?:-({_IDENT}))?(?:\+({_IDENT}))?$"
)
# Longest operators first so that `>=` is never read as `>` followed by `=1.0`.
_OP = r"!=|>=|=>|<=|=<|~>|>|<|=|~|\^"
_TERM = rf"(?:{_OP})?\s*{_CV}"
_TERM_RE = re.compile(rf"({_OP})?\s*({_CV})")
_GROUP_RE = re.compile(rf"^\s*{_TERM}(?:(?:\s+|\s*,\s*){_TERM})*\s*$")
_HYPHEN_RE = re.compile(rf"({_CV})\s+-\s+({_CV})")
_WILDCARDS = frozenset({"x", "X", "*"})


def _pre_key(pre: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key of a pre-release: numeric identifiers numerically and below alphanumeric ones."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A semantic version; build metadata is kept but ignored when comparing (as SemVer 2 says)."""

    major: int
    minor: int = 0
    patch: int = 0
    prerelease: str = ""
    build: str = ""
    original: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        m = _VERSION_RE.match(text.strip())
        if m is None:
            raise VersionError(f"invalid semantic version {text!r}")
        major, minor, patch, pre, build = m.groups()
        if pre:
            for ident in pre.split("."):
                if ident.isdigit() and len(ident) > 1 and ident.startswith("0"):
                    raise VersionError(
                        f"invalid semantic version {text!r}: pre-release {ident!r} has a leading 0"
                    )
        return cls(int(major), int(minor or 0), int(patch or 0), pre or "", build or "", text)

    @classmethod
    def try_parse(cls, text: object) -> Version | None:
        if not isinstance(text, str):
            return None
        try:
            return cls.parse(text)
        except VersionError:
            return None

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self) -> tuple[object, ...]:
        # A release sorts above every pre-release of the same major.minor.patch.
        pre: tuple[object, ...] = (0, _pre_key(self.prerelease)) if self.prerelease else (1,)
        return (self.major, self.minor, self.patch, pre)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text


@dataclass(frozen=True)
class _Term:
    """One comparison such as `>=1.2` or `~1.x`; `dirty` means the version had wildcards or gaps."""

    op: str
    con: Version
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool

    @classmethod
    def parse(cls, op: str | None, text: str) -> _Term:
        m = _CV_PARTS.match(text)
        if m is None:  # pragma: no cover - the group regex has matched already
            raise VersionError(f"invalid version {text!r} in range")
        major, minor, patch, pre, build = m.groups()
        dirty = minor_dirty = patch_dirty = False
        if major in _WILDCARDS:
            major, minor, patch, dirty = "0", "0", "0", True
        elif minor is None or minor in _WILDCARDS:
            minor, patch, dirty, minor_dirty = "0", "0", True, True
        elif patch is None or patch in _WILDCARDS:
            patch, dirty, patch_dirty = "0", True, True
        con = Version(int(major), int(minor), int(patch), pre or "", build or "", text)
        op = {"": "=", "=>": ">=", "=<": "<=", "~>": "~"}.get(op or "", op or "=")
        return cls(op, con, dirty, minor_dirty, patch_dirty)

    def allows(self, v: Version) -> bool:
        """Whether `v` satisfies this term (the pre-release gate is the caller's, see `Range.allows`)."""
        c = self.con
        if self.op == "=":
            return self._tilde(v) if self.dirty else v == c
        if self.op == "!=":
            return self._not_equal(v)
        if self.op == ">":
            return self._greater(v)
        if self.op == "<":
            return v < c
        if self.op == ">=":
            return v >= c
        if self.op == "<=":
            return self._less_equal(v)
        if self.op == "~":
            return self._tilde(v)
        return self._caret(v)

    def _not_equal(self, v: Version) -> bool:
        c = self.con
        if not self.dirty:
            return v != c
        if v.major != c.major:
            return True
        if self.minor_dirty:
            return False
        if v.minor != c.minor:
            return True
        if self.patch_dirty:
            return (v.prerelease or c.prerelease) != "" and _pre_key(v.prerelease) != _pre_key(c.prerelease)
        return v != c  # pragma: no cover - a dirty term without a dirty component is `*`

    def _greater(self, v: Version) -> bool:
        c = self.con
        if not self.dirty:
            return v > c
        if v.major != c.major:
            return v.major > c.major
        if self.minor_dirty:  # >1 needs 2.0.0 or more
            return False
        if self.patch_dirty:  # >1.2 needs 1.3.0 or more
            return v.minor > c.minor
        return v > c

    def _less_equal(self, v: Version) -> bool:
        c = self.con
        if not self.dirty:
            return v <= c
        if v.major > c.major:
            return False
        return not (v.major == c.major and v.minor > c.minor and not self.minor_dirty)

    def _tilde(self, v: Version) -> bool:
        c = self.con
        if v < c:
            return False
        if (c.major, c.minor, c.patch) == (0, 0, 0) and not self.minor_dirty and not self.patch_dirty:
            return True  # ~*, =*, * : anything
        if v.major != c.major:
            return False
        return self.minor_dirty or v.minor == c.minor

    def _caret(self, v: Version) -> bool:
        c = self.con
        if v < c:
            return False
        if c.major > 0 or self.minor_dirty:
            return v.major == c.major
        if v.major > 0:
            return False
        if c.minor > 0 or self.patch_dirty:
            return v.minor == c.minor
        if v.minor > 0:
            return False
        return v.patch == c.patch


@dataclass(frozen=True)
class Range:
    """A Helm version range: alternatives (`||`) of terms that must all hold."""

    text: str
    alternatives: tuple[tuple[_Term, ...], ...]

    @classmethod
    def parse(cls, text: str | None) -> Range:
        source = (text or "").strip()
        rewritten = _HYPHEN_RE.sub(lambda m: f">= {m.group(1)}, <= {m.group(2)}", source or "*")
        alternatives = []
        for group in rewritten.split("||"):
            if not _GROUP_RE.match(group):
                raise VersionError(f"invalid version range {source!r}")
            alternatives.append(tuple(_Term.parse(op, ver) for op, ver in _TERM_RE.findall(group)))
        return cls(source, tuple(alternatives))

    @property
    def is_exact(self) -> bool:
        """True when the text names one version (`1.2.3`, `=1.2.3`, `v1.2.3-rc.1`), not a range."""
        if len(self.alternatives) != 1 or len(self.alternatives[0]) != 1:
            return False
        term = self.alternatives[0][0]
        return term.op == "=" and not term.dirty

    def allows(self, version: Version | str) -> bool:
        v = version if isinstance(version, Version) else Version.parse(version)
        for group in self.alternatives:
            # A pre-release is only considered by alternatives that name a pre-release themselves.
            if v.prerelease and not any(t.con.prerelease for t in group):
                continue
            if all(t.allows(v) for t in group):
                return True
        return False

    def __str__(self) -> str:
        return self.text or "*"


def newest_matching(candidates: Iterable[str], version_range: Range | str) -> str | None:
    """The newest of `candidates` (version strings) in `version_range`, as Helm picks it.

    A candidate spelled exactly like the range text wins outright (Helm's exact-match shortcut);
    candidates that are not semantic versions are skipped.
    """
    rng = version_range if isinstance(version_range, Range) else Range.parse(version_range)
    best: tuple[Version, str] | None = None
    for text in candidates:
        if rng.text and text == rng.text:
            return text
        v = Version.try_parse(text)
        if v is not None and rng.allows(v) and (best is None or v > best[0]):
            best = (v, text)
    return best[1] if best else None
