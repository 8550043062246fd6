"""Table tests of the GitSync API models (api/gitsync.py): defaults, one-line errors, the owner label."""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller.api.gitsync import GitSync, owner_label_value
from helmrelease_controller.api.models import SpecError


def gs(spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "helmrelease.dev/v1", "kind": "GitSync",
            "metadata": {"name": "prod", "namespace": "apps", **meta}, "spec": spec}  # fmt: skip


def test_defaults() -> None:
    g = GitSync.from_obj(gs({"url": "ssh://git@example.com/platform.git"}))
    assert (g.spec.path, g.spec.interval, g.spec.timeout, g.spec.prune, g.spec.ref) == (
        ".",
        "1m",
        "1m",
        False,
        None,
    )
    assert (g.spec.interval_seconds, g.owner, g.suspended) == (60.0, "apps.prod", False)
    assert GitSync.from_obj(gs({"url": "x"}, annotations={"helmrelease.dev/suspend": "True"})).suspended


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "spec.url: required field is missing"),
        ({"url": "x", "prnue": True}, 'spec.prnue: unknown field; did you mean "prune"?'),
        ({"url": "x", "ref": {"brnch": "main"}}, 'spec.ref.brnch: unknown field; did you mean "branch"?'),
        (
            {"url": "x", "ref": {"branch": "a", "tag": "b"}},
            "spec.ref: exactly one of branch, tag, semver or commit",
        ),
        ({"url": "x", "path": "/abs"}, "spec.path: '/abs' must be a path relative to the repository root"),
        ({"url": "x", "interval": "0s"}, "spec.interval: invalid duration '0s': must be greater than 0s"),
        ({"url": "x", "webhook": {}}, "spec.webhook.secretRef: required field is missing"),
        ({"url": "x", "secretRef": {"name": "Bad"}}, "spec.secretRef.name: 'Bad' is not a valid object name"),
    ],
)
def test_invalid_specs_get_one_line(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as err:
        GitSync.from_obj(gs(spec))
    assert err.value.messages[0].startswith(message), err.value.messages


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        ("apps", "prod", "apps.prod"),
        ("a" * 30, "b" * 32, "a" * 30 + "." + "b" * 32),  # 63 characters: as is
        ("a" * 30, "b" * 40, None),  # longer: shortened with a hash
    ],
)
def test_owner_label_fits_a_label_value(namespace: str, name: str, expected: str | None) -> None:
    value = owner_label_value(namespace, name)
    assert len(value) <= 63
    if expected is not None:
        assert value == expected
    else:
        assert value.startswith("a" * 30 + "." + "b" * 19) and value != owner_label_value(
            namespace, name + "x"
        )
