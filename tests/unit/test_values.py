"""Unit tests of helmrelease_controller.values: user values, targetPath, digests, redaction.

tests/integration/test_values_vs_helm.py checks user_values and set_path against the real helm binaries.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helmrelease_controller.redact import redact, secret_strings
from helmrelease_controller.values import (
    PathValue,
    ValuesError,
    config_digest,
    digest,
    set_path,
    user_values,
)


def strict(obj: Any) -> str:
    """Canonical JSON: compares `True` and `1` as different, unlike `==`."""
    return json.dumps(obj, sort_keys=True)


# --------------------------------------------------------------------------------------------------
# user_values: inputs never mutated nor aliased

JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("abc"), children, max_size=3)
    ),
    max_leaves=12,
)
TABLES = st.dictionaries(st.sampled_from("abc"), JSON_LIKE, max_size=3)


@given(source=TABLES, inline=TABLES)
def test_user_values_never_mutates_nor_aliases_inputs(source: dict[str, Any], inline: dict[str, Any]) -> None:
    source_before, inline_before = copy.deepcopy(source), copy.deepcopy(inline)
    result = user_values([source], inline)
    assert strict(source) == strict(source_before)
    assert strict(inline) == strict(inline_before)
    # mutating the result (everywhere) leaves the inputs alone
    _scribble(result)
    assert strict(source) == strict(source_before)
    assert strict(inline) == strict(inline_before)


def _scribble(obj: Any) -> None:
    if isinstance(obj, dict):
        for value in obj.values():
            _scribble(value)
        obj["scribbled"] = True
    elif isinstance(obj, list):
        for value in obj:
            _scribble(value)
        obj.append("scribbled")


@given(values=TABLES)
def test_user_values_identities(values: dict[str, Any]) -> None:
    assert strict(user_values([values], None)) == strict(values)
    assert strict(user_values([], values)) == strict(values)
    assert strict(user_values([values], values)) == strict(values)


# --------------------------------------------------------------------------------------------------
# set_path (targetPath)

SET_CASES: list[tuple[str, dict[str, Any], str, Any, dict[str, Any]]] = [
    ("nested keys", {}, "a.b", "x", {"a": {"b": "x"}}),
    ("escaped dot", {}, "a\\.b.c", "x", {"a.b": {"c": "x"}}),
    ("existing map kept", {"a": {"c": 1}}, "a.b", "x", {"a": {"c": 1, "b": "x"}}),
    ("replaces a scalar leaf", {"a": {"b": 1}}, "a.b", "2", {"a": {"b": 2}}),
    ("replaces a map leaf wholesale", {"a": {"b": {"c": 1}}}, "a.b", "x", {"a": {"b": "x"}}),
    ("list index grows with nulls", {}, "a[2]", "x", {"a": [None, None, "x"]}),
    ("list item replaced in place", {"a": [1, 2, 3]}, "a[1]", "x", {"a": [1, "x", 3]}),
    ("map inside list", {"a": [{"b": 1}]}, "a[0].c", "2", {"a": [{"b": 1, "c": 2}]}),
    ("scalar list item becomes a map", {"a": [5]}, "a[0].c", "2", {"a": [{"c": 2}]}),
    ("nested lists", {}, "a[0][1]", "x", {"a": [[None, "x"]]}),
    ("true", {}, "k", "true", {"k": True}),
    ("TRUE any case", {}, "k", "TRUE", {"k": True}),
    ("False", {}, "k", "False", {"k": False}),
    ("null", {}, "k", "null", {"k": None}),
    ("zero", {}, "k", "0", {"k": 0}),
    ("negative int", {}, "k", "-3", {"k": -3}),
    ("plus sign", {}, "k", "+4", {"k": 4}),
    ("leading zero stays a string", {}, "k", "007", {"k": "007"}),
    ("floats stay strings", {}, "k", "1.5", {"k": "1.5"}),
    ("int64 max", {}, "k", "9223372036854775807", {"k": 9223372036854775807}),
    ("beyond int64 stays a string", {}, "k", "9223372036854775808", {"k": "9223372036854775808"}),
    ("empty string", {}, "k", "", {"k": ""}),
    ("single quoted: a string", {}, "k", "'5'", {"k": "5"}),
    ("double quoted: a string", {}, "k", '"true"', {"k": "true"}),
    ("all surrounding quotes stripped", {}, "k", "\"'x'\"", {"k": "x"}),
    ("braces: a list", {}, "k", "{a,1,true}", {"k": ["a", 1, True]}),
    ("escaped comma", {}, "k", "a\\,b", {"k": "a,b"}),
    ("a comma starts another assignment", {}, "k", "x,other.k=1", {"k": "x", "other": {"k": 1}}),
    ("trailing newline is part of the value", {}, "k", "5\n", {"k": "5\n"}),
    ("non-string value set as is", {}, "a.b[1]", {"x": [1]}, {"a": {"b": [None, {"x": [1]}]}}),
    ("bytes decoded as UTF-8", {}, "k", "caf\u00e9".encode(), {"k": "caf\u00e9"}),
]


@pytest.mark.parametrize(
    ("values", "path", "value", "expected"), [c[1:] for c in SET_CASES], ids=[c[0] for c in SET_CASES]
)
def test_set_path(values: dict[str, Any], path: str, value: Any, expected: dict[str, Any]) -> None:
    before = copy.deepcopy(values)
    assert strict(set_path(values, path, value)) == strict(expected)
    assert strict(values) == strict(before)  # input untouched


SET_ERRORS: list[tuple[str, dict[str, Any], str, str]] = [
    ("empty path", {}, "", "x"),
    ("descend into a scalar", {"a": 5}, "a.b", "x"),
    ("descend into null", {"a": None}, "a.b", "x"),
    ("index a map", {"a": {"b": 1}}, "a[0]", "x"),
    ("index null", {"a": None}, "a[0]", "x"),
    ("negative index", {}, "a[-1]", "x"),
    ("index beyond 65536", {}, "a[65537]", "x"),
    ("index not a number", {}, "a[x]", "x"),
    ("unterminated index", {}, "a[0", "x"),
    ("data after index", {}, "a[0]b", "x"),
    ("empty last key", {}, "a.", "x"),
    ("unescaped comma in the value", {}, "k", "x,y"),
    ("unterminated list value", {}, "k", "{a,b"),
    ("too deep", {}, ".".join(["k"] * 32), "x"),
]


@pytest.mark.parametrize(
    ("values", "path", "value"), [c[1:] for c in SET_ERRORS], ids=[c[0] for c in SET_ERRORS]
)
def test_set_path_errors(values: dict[str, Any], path: str, value: str) -> None:
    with pytest.raises(ValuesError):
        set_path(values, path, value)


def test_set_path_error_never_shows_the_value() -> None:
    with pytest.raises(ValuesError) as err:
        set_path({}, "db.password", "hunter2,leaked-part")
    message = str(err.value)
    assert "db.password" in message
    assert "hunter2" not in message and "leaked" not in message
    assert "\n" not in message


def test_path_value_repr_hides_the_value() -> None:
    assert "hunter2" not in repr(PathValue("db.password", "hunter2"))


# --------------------------------------------------------------------------------------------------
# user_values


def test_null_in_inline_is_kept_over_a_source() -> None:
    """Kept for helm to act on: it deletes the chart default, whatever a source set (test_values_vs_helm)."""
    sources = [{"a": {"b": 1}}]
    inline = {"a": {"b": None}}
    assert user_values(sources, inline) == {"a": {"b": None}}


def test_sources_apply_in_order_then_inline() -> None:
    sources: list[dict[str, Any] | PathValue] = [
        {"image": {"tag": "1.1"}, "replicas": 2, "list": [1, 2, 3]},
        PathValue("list[1]", "two"),
        PathValue("image.tag", "'1.2'"),
        {"replicas": 3},
    ]
    inline = {"extra": {"x": True}}
    assert strict(user_values(sources, inline)) == strict(
        {"image": {"tag": "1.2"}, "replicas": 3, "list": [1, "two", 3], "extra": {"x": True}}
    )


def test_user_values_empty() -> None:
    assert user_values([], None) == {}


def test_user_values_bad_target_path() -> None:
    with pytest.raises(ValuesError, match=r"targetPath 'a\.b'"):
        user_values([{"a": 1}, PathValue("a.b", "x")], {})


# --------------------------------------------------------------------------------------------------
# Digests


def test_digest_format_and_canonical_form() -> None:
    value = {"b": [1, "x", None, True], "a": {"\u00e9": 1.5}}
    canonical = '{"a":{"\u00e9":1.5},"b":[1,"x",null,true]}'.encode()
    assert digest(value) == "sha256:" + hashlib.sha256(canonical).hexdigest()
    # pinned: changing the canonical form would upgrade every release once
    assert digest({"a": 1}) == "sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"


def test_digest_ignores_key_order() -> None:
    one = {"a": 1, "b": {"c": [1, 2], "d": None}}
    two = {"b": {"d": None, "c": [1, 2]}, "a": 1}
    assert digest(one) == digest(two)


@pytest.mark.parametrize(
    ("one", "two"),
    [
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {"a": "1"}),
        ({"a": 1}, {"a": True}),
        ({"a": 1}, {"a": 1.5}),
        ({"a": None}, {}),
        ({"a": [1, 2]}, {"a": [2, 1]}),
        ({"a": {"b": 1}}, {"a.b": 1}),
    ],
)
def test_digest_differs(one: Any, two: Any) -> None:
    assert digest(one) != digest(two)


@given(values=TABLES)
def test_digest_stable_under_reordering(values: dict[str, Any]) -> None:
    reordered = json.loads(json.dumps(values, sort_keys=True))
    reversed_keys = dict(reversed(list(values.items())))
    assert digest(values) == digest(reordered) == digest(reversed_keys)


def test_digest_rejects_non_json() -> None:
    with pytest.raises(ValueError):
        digest({"a": float("nan")})
    with pytest.raises(TypeError):
        digest({"a": object()})


def test_config_digest() -> None:
    chart = "sha256:" + "0" * 64
    other_chart = "sha256:" + "1" * 64
    values = {"a": {"b": 1, "c": 2}}
    assert config_digest(chart, values) == config_digest(chart, {"a": {"c": 2, "b": 1}})
    assert config_digest(chart, values) != config_digest(other_chart, values)
    assert config_digest(chart, values) != config_digest(chart, {"a": {"b": 1}})
    assert config_digest(chart, values).startswith("sha256:")


# --------------------------------------------------------------------------------------------------
# Redaction

REDACT_CASES: list[tuple[str, str, list[str], str]] = [
    ("simple", "error: password hunter2 rejected", ["hunter2"], "error: password *** rejected"),
    ("every occurrence", "hunter2/hunter2", ["hunter2"], "***/***"),
    ("short secrets are left alone", "abc is fine", ["abc"], "abc is fine"),
    ("four characters is enough", "pin 1234!", ["1234"], "pin ***!"),
    ("several secrets", "u=admin p=s3cret", ["admin", "s3cret"], "u=*** p=***"),
    ("overlapping secrets collapse", "xxabcdefxx", ["abcd", "cdef"], "xx***xx"),
    ("a secret inside another", "token-abcdef", ["abcdef", "bcde"], "token-***"),
    ("self-overlapping occurrences", "aaaaa", ["aaaa"], "***"),
    ("escaped form (json/go %q)", 'value "line1\\nline2" bad', ["line1\nline2"], 'value "***" bad'),
    ("escaped quotes", 'got "say \\"hi\\""', ['say "hi"'], 'got "***"'),
    ("stripped form of a file secret", "password hunter2 rejected", ["hunter2\n"], "password *** rejected"),
    ("no secrets", "nothing to hide", [], "nothing to hide"),
    ("empty secret ignored", "text", [""], "text"),
    ("no occurrence", "text here", ["hunter2"], "text here"),
]


@pytest.mark.parametrize(
    ("text", "secrets", "expected"), [c[1:] for c in REDACT_CASES], ids=[c[0] for c in REDACT_CASES]
)
def test_redact(text: str, secrets: list[str], expected: str) -> None:
    assert redact(text, secrets) == expected


@given(secret=st.text(min_size=4, max_size=12), prefix=st.text(max_size=8), suffix=st.text(max_size=8))
def test_redact_never_leaves_the_secret(secret: str, prefix: str, suffix: str) -> None:
    assert secret not in redact(prefix + secret + suffix, [secret])


def test_secret_strings() -> None:
    values = {
        "db": {"password": "hunter2", "port": 5432, "ratio": 2.0, "tls": True, "ca": None},
        "tokens": ["abcd", {"nested": "deep-secret"}],
    }
    assert secret_strings(values) == {"hunter2", "5432", "2.0", "2", "abcd", "deep-secret"}
    assert secret_strings({}) == set()


def test_redact_with_secret_strings() -> None:
    values = {"auth": {"user": "admin", "password": "correct-horse"}}
    stderr = 'Error: values don\'t meet the specifications: auth.password: "correct-horse" is too long'
    assert redact(stderr, secret_strings(values)) == (
        'Error: values don\'t meet the specifications: auth.password: "***" is too long'
    )
