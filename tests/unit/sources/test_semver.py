"""Helm (Masterminds semver v3) version and range semantics, as tables.

The expectations were checked against helm v4.3.1 (`helm show chart --repo ... --version RANGE`); the
integration suite re-checks a selection of them against the real binary on every run.
"""

from __future__ import annotations

import itertools

import pytest

from helmrelease_controller.sources.semver import Range, Version, VersionError, newest_matching

# (range, version, allowed)
CASES: list[tuple[str, str, bool]] = [
    # caret
    ("^1.2.3", "1.2.3", True),
    ("^1.2.3", "1.9.0", True),
    ("^1.2.3", "1.2.2", False),
    ("^1.2.3", "2.0.0", False),
    ("^1.2", "1.2.0", True),
    ("^1.2", "1.99.99", True),
    ("^1", "1.0.0", True),
    ("^1", "2.0.0", False),
    ("^0.2.3", "0.2.3", True),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.2.3", "0.2.2", False),
    ("^0.2", "0.2.0", True),
    ("^0.2", "0.3.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0.0", "0.0.9", True),
    ("^0.0", "0.1.0", False),
    ("^0", "0.9.9", True),
    ("^0", "1.0.0", False),
    ("^1.2.x", "1.9.0", True),
    ("^1.2.x", "2.0.0", False),
    ("^0.x", "0.5.0", True),
    ("^*", "0.0.0", True),  # Helm's ^* only admits 0.0.0 (checked against helm)
    ("^*", "1.0.0", False),
    # tilde
    ("~1.2.3", "1.2.3", True),
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2.3", "1.2.2", False),
    ("~1.2", "1.2.0", True),
    ("~1.2", "1.3.0", False),
    ("~1", "1.9.9", True),
    ("~1", "2.0.0", False),
    ("~>1.2", "1.2.5", True),
    ("~1.2.x", "1.2.5", True),
    ("~1.x", "1.5.0", True),
    ("~*", "9.9.9", True),
    # wildcards and partial versions
    ("1.2.x", "1.2.0", True),
    ("1.2.x", "1.2.99", True),
    ("1.2.x", "1.3.0", False),
    ("1.2.X", "1.2.4", True),
    ("1.2.*", "1.2.4", True),
    ("1.x", "1.99.0", True),
    ("1.x", "2.0.0", False),
    ("1.2", "1.2.7", True),  # a missing patch is a wildcard
    ("1", "1.7.7", True),
    ("*", "0.0.1", True),
    ("*", "99.0.0", True),
    ("x", "3.0.0", True),
    ("", "3.0.0", True),
    # comparisons, AND (comma or space) and OR
    (">= 1.0, < 2.0", "1.0.0", True),
    (">= 1.0, < 2.0", "1.99.0", True),
    (">= 1.0, < 2.0", "2.0.0", False),
    (">= 1.0, < 2.0", "0.9.0", False),
    (">=1.0 <2.0", "1.5.0", True),
    (">=1.0,<2.0", "1.5.0", True),
    (">= 1.0 < 2.0", "1.5.0", True),
    ("=>1.2 =<1.3", "1.3.5", True),  # <=1.3 with a missing patch admits 1.3.x
    ("<=1.2", "1.2.9", True),
    ("<=1.2", "1.3.0", False),
    ("<=1.2.3", "1.2.4", False),
    (">1.2", "1.2.9", False),  # >1.2 means 1.3.0 or more
    (">1.2", "1.3.0", True),
    (">1", "1.9.9", False),
    (">1", "2.0.0", True),
    (">1.2.3", "1.2.4", True),
    ("<2", "1.99.0", True),
    ("<2", "2.0.0", False),
    ("<1.2.x", "1.1.9", True),
    ("<1.2.x", "1.2.0", False),
    ("!=1.2.3", "1.2.4", True),
    ("!=1.2.3", "1.2.3", False),
    ("!=1.x", "1.5.0", False),
    ("!=1.x", "2.0.0", True),
    ("1.2.3 || 2.5.1", "2.5.1", True),
    ("1.2.3 || 2.5.1", "2.5.0", False),
    ("^1.0 || ^3.0", "3.1.0", True),
    ("^1.0 || ^3.0", "2.1.0", False),
    # hyphen ranges
    ("1.0.0 - 1.2.5", "1.2.5", True),
    ("1.0.0 - 1.2.5", "1.2.6", False),
    ("1.2 - 1.4.5", "1.2.0", True),
    ("2.3.4 - 4.5", "4.5.9", True),  # <= 4.5 admits 4.5.x
    ("2.3.4 - 4.5", "4.6.0", False),
    ("1 - 2", "2.9.0", True),
    # exact, `=` and the v prefix
    ("1.2.3", "1.2.3", True),
    ("1.2.3", "1.2.4", False),
    ("=1.2.3", "1.2.3", True),
    ("v1.2.3", "1.2.3", True),
    ("1.2.3", "v1.2.3", True),
    ("^v1.2", "1.5.0", True),
    ("1.2.3+meta", "1.2.3", True),  # build metadata is ignored
    ("1.2.3", "1.2.3+build.7", True),
    # pre-releases: excluded unless the (alternative of the) range names one
    ("*", "2.0.0-rc.1", False),
    ("^2.0", "2.1.0-rc.1", False),
    (">=1.0.0", "2.0.0-rc.1", False),
    ("!=2.5.1", "3.0.0-rc.1", False),
    ("2.0.0-rc.1", "2.0.0-rc.1", True),
    ("2.0.0-rc.1", "2.0.0-rc.2", False),
    (">=2.0.0-0", "2.0.0-rc.1", True),
    (">=2.0.0-0", "2.0.0", True),
    (">=2.0.0-0", "3.0.0-alpha.1", True),  # Masterminds: not limited to the same major.minor.patch
    (">=1.0.0-0 <2.0.0", "2.0.0-rc.1", True),  # helm 4 (helm 3.17 says no)
    (">=1.0.0-0 <2.0.0", "1.5.0", True),
    ("^2.0.0-0", "2.5.0-beta.1", True),
    ("~2.1.0-0", "2.1.0-beta.1", True),
    ("~2.1.0-0", "2.2.0-beta.1", False),
    ("<2.0.0-0", "1.0.0-rc.1", True),
    ("<2.0.0-0", "2.0.0-rc.1", False),  # numeric 0 sorts before rc
    (">2.0.0-rc.1 <2.0.0", "2.0.0-rc.2", True),
    (">=2.0.1 <2.2.0 || 9.9.9-0", "2.1.0-beta.1", False),  # pre-releases are per alternative
    ("3.x-0", "3.0.0-alpha.1", True),
    (">=3.0.0-alpha.2 <3.0.0-alpha.10", "3.0.0-alpha.9", True),  # numeric identifiers compare as numbers
    (">=3.0.0-alpha.2 <3.0.0-alpha.10", "3.0.0-alpha.10", False),
]


@pytest.mark.parametrize(("rng", "version", "allowed"), CASES, ids=[f"{r!r}~{v}" for r, v, _ in CASES])
def test_range_table(rng: str, version: str, allowed: bool) -> None:
    assert Range.parse(rng).allows(version) is allowed


@pytest.mark.parametrize(
    "text",
    [
        "=",
        "^",
        "abc",
        "1.2.3.4",
        ">=1.0,,<2.0",
        "1.0 ||",
        "|| 1.0",
        ">>1.0",
        "1.2.3-",
        "1..2",
        "~ ~1",
        "1.2.3 -",
    ],
)
def test_invalid_ranges(text: str) -> None:
    with pytest.raises(VersionError):
        Range.parse(text)


def test_version_parse_and_str() -> None:
    v = Version.parse("v1.2.3-rc.1+build.5")
    assert (v.major, v.minor, v.patch, v.prerelease, v.build) == (1, 2, 3, "rc.1", "build.5")
    assert str(v) == "1.2.3-rc.1+build.5" and v.original == "v1.2.3-rc.1+build.5"
    assert Version.parse("1.2") == Version.parse("1.2.0") == Version.parse("v1.2.0+x")
    assert Version.parse("7").minor == 0
    for bad in ["", "x", "1.2.3.4", "1.2.3-", "1.2.3-01", "-1.0.0", "1.2.3+", "1.2.3 4", "one"]:
        assert Version.try_parse(bad) is None, bad


def test_version_precedence() -> None:
    ordered = [
        "0.9.9",
        "1.0.0-0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]
    parsed = [Version.parse(t) for t in ordered]
    assert sorted(reversed(parsed)) == parsed
    assert all(a < b for a, b in itertools.pairwise(parsed))
    assert len({Version.parse("1.0.0+a"), Version.parse("1.0.0+b")}) == 1


def test_is_exact() -> None:
    assert Range.parse("1.2.3").is_exact
    assert Range.parse("=v1.2.3-rc.1").is_exact
    for rng in ["1.2", "^1.2.3", "1.2.3 || 1.2.4", "*", "", ">=1.2.3"]:
        assert not Range.parse(rng).is_exact, rng


AVAILABLE = ["0.1.0", "1.0.0", "1.1.0", "1.10.0", "1.2.0", "2.0.0-rc.1", "v3.0.0", "not-semver"]


@pytest.mark.parametrize(
    ("rng", "expected"),
    [
        ("*", "v3.0.0"),
        ("^1.0", "1.10.0"),  # numeric, not lexical, order
        ("~1.1", "1.1.0"),
        ("<1.0.0", "0.1.0"),
        ("2.0.0-rc.1", "2.0.0-rc.1"),
        (">=2.0.0-0 <3.0.0", "2.0.0-rc.1"),
        ("3.0.0", "v3.0.0"),
        ("^4", None),
        ("v3.0.0", "v3.0.0"),
    ],
)
def test_newest_matching(rng: str, expected: str | None) -> None:
    assert newest_matching(AVAILABLE, rng) == expected
