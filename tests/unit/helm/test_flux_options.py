"""Flux's per-action helm options (issue 16): each spec field, written as a Flux user writes it, and
the helm arguments it adds or removes on helm 3 and on helm 4 (docs/flux-compatibility.md).

Each row runs the action's own option building (reconcile/actions/*) and the real `Helm` runner
against a helm stand-in (sh) that answers `helm version` as helm 3 or 4 and records its argv; the
row's argv is compared with the argv of the same action without the field.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, cast

import pytest

from helmrelease_controller.api.models import HelmRelease, SpecError
from helmrelease_controller.helm.runner import Helm, HelmError, unsupported_by
from helmrelease_controller.kube.client import KubeClient
from helmrelease_controller.reconcile.actions import Attempt, ReleaseTarget, Step, rollback, uninstall
from helmrelease_controller.reconcile.actions import test as helm_test_action
from helmrelease_controller.reconcile.actions.release import options
from helmrelease_controller.reconcile.backoff import Backoff
from helmrelease_controller.reconcile.decide import Action, Decision, Facts
from helmrelease_controller.reconcile.helmstorage import ReleaseObservation
from helmrelease_controller.reconcile.state import ReleaseState

VERSIONS = {3: "v3.17.3", 4: "v4.3.1"}
BASE = {"chart": {"repository": {"url": "https://charts.example", "name": "webapp"}}}


def fake_helm(tmp_path: Path, major: int) -> Helm:
    """A helm that says it is `major` and records each argv (one line per run) in tmp_path/argv."""
    helm = tmp_path / "helm"
    version = f'if [ "$1" = version ]; then printf {VERSIONS[major]}; exit 0; fi'
    helm.write_text(f'#!/bin/sh\n{version}\necho "$@" >> {tmp_path}/argv\necho {{}}\n')
    helm.chmod(0o755)
    return Helm(str(helm))


def step(spec: dict[str, Any], action: Action) -> Step:
    merged = copy.deepcopy(BASE) | spec
    hr = HelmRelease.from_obj({"metadata": {"name": "web", "namespace": "apps"}, "spec": merged})
    target = ReleaseTarget("apps", "web", "web", "apps", "apps", Path("/c"), {}, "sha256:d", 5, "5m")
    attempt = Attempt(
        "apps", "web", "sha256:d", "webapp", "1.0.0", "1.0.0", "1.0.0", 5, Backoff(1, 2), False, 1
    )
    facts = Facts("apps/web", "sha256:d", ReleaseObservation(()))
    return Step(Decision(action, "", ReleaseState.IN_SYNC, revision=1), facts, target, attempt, hr.spec)


async def argv(tmp_path: Path, major: int, spec: dict[str, Any], action: str) -> list[str]:
    """The helm argv `action` runs for `spec` (install, upgrade, rollback, uninstall, test)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    helm = fake_helm(tmp_path, major)
    if action in ("install", "upgrade"):
        s = step(spec, Action.INSTALL if action == "install" else Action.UPGRADE)
        await helm.upgrade(options(s, installing=action == "install"))
    elif action == "rollback":
        await helm.rollback_to(**rollback.options(step(spec, Action.ROLLBACK)))
    elif action == "uninstall":
        s = step(spec, Action.UNINSTALL)
        await uninstall.uninstall(helm, "web", "apps", s.spec, "5m")
    else:
        result = await helm_test_action.run(helm, cast(KubeClient, None), step(spec, Action.TEST))
        assert result.ok, result.message
    return (tmp_path / "argv").read_text().split()


# (action, spec, helm major, arguments added, arguments removed), against the same action without it
ROWS: list[tuple[str, dict[str, Any], int, list[str], list[str]]] = [
    ("install", {"install": {"disableHooks": True}}, 3, ["--no-hooks"], []),
    ("install", {"install": {"disableHooks": True}}, 4, ["--no-hooks"], []),
    ("install", {"install": {"disableWaitForJobs": True}}, 3, [], ["--wait-for-jobs"]),
    ("install", {"install": {"disableWaitForJobs": True}}, 4, [], ["--wait-for-jobs"]),
    ("install", {"install": {"disableWait": True}}, 3, [], ["--wait", "--wait-for-jobs", "--debug"]),
    ("install", {"install": {"disableWait": True}}, 4, [], ["--wait=watcher", "--wait-for-jobs"]),
    ("install", {"install": {"disableOpenAPIValidation": True}}, 3, ["--disable-openapi-validation"], []),
    ("install", {"install": {"disableOpenAPIValidation": True}}, 4, ["--disable-openapi-validation"], []),
    ("install", {"install": {"disableSchemaValidation": True}}, 3, ["--skip-schema-validation"], []),
    ("install", {"install": {"disableSchemaValidation": True}}, 4, ["--skip-schema-validation"], []),
    ("install", {"install": {"disableTakeOwnership": False}}, 3, ["--take-ownership"], []),
    ("install", {"install": {"disableTakeOwnership": False}}, 4, ["--take-ownership"], []),
    ("install", {"install": {"disableTakeOwnership": True}}, 4, [], []),  # the default here
    ("install", {"install": {"replace": True}}, 3, [], []),  # upgrade --install always does it
    ("install", {"install": {"replace": True}}, 4, [], []),
    ("install", {"upgrade": {"preserveValues": True}}, 4, [], []),  # nothing to reuse on install
    ("install", {"upgrade": {"disableHooks": True}}, 4, [], []),  # upgrade's options: not install's
    ("upgrade", {"upgrade": {"disableHooks": True}}, 3, ["--no-hooks"], []),
    ("upgrade", {"upgrade": {"disableHooks": True}}, 4, ["--no-hooks"], []),
    ("upgrade", {"upgrade": {"disableWaitForJobs": True}}, 3, [], ["--wait-for-jobs"]),
    ("upgrade", {"upgrade": {"disableWaitForJobs": True}}, 4, [], ["--wait-for-jobs"]),
    ("upgrade", {"upgrade": {"disableOpenAPIValidation": True}}, 3, ["--disable-openapi-validation"], []),
    ("upgrade", {"upgrade": {"disableOpenAPIValidation": True}}, 4, ["--disable-openapi-validation"], []),
    ("upgrade", {"upgrade": {"disableSchemaValidation": True}}, 3, ["--skip-schema-validation"], []),
    ("upgrade", {"upgrade": {"disableSchemaValidation": True}}, 4, ["--skip-schema-validation"], []),
    ("upgrade", {"upgrade": {"disableTakeOwnership": False}}, 3, ["--take-ownership"], []),
    ("upgrade", {"upgrade": {"disableTakeOwnership": False}}, 4, ["--take-ownership"], []),
    ("upgrade", {"upgrade": {"preserveValues": True}}, 3, ["--reuse-values"], ["--reset-values"]),
    ("upgrade", {"upgrade": {"preserveValues": True}}, 4, ["--reuse-values"], ["--reset-values"]),
    ("upgrade", {"install": {"disableHooks": True}}, 4, [], []),  # install's options: not upgrade's
    ("upgrade", {"waitStrategy": {"name": "legacy"}}, 3, [], []),  # helm 3's --wait is legacy
    ("upgrade", {"waitStrategy": {"name": "legacy"}}, 4, ["--wait=legacy"], ["--wait=watcher"]),
    ("upgrade", {"waitStrategy": {"name": "poller"}}, 4, [], []),  # helm 4's default: watcher
    ("install", {"waitStrategy": {"name": "legacy"}}, 4, ["--wait=legacy"], ["--wait=watcher"]),
    ("rollback", {"rollback": {"disableHooks": True}}, 3, ["--no-hooks"], []),
    ("rollback", {"rollback": {"disableHooks": True}}, 4, ["--no-hooks"], []),
    ("rollback", {"rollback": {"disableWaitForJobs": True}}, 3, [], ["--wait-for-jobs"]),
    ("rollback", {"rollback": {"disableWaitForJobs": True}}, 4, [], ["--wait-for-jobs"]),
    ("rollback", {"rollback": {"recreate": True}}, 3, ["--recreate-pods"], []),
    ("rollback", {"waitStrategy": {"name": "legacy"}}, 4, ["--wait=legacy"], ["--wait=watcher"]),
    ("rollback", {"waitStrategy": {"name": "legacy"}}, 3, [], []),
    ("uninstall", {"uninstall": {"disableWait": True}}, 3, [], ["--wait"]),
    ("uninstall", {"uninstall": {"disableWait": True}}, 4, [], ["--wait"]),
    ("uninstall", {"uninstall": {"deletionPropagation": "orphan"}}, 3, ["--cascade", "orphan"], []),
    ("uninstall", {"uninstall": {"deletionPropagation": "orphan"}}, 4, ["--cascade", "orphan"], []),
    ("uninstall", {"uninstall": {"deletionPropagation": "foreground"}}, 4, ["--cascade", "foreground"], []),
    ("uninstall", {"uninstall": {"deletionPropagation": "background"}}, 4, [], []),  # helm's default
    ("uninstall", {"uninstall": {"disableHooks": True}}, 3, ["--no-hooks"], []),
    ("uninstall", {"waitStrategy": {"name": "legacy"}}, 4, ["--wait=legacy"], ["--wait"]),
    ("uninstall", {"waitStrategy": {"name": "legacy"}}, 3, [], []),
    ("test", {"test": {"timeout": "90s"}}, 3, ["90s"], ["5m"]),
    ("test", {"test": {"timeout": "90s"}}, 4, ["90s"], ["5m"]),
    (
        "test",
        {"test": {"filters": [{"name": "web-test"}, {"name": "web-slow", "exclude": True}]}},
        3,
        ["--filter", "name=web-test", "--filter", "!name=web-slow"],
        [],
    ),
    ("test", {"test": {"filters": [{"name": "web-test"}]}}, 4, ["--filter", "name=web-test"], []),
]


@pytest.mark.parametrize(
    ("action", "spec", "major", "added", "removed"),
    ROWS,
    ids=[f"{r[0]}-{next(iter(r[1]))}-{r[1][next(iter(r[1]))]}-helm{r[2]}" for r in ROWS],
)
async def test_field_changes_helm_argv(
    tmp_path: Path, action: str, spec: dict[str, Any], major: int, added: list[str], removed: list[str]
) -> None:
    without = await argv(tmp_path / "without", major, {}, action)
    with_field = await argv(tmp_path / "with", major, spec, action)
    assert [a for a in with_field if a not in without] == added
    assert [a for a in without if a not in with_field] == removed


@pytest.mark.parametrize("major", [3, 4])
async def test_upgrade_sends_exactly_the_specs_values(tmp_path: Path, major: int) -> None:
    """helm reuses the last release's values when given none (`{}` on stdin) unless told
    --reset-values: so every upgrade says it, and a release whose values were all removed goes back
    to the chart's defaults (as Flux: ResetValues unless preserveValues)."""
    assert "--reset-values" in await argv(tmp_path, major, {}, "upgrade")


@pytest.mark.parametrize(
    ("major", "spec", "refused"),
    [
        (4, {"rollback": {"recreate": True}}, "spec.rollback.recreate: helm 4 has no --recreate-pods"),
        (3, {"waitStrategy": {"name": "poller"}}, "spec.waitStrategy.name: poller needs helm 4"),
    ],
)
async def test_what_this_helm_cannot_do_is_refused(
    tmp_path: Path, major: int, spec: dict[str, Any], refused: str
) -> None:
    """Refused as an invalid spec before any helm run (pipeline), and by the runner too."""
    s = step(spec, Action.ROLLBACK)
    problems = unsupported_by(
        major, recreate=s.spec.rollback.recreate, wait_strategy=s.spec.wait_strategy_name
    )
    assert len(problems) == 1 and problems[0].startswith(refused), problems
    assert (
        unsupported_by(7 - major, recreate=s.spec.rollback.recreate, wait_strategy=s.spec.wait_strategy_name)
        == []
    )
    with pytest.raises(HelmError, match=refused.split(": ", 1)[1]):
        await argv(tmp_path, major, spec, "rollback")
    assert not (tmp_path / "argv").exists()  # no rollback ran


@pytest.mark.parametrize(
    ("spec", "refused"),
    [
        ({"install": {"replace": False}}, "spec.install.replace: cannot be false"),
        ({"uninstall": {"deletionPropagation": "Orphan"}}, "spec.uninstall.deletionPropagation: must be"),
        ({"waitStrategy": {"name": "watcher"}}, "spec.waitStrategy.name: must be 'poller' or 'legacy'"),
        ({"waitStrategy": {}}, "spec.waitStrategy.name: required field is missing"),
        (
            {"test": {"filters": [{"name": "a,b"}]}},
            "spec.test.filters[0].name: 'a,b' is not a valid object name",
        ),
        ({"test": {"timeout": "0s"}}, "spec.test.timeout: invalid duration '0s': must be greater than 0s"),
    ],
)
def test_invalid_values_are_refused(spec: dict[str, Any], refused: str) -> None:
    with pytest.raises(SpecError) as err:
        step(spec, Action.INSTALL)
    assert any(m.startswith(refused) for m in err.value.messages), err.value.messages
