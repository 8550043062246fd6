"""helm's stderr to one line: real outputs of helm 4.3.1 and 3.17.3, captured in stderr/ (see its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helmrelease_controller.helm.runner import Helm, error_text, summarize_error
from helmrelease_controller.reconcile.actions.release import install_hint

STDERR = Path(__file__).parent / "stderr"


@pytest.mark.parametrize(
    ("capture", "action", "expected"),
    [
        (
            "helm4-schema.txt",
            "install",
            "install failed: values don't meet the specifications of the schema(s) in the following "
            "chart(s): nginx: at '/replicaCount': got string, want integer; "
            "at '/port': minimum: got 0, want 1",
        ),
        (
            "helm3-schema.txt",
            "install",
            "install failed: values don't meet the specifications of the schema(s) in the following "
            "chart(s): nginx: replicaCount: Invalid type. Expected: integer, given: string; "
            "port: Must be greater than or equal to 1",
        ),
        (
            "helm4-missing-namespace.txt",
            "install",
            'install failed: create: failed to create: namespaces "nope" not found',
        ),
        (
            "helm4-wait-timeout.txt",
            "upgrade",
            "upgrade failed: resources not ready within 5s: resource Deployment/apps/nr5 not ready. "
            "status: InProgress, message: Available: 0/1 (context deadline exceeded)",
        ),
        (
            "helm3-wait-timeout-debug.txt",
            "install",
            "install failed: resources not ready within 5s: Deployment is not ready: apps/nr8. "
            "0 out of 1 expected pods are ready (context deadline exceeded)",
        ),
        (  # with --debug, helm 3 ends with its log and a Go stack trace: left out
            "helm3-upgrade-wait-timeout-debug.txt",
            "upgrade",
            "upgrade failed: resources not ready within 5s: Deployment is not ready: apps/nr8. "
            "0 out of 1 expected pods are ready (context deadline exceeded)",
        ),
        (  # without --debug helm 3 does not say which resource
            "helm3-wait-timeout.txt",
            "upgrade",
            "upgrade failed: resources not ready within 5s (context deadline exceeded)",
        ),
        (
            "helm4-force-server-side.txt",
            "upgrade",
            "upgrade failed: invalid operation: cannot use server-side apply and force replace together",
        ),
    ],
)
def test_summary_of_real_helm_errors(capture: str, action: str, expected: str) -> None:
    assert summarize_error((STDERR / capture).read_text(), action, "5s") == expected


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        ("", "helm failed"),
        ("some warning\nlast words\n", "last words"),
        ("Error: first\nError: second\n", "second"),
        ("Error: a\n\n  b\n", "a b"),
        ("Error: x\nhelm.go:86: 2026-01-01 00:00:00 +0000 UTC m=+0.1 [debug] x\nUPGRADE FAILED\n", "x"),
    ],
)
def test_error_text(stderr: str, expected: str) -> None:
    assert error_text(stderr) == expected


def test_a_long_error_keeps_its_reason() -> None:
    long = "Error: UPGRADE FAILED: " + "x" * 2000 + " the real reason\n"
    out = summarize_error(long, "upgrade")
    assert len(out) <= 1024 and out.startswith("upgrade failed: xxx") and out.endswith("the real reason")
    assert "…" in out


@pytest.mark.parametrize(
    ("message", "create_namespace", "expected"),
    [
        (
            'install failed: create: failed to create: namespaces "nope" not found',
            False,
            'install failed: create: failed to create: namespaces "nope" not found'
            " (set spec.install.createNamespace: true to create namespace nope)",
        ),
        (
            'install failed: create: failed to create: namespaces "nope" not found',
            True,
            'install failed: create: failed to create: namespaces "nope" not found',
        ),
        ("install failed: boom", False, "install failed: boom"),
    ],
)
def test_install_hint(message: str, create_namespace: bool, expected: str) -> None:
    assert install_hint(message, create_namespace) == expected


@pytest.mark.parametrize(
    ("major", "force", "expected"),
    [
        (4, True, ["--force-replace", "--server-side=false"]),
        (3, True, ["--force"]),
        (4, False, []),
        (3, False, []),
    ],
)
def test_force_flags(major: int, force: bool, expected: list[str]) -> None:
    assert Helm._force_args(major, force) == expected


@pytest.mark.parametrize(
    ("major", "expected"),
    [(4, ["--wait=watcher", "--wait-for-jobs"]), (3, ["--wait", "--wait-for-jobs", "--debug"])],
)
def test_wait_flags(major: int, expected: list[str]) -> None:
    assert Helm()._wait_args(major, True) == expected and Helm()._wait_args(major, False) == []
