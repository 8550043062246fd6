"""Sharding's pure rules: the --shard-key check, each replica's selector, ownership, Lease names."""

from __future__ import annotations

import re

import pytest

from helmrelease_controller.cli import parser
from helmrelease_controller.kube.sharding import (
    SHARD_LABEL,
    ShardKeyError,
    describe,
    lease_name,
    owns,
    selector,
    validate_shard_key,
)
from kubesim.selectors import parse_label_selector

DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@pytest.mark.parametrize(
    "value", ["a", "shard1", "team-a", "Team_A", "eu.west-1", "A1", "0", "x" * 63, "a-b_c.d"]
)
def test_valid_shard_keys(value: str) -> None:
    assert validate_shard_key(value) == value


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "leave --shard-key out to run the unsharded replica"),
        ("x" * 64, "is 64 characters: a label value has at most 63"),
        ("-a", "is not a label value"),
        ("a-", "is not a label value"),
        ("_a", "is not a label value"),
        ("a b", "is not a label value"),
        ("a/b", "is not a label value"),
        ("a=b", "is not a label value"),
        ("a,b", "is not a label value"),
        ("!a", "is not a label value"),
        ("é", "is not a label value"),
    ],
)
def test_invalid_shard_keys_say_why(value: str, why: str) -> None:
    with pytest.raises(ShardKeyError, match=re.escape(why)):
        validate_shard_key(value)


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        (["run"], None),
        (["run", "--shard-key", "a"], "a"),
        (["run", "--shard-key=Team_A"], "Team_A"),
    ],
)
def test_the_flag(argv: list[str], want: str | None) -> None:
    assert parser().parse_args(argv).shard_key == want


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("a b", "argument --shard-key: 'a b' is not a label value"),
        ("", "argument --shard-key: empty: leave --shard-key out to run the unsharded replica"),
    ],
)
def test_a_bad_flag_is_a_usage_error_naming_it(
    value: str, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["run", "--shard-key", value])
    assert exit_.value.code == 2
    assert error in capsys.readouterr().err


@pytest.mark.parametrize(
    ("shard_key", "want"),
    [
        (None, "!helmrelease.dev/shard"),
        ("a", "helmrelease.dev/shard=a"),
        ("Team_A", "helmrelease.dev/shard=Team_A"),
    ],
)
def test_selector(shard_key: str | None, want: str) -> None:
    assert selector(shard_key) == want


LABELS: list[dict[str, str] | None] = [
    None,
    {},
    {"app": "web"},
    {SHARD_LABEL: "a"},
    {SHARD_LABEL: "b", "app": "web"},
    {SHARD_LABEL: ""},
    {SHARD_LABEL: "A"},
]


@pytest.mark.parametrize(
    ("shard_key", "owned"),
    [
        (None, [True, True, True, False, False, False, False]),
        ("a", [False, False, False, True, False, False, False]),
        ("b", [False, False, False, False, True, False, False]),
        ("A", [False, False, False, False, False, False, True]),
    ],
)
def test_owns_and_the_server_side_selector_agree(shard_key: str | None, owned: list[bool]) -> None:
    """`owns` is what the API server selects with `selector` (kubesim's selector parser)."""
    match = parse_label_selector(selector(shard_key))
    for labels, want in zip(LABELS, owned, strict=True):
        assert owns(shard_key, labels) is want, labels
        assert match({"metadata": {"labels": labels}}) is want, labels


def test_every_object_has_exactly_one_owner_among_the_unsharded_and_its_shard() -> None:
    for labels in LABELS:
        value = (labels or {}).get(SHARD_LABEL)
        owners = [k for k in (None, "a", "b", "A", value or None) if owns(k, labels)]
        assert len(set(owners)) <= 1, (labels, owners)
        assert owners or value == "", labels  # a label with an empty value: no replica can own it


@pytest.mark.parametrize(
    ("shard_key", "want"),
    [
        (None, "helmrelease-controller"),
        ("a", "helmrelease-controller-shard-a"),
        ("team-1", "helmrelease-controller-shard-team-1"),
        ("Team_A", "helmrelease-controller-shard-team-a-"),
        ("team.a", "helmrelease-controller-shard-team-a-"),
        ("A", "helmrelease-controller-shard-a-"),
    ],
)
def test_lease_names(shard_key: str | None, want: str) -> None:
    name = lease_name("helmrelease-controller", shard_key)
    assert name.startswith(want)
    assert DNS_SUBDOMAIN.fullmatch(name) and len(name) <= 253


def test_lease_names_of_different_keys_differ() -> None:
    keys = ["a", "A", "team_a", "team-a", "team.a", "Team.A", "x" * 63, "X" * 63]
    names = {lease_name("helmrelease-controller", k) for k in keys}
    assert len(names) == len(keys)


@pytest.mark.parametrize(("shard_key", "want"), [(None, "unsharded"), ("a", 'shard "a"')])
def test_describe(shard_key: str | None, want: str) -> None:
    assert describe(shard_key) == want
