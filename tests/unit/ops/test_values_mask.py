"""`values` masks what comes from a Secret before the merge sees it: every leaf, keys kept."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from helmrelease_controller.ops.values import MASK, masked, masked_data


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("pw", MASK),
        (5432, MASK),
        (False, MASK),
        (None, None),
        ({"a": {"b": "x", "c": [1, "y"]}}, {"a": {"b": MASK, "c": [MASK, MASK]}}),
        ([], []),
    ],
)
def test_masked(value: Any, shown: Any) -> None:
    assert masked(value) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("db:\n  password: hunter2\n  port: 5432\n", {"db": {"password": MASK, "port": MASK}}),
        ("s3cret", MASK),  # a raw value (targetPath)
        ("- a\n- b\n", MASK),  # not a map
        ("", MASK),
        ("a: [unclosed", MASK),  # not YAML: still masked
    ],
)
def test_masked_data(raw: str, shown: Any) -> None:
    out = masked_data(raw)
    assert (yaml.safe_load(out) if isinstance(shown, dict) else out) == shown
    assert "hunter2" not in out and "s3cret" not in out
