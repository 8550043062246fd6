"""valuesyaml.load_values: a values document read as Helm reads it (a table), and its users.

Every expected value here was observed with `helm template -f` (v4.3.1 and v3.17.3), whose
`.Values` go through sigs.k8s.io/yaml; tests/integration/test_values_yaml_vs_helm.py checks the
same table, and a few hundred generated scalars, against the real binaries.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from helmrelease_controller import valuesfiles
from helmrelease_controller.values import ValuesError, config_digest, digest, user_values
from helmrelease_controller.valuesyaml import ValuesYAMLError, go_float32_key, load_values


def strict(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


# (plain scalar as written, value Helm's templates see)
SCALARS: list[tuple[str, Any]] = [
    ("2024-01-01", "2024-01-01"),  # never a date
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    ("2001-12-14 21:59:43.10 -5", "2001-12-14 21:59:43.10 -5"),
    ("y", True),
    ("Y", True),
    ("yes", True),
    ("ON", True),
    ("True", True),
    ("n", False),
    ("NO", False),
    ("Off", False),
    ("tRue", "tRue"),
    ("~", None),
    ("Null", None),
    ("", None),
    ("42", 42),
    ("+12", 12),
    ("017", 15),  # YAML 1.1 octal
    ("0o17", 15),
    ("0x1F", 31),
    ("0x_1F", 31),
    ("0b101", 5),
    ("-0b11", -3),
    ("1_000", 1000),
    ("-017", -15),
    ("08", 8.0),  # not octal, so Go reads a float
    ("00", 0),
    ("9223372036854775807", 9223372036854775807),
    ("9223372036854775808", 9223372036854775808),  # uint64
    ("18446744073709551616", 18446744073709551616.0),  # beyond 64 bits: a float
    ("1e3", 1000.0),  # a string for PyYAML
    ("1E3", 1000.0),
    ("1.5e-3", 0.0015),
    (".5", 0.5),
    ("-.5", -0.5),
    ("1.", 1.0),
    ("1_000.5", 1000.5),
    ("1e400", "1e400"),  # overflows: Go keeps the string
    ("22:22", "22:22"),  # no base 60 (PyYAML: 1342)
    ("1:30.5", "1:30.5"),
    ("=", "="),  # PyYAML's safe_load cannot construct this one at all
    ("0x", "0x"),
    ("1__2", 12),
    ("3.14.15", "3.14.15"),
]


@pytest.mark.parametrize(("text", "expected"), SCALARS)
def test_plain_scalars(text: str, expected: Any) -> None:
    got = load_values(f"k: {text}\n")["k"]
    assert strict(got) == strict(expected)
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('k: "2024-01-01"', {"k": "2024-01-01"}),  # quoted: a string, as always
        ("k: '0x10'", {"k": "0x10"}),
        ("k: !!str 12", {"k": "12"}),
        ("k: !!float 1", {"k": 1.0}),
        ("k: !!int '12'", {"k": 12}),
        ("k: !!timestamp 2024-01-01", {"k": "2024-01-01"}),
        ("k: !custom 12", {"k": "12"}),  # unknown tags are ignored
        ("k: !custom {a: 1}", {"k": {"a": 1}}),
        ("k: !!binary aGVsbG8=", {"k": "hello"}),
        ("k: !!set {a, b}", {"k": {"a": None, "b": None}}),
        (
            "{1: a, 2.5: b, true: c, 1e3: d, 0x10: e, 12345678901: f}",
            {"1": "a", "2.5": "b", "true": "c", "1000": "d", "16": "e", "12345678901": "f"},
        ),
        ("{1: a, y: b, 1.0: c}", {"1": "c", "true": "b"}),  # keys that meet as strings: the last wins
        (
            "base: &b {x: 1, y: 2}\nmerged: {<<: *b, y: 3}",
            {"base": {"x": 1, "true": 2}, "merged": {"x": 1, "true": 3}},
        ),
        ("l: [2024-01-01, {d: 2024-01-02}]", {"l": ["2024-01-01", {"d": "2024-01-02"}]}),
        ("", None),
    ],
)
def test_documents(document: str, expected: Any) -> None:
    assert strict(load_values(document)) == strict(expected)


@pytest.mark.parametrize(
    ("document", "line"),
    [
        ("a: 1\nk: .nan\n", 2),  # Helm: json: unsupported value: NaN
        ("k: -.inf\n", 1),
        ("~: a\n", 1),  # Helm: unsupported map key of type <nil>
        ("? [a]\n: b\n", 1),
        ("18446744073709551615: a\n", 1),  # a uint64 key
        ("k: !!int abc\n", 1),
    ],
)
def test_what_json_cannot_hold_is_an_error_with_a_line(document: str, line: int) -> None:
    with pytest.raises(ValuesYAMLError) as err:
        load_values(document)
    assert err.value.problem_mark is not None and err.value.problem_mark.line + 1 == line
    assert isinstance(err.value, yaml.YAMLError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (3.14159265358979, "3.1415927"),
        (1e40, ".inf"),
    ],
)
def test_float_keys_are_written_as_go_writes_a_float32(value: float, expected: str) -> None:
    assert go_float32_key(value) == expected


def test_a_date_like_value_digests_and_merges() -> None:
    """The crash of the review: `d: 2024-01-01` reached the digest as a datetime.date."""
    values = user_values([load_values("d: 2024-01-01\nt: 2001-12-14t21:59:43Z\n")], {"e": 1})
    assert values == {"d": "2024-01-01", "t": "2001-12-14t21:59:43Z", "e": 1}
    assert digest(values).startswith("sha256:")
    assert config_digest("sha256:chart", values).startswith("sha256:")


def test_values_files_in_a_chart_are_read_the_same_way(tmp_path: Path) -> None:
    (tmp_path / "values-prod.yaml").write_text("d: 2024-01-01\nport: 22:22\nenabled: yes\n")
    (tmp_path / "values-nan.yaml").write_text("ok: 1\nratio: .nan\n")
    chart = SimpleNamespace(name="webapp", version="1.0.0", path=str(tmp_path))
    [files] = asyncio.run(valuesfiles.read_values_files(chart, ["values-prod.yaml"]))
    assert files == {"d": "2024-01-01", "port": "22:22", "enabled": True}
    assert digest(files).startswith("sha256:")
    with pytest.raises(ValuesError) as err:
        asyncio.run(valuesfiles.read_values_files(chart, ["values-nan.yaml"]))
    assert str(err.value) == (
        "valuesFiles: values-nan.yaml in chart webapp@1.0.0 cannot be converted to JSON as Helm does"
        " (line 2: .nan and .inf cannot be JSON values)"
    )
