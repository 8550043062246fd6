"""The reconcile pipeline (reconcile/pipeline.py `Reconciler`), driven directly with fake edges.

What the controller integration tests cover with a controller process, real helm and a chart
repository (seconds per case), here in tens of milliseconds: the `Reconciler` is built by hand and
`reconcile(ns, name)` called step by step. Its edges:
- Kubernetes: the real `KubeClient` against one in-process kubesim (one per module, with the
  HelmRelease CRD; one namespace per test), so status writes, finalizers, deletion and events
  are the API server's;
- helm: `tests.helpers.fakehelm.FakeHelm`, which keeps Helm's release storage (the Secrets the
  reconciler lists by label) as helm does and fails on cue;
- the chart source: `FakeSources`, one resolved chart whose version the test can change;
- the informer cache: `Informer`, refreshed from the API server before each reconcile (an
  informer that has caught up);
- notifications: `Notifications`, a `Dispatcher` that only records.
Each case asserts what a user sees: conditions and their reasons, counters, the helm commands
run, events, metrics and notifications.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.aio import client as kclient

from helmrelease_controller.api.models import FINALIZER, HelmRelease
from helmrelease_controller.kube.client import EVENTS, HELMRELEASES, NAMESPACES, SECRETS, KubeClient, NotFound
from helmrelease_controller.kube.events import EventRecorder
from helmrelease_controller.metrics import Metrics
from helmrelease_controller.notify import Dispatcher, Notification
from helmrelease_controller.reconcile.pipeline import Reconciler, Result
from helmrelease_controller.reconcile.status import parse_rfc3339
from helmrelease_controller.sources.base import ResolvedChart
from kubesim import KubeSim
from tests.helpers.fakehelm import FakeHelm

ROOT = Path(__file__).resolve().parents[3]
CRD = ROOT / "crds" / "helmrelease.yaml"
HOUR = 3600.0
WRITES = ("create", "update", "patch", "delete")
_namespaces = count(1)


# -- the edges ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    """One kubesim for the module, with the HelmRelease CRD served."""
    s = KubeSim(controller_delay=0.0)
    s.start()
    body = json.dumps(yaml.safe_load(CRD.read_text())).encode()
    post = urllib.request.Request(
        f"{s.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(post, timeout=10).close()
    deadline = time.monotonic() + 10
    while True:  # served once kubesim's CRD controller has registered it
        try:
            urllib.request.urlopen(f"{s.url}/apis/helmrelease.dev/v1/helmreleases", timeout=10).close()
            break
        except urllib.error.HTTPError:
            assert time.monotonic() < deadline, "the HelmRelease CRD was never served"
            time.sleep(0.01)
    yield s
    s.stop()


class FakeSources:
    """`sources.resolve(hr, client, refresh)`: one chart, whatever the spec says (no network)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.resolves: list[bool] = []  # the refresh flag of each resolve
        self.chart = self.version("1.0.0")

    def version(self, v: str) -> ResolvedChart:
        return ResolvedChart(
            path=self.tmp / f"webapp-{v}.tgz",
            name="webapp",
            version=v,
            revision=f"{v}@sha256:{v.replace('.', '') * 8}",
            digest=f"sha256:{v.replace('.', 'a') * 8}",
            app_version=v,
        )

    async def resolve(self, hr: HelmRelease, client: KubeClient, refresh: bool = False) -> ResolvedChart:
        self.resolves.append(refresh)
        return self.chart


class Informer:
    """The informer cache as `Reconciler` reads it, caught up with the API server on `sync()`."""

    def __init__(self, client: KubeClient, ns: str) -> None:
        self.client, self.ns = client, ns
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}

    async def sync(self) -> None:
        items, _ = await self.client.list(HELMRELEASES, self.ns)
        self.objects = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in items}

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((namespace, name))


class Notifications(Dispatcher):
    """A `Dispatcher` that records what it is given and delivers nothing."""

    def __init__(self) -> None:  # no config, no providers, no tasks
        self.sent: list[Notification] = []

    def submit(self, n: Notification) -> int:
        self.sent.append(n)
        return 1

    def outcomes(self) -> list[tuple[str, str]]:
        return [(n.outcome, n.action) for n in self.sent]


@dataclass
class World:
    ns: str
    client: KubeClient
    helm: FakeHelm
    sources: FakeSources
    cache: Informer
    events: EventRecorder
    metrics: Metrics
    notifier: Notifications
    reconciler: Reconciler

    async def apply(self, spec: dict[str, Any], name: str = "web", **meta: Any) -> None:
        body = {
            "apiVersion": "helmrelease.dev/v1",
            "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": self.ns, **meta},
            "spec": {"interval": "5m", "timeout": "30s", "chart": CHART, **spec},
        }
        await self.client.create(HELMRELEASES, self.ns, body)

    async def edit(self, patch: dict[str, Any], name: str = "web") -> None:
        await self.client.patch(HELMRELEASES, self.ns, name, patch)

    async def reconcile(self, name: str = "web") -> Result:
        """One reconcile, as a worker runs it after the informer caught up."""
        await self.cache.sync()
        return await self.reconciler.reconcile(self.ns, name)

    async def obj(self, name: str = "web") -> dict[str, Any]:
        return await self.client.get(HELMRELEASES, self.ns, name)

    async def status(self, name: str = "web") -> dict[str, Any]:
        status: dict[str, Any] = (await self.obj(name)).get("status") or {}
        return status

    async def condition(self, type_: str, name: str = "web") -> dict[str, Any]:
        conditions = (await self.status(name)).get("conditions") or []
        return next((c for c in conditions if c["type"] == type_), {})

    async def event_reasons(self) -> list[str]:
        await self.events.flush()
        items, _ = await self.client.list(EVENTS, self.ns)
        return [e["reason"] for e in sorted(items, key=lambda e: e["eventTime"])]

    def writes(self) -> int:
        """Writes of HelmRelease objects (object and status) this reconciler made so far."""
        return sum(
            n
            for (verb, res), n in self.client.request_count.items()
            if verb in WRITES and "helmrelease" in res
        )

    def failures(self, action: str, name: str = "web") -> float:
        labels = {"namespace": self.ns, "name": name, "action": action}
        return self.metrics.registry.get_sample_value("helmrelease_failures_total", labels) or 0.0

    def helm_actions(self, action: str, result: str) -> float:
        labels = {"action": action, "result": result}
        return self.metrics.registry.get_sample_value("helmrelease_helm_actions_total", labels) or 0.0


CHART = {"repository": {"url": "http://charts.invalid", "name": "webapp", "version": "1.0.0"}}
UPGRADE_TIMED_OUT = "Error: UPGRADE FAILED: context deadline exceeded"  # helm's stderr
INSTALL_TIMED_OUT = "Error: INSTALLATION FAILED: context deadline exceeded"
SLOW_BACKOFF = {"initial": "1h", "max": "2h", "jitter": 0}  # no retry falls due during a test


@pytest.fixture
async def world(sim: KubeSim, tmp_path: Path) -> AsyncIterator[World]:
    # One client for the reconciler and the fake helm (each client costs ~30 ms of CA loading);
    # `World.writes` counts HelmRelease writes only, which helm never makes.
    client = KubeClient(kclient.ApiClient(kclient.Configuration(host=sim.url)))
    ns = f"t{next(_namespaces)}"
    await client.create(NAMESPACES, None, {"metadata": {"name": ns}})
    helm, sources, cache = FakeHelm(client), FakeSources(tmp_path), Informer(client, ns)
    events, metrics, notifier = EventRecorder(client, host="test"), Metrics(), Notifications()
    reconciler = Reconciler(client, helm, sources, events, cache, metrics=metrics, notifier=notifier)
    try:
        yield World(ns, client, helm, sources, cache, events, metrics, notifier, reconciler)
    finally:
        await events.close()
        await client.close()


async def installed(w: World, spec: dict[str, Any] | None = None) -> None:
    """A release installed by a first reconcile (where most cases start); its helm calls and
    notifications forgotten, so a case asserts only its own."""
    await w.apply(spec or {})
    await w.reconcile()
    assert (await w.condition("Ready"))["status"] == "True"
    w.helm.calls.clear()
    w.notifier.sent.clear()


# -- the cases ---------------------------------------------------------------------------------------
async def test_first_install_succeeds(world: World) -> None:
    await world.apply({"values": {"replicas": 2}})

    result = await world.reconcile()

    assert (result.action, result.ok, result.requeue_after) == ("none", True, 300.0)  # then in sync
    assert [(c.command, c.options["action"]) for c in world.helm.calls] == [("upgrade", "install")]
    call = world.helm.calls[0]
    assert call.options["values"] == {"replicas": 2} and call.options["force"] is False
    assert call.options["labels"]["helmrelease.dev/name"] == "web"
    ready = await world.condition("Ready")
    assert (ready["status"], ready["reason"]) == ("True", "InstallSucceeded")
    assert f"release {world.ns}/web.v1 with chart webapp@1.0.0" in ready["message"]
    assert (await world.condition("Released"))["status"] == "True"
    assert await world.condition("Reconciling") == {}
    status = await world.status()
    assert (status["installFailures"], status["upgradeFailures"], status["failures"]) == (0, 0, 0)
    assert status["history"][0]["revision"] == 1 and status["history"][0]["status"] == "deployed"
    assert status["lastAppliedRevision"] == world.sources.chart.revision
    assert status["observedGeneration"] == 1
    assert FINALIZER in (await world.obj())["metadata"]["finalizers"]
    assert await world.helm.revisions("web", world.ns) == {1: "deployed"}
    assert await world.event_reasons() == ["InstallSucceeded"]
    assert world.helm_actions("install", "success") == 1
    # Submitted; the dispatcher delivers a recovery only after a failure or stall was delivered.
    assert world.notifier.outcomes() == [("recovered", "")]


async def test_failed_install_schedules_a_retry_and_waits_for_it(world: World) -> None:
    await world.apply({"install": {"remediation": {"retries": 3}}, "backoff": SLOW_BACKOFF})
    world.helm.fail("upgrade", INSTALL_TIMED_OUT)

    before = time.time()
    first = await world.reconcile()
    after = time.time()

    assert (first.action, first.ok) == ("wait", False)
    ready = await world.condition("Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InstallFailed")
    assert ready["message"] == "install failed: resources not ready within 30s (context deadline exceeded)"
    status = await world.status()
    assert (status["installFailures"], status["upgradeFailures"], status["failures"]) == (1, 0, 1)
    retry_at = parse_rfc3339(status["nextRetryAt"])
    assert int(before) + HOUR <= retry_at <= after + HOUR  # the spec's backoff: 1h, no jitter
    assert status["history"][0]["revision"] == 1 and status["history"][0]["status"] == "failed"
    assert await world.helm.revisions("web", world.ns) == {1: "failed"}
    assert await world.event_reasons() == ["InstallFailed"]
    assert world.helm_actions("install", "failure") == 1
    assert world.notifier.outcomes() == [("failed", "install")]

    writes = world.writes()
    second = await world.reconcile()  # before nextRetryAt

    assert second.action == "wait" and second.requeue_after is not None
    assert HOUR - 60 < second.requeue_after <= HOUR + 1
    assert len(world.helm.calls) == 1  # no helm call while waiting
    assert (await world.condition("Ready"))["reason"] == "InstallFailed"
    assert (await world.status())["installFailures"] == 1
    assert world.writes() == writes  # nothing changed, nothing written


async def test_a_fixed_failed_first_install_succeeds_as_an_install(world: World) -> None:
    await world.apply({"values": {"image": "typo"}})
    world.helm.fail("upgrade", INSTALL_TIMED_OUT)
    await world.reconcile()
    assert (await world.condition("Ready"))["status"] == "False"

    await world.edit({"spec": {"values": {"image": "fixed"}}})  # the user fixes the values
    await world.reconcile()

    assert [c.options["action"] for c in world.helm.calls] == ["install", "install"]
    assert await world.helm.revisions("web", world.ns) == {1: "failed", 2: "deployed"}
    assert (await world.status())["lastAttemptedReleaseAction"] == "install"
    assert await world.event_reasons() == ["InstallFailed", "InstallSucceeded"]
    ready = await world.condition("Ready")
    assert (ready["status"], ready["reason"]) == ("True", "InstallSucceeded")
    assert ready["message"].startswith("Helm install succeeded")
    assert (await world.condition("Released"))["reason"] == "InstallSucceeded"


@dataclass(frozen=True)
class Exhausted:
    """An upgrade whose retries are exhausted, and what its remediation (a rollback) leaves."""

    name: str
    older_failure: bool  # storage already holds a failed revision 2 (an earlier config's upgrade)
    rollback_fails: bool
    revisions: dict[int, str]  # Helm's storage afterwards
    history: list[int]  # status.history revisions, newest first
    remediated: str  # the Remediated reason; its message is named in Stalled
    events: list[str]
    notified: list[tuple[str, str]]


EXHAUSTED = [
    Exhausted(
        "rolled back to the deployed revision",
        older_failure=False,
        rollback_fails=False,
        revisions={1: "superseded", 2: "failed", 3: "deployed"},
        history=[3, 2, 1],
        remediated="RollbackSucceeded",
        events=["UpgradeFailed", "RollbackSucceeded"],
        notified=[("failed", "upgrade"), ("stalled", "")],
    ),
    Exhausted(
        "rolled back past an older failed revision, never to current - 1",
        older_failure=True,
        rollback_fails=False,
        revisions={1: "superseded", 2: "failed", 3: "failed", 4: "deployed"},
        history=[4, 3, 1],
        remediated="RollbackSucceeded",
        events=["UpgradeFailed", "RollbackSucceeded"],
        notified=[("failed", "upgrade"), ("stalled", "")],
    ),
    Exhausted(
        "a failed rollback is not tried again",
        older_failure=False,
        rollback_fails=True,
        revisions={1: "deployed", 2: "failed"},
        history=[2, 1],
        remediated="RollbackFailed",
        events=["UpgradeFailed", "RollbackFailed"],
        notified=[("failed", "upgrade"), ("failed", "rollback"), ("stalled", "")],
    ),
]


@pytest.mark.parametrize("case", EXHAUSTED, ids=[c.name for c in EXHAUSTED])
async def test_upgrade_failure_with_retries_exhausted_rolls_back_once_then_stalls(
    world: World, case: Exhausted
) -> None:
    remediation = {"retries": 0, "remediateLastFailure": True}
    await installed(world, {"upgrade": {"remediation": remediation}, "backoff": SLOW_BACKOFF})
    if case.older_failure:
        labels = {"helmrelease.dev/name": "web", "helmrelease.dev/namespace": world.ns}
        await world.helm.store("web", world.ns, 2, "failed", {**labels, "helmrelease.dev/digest": "0" * 40})
    world.helm.fail("upgrade", UPGRADE_TIMED_OUT)
    if case.rollback_fails:
        world.helm.fail("rollback", "Error: context deadline exceeded")
    await world.edit({"spec": {"values": {"image": "broken"}}})

    result = await world.reconcile()

    assert (result.action, result.requeue_after) == ("stall", None)  # stalled: wait for a change
    assert [c.command for c in world.helm.calls] == ["upgrade", "rollback"]
    assert world.helm.calls[1].options["revision"] == 1  # the last deployed revision (rule 3)
    assert await world.helm.revisions("web", world.ns) == case.revisions
    remediated = await world.condition("Remediated")
    assert (remediated["status"], remediated["reason"]) == ("True", case.remediated)
    stalled = await world.condition("Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "RetriesExhausted")
    assert stalled["message"] == (
        f"upgrade failed 1 time(s); retries exhausted; {remediated['message']}; last error: "
        "upgrade failed: resources not ready within 30s (context deadline exceeded)"
    )
    ready = await world.condition("Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RetriesExhausted")
    released = await world.condition("Released")
    assert (released["status"], released["reason"]) == ("False", "UpgradeFailed")
    status = await world.status()
    assert status["upgradeFailures"] == 1 and "nextRetryAt" not in status
    assert [h["revision"] for h in status["history"]] == case.history
    assert await world.event_reasons() == ["InstallSucceeded", *case.events]
    assert world.helm_actions("rollback", "failure" if case.rollback_fails else "success") == 1
    assert world.notifier.outcomes() == case.notified

    again = await world.reconcile()  # stalled: no upgrade loop, no second rollback

    assert again.action == "stall" and len(world.helm.calls) == 2


async def test_remediation_strategy_uninstall_uninstalls_the_failed_release(world: World) -> None:
    remediation = {"retries": 0, "remediateLastFailure": True, "strategy": "uninstall"}
    await installed(world, {"upgrade": {"remediation": remediation}, "backoff": SLOW_BACKOFF})
    world.helm.fail("upgrade", UPGRADE_TIMED_OUT)
    world.helm.fail("upgrade", INSTALL_TIMED_OUT)  # the config is still broken when installed again
    await world.edit({"spec": {"values": {"image": "broken"}}})

    result = await world.reconcile()

    # The uninstall (explicit strategy) empties the storage; the release is then absent, so the
    # same reconcile installs the current config again, which fails and (install retries 0) stalls.
    assert [(c.command, c.options.get("action")) for c in world.helm.calls] == [
        ("upgrade", "upgrade"),
        ("uninstall", None),
        ("upgrade", "install"),
    ]
    assert world.helm.commands("rollback") == []
    assert (result.action, result.requeue_after) == ("stall", None)
    remediated = await world.condition("Remediated")
    assert (remediated["status"], remediated["reason"]) == ("True", "UninstallSucceeded")
    stalled = await world.condition("Stalled")
    assert "install failed 1 time(s); retries exhausted; uninstalled" in stalled["message"]
    status = await world.status()
    assert (status["upgradeFailures"], status["installFailures"]) == (1, 1)
    assert await world.helm.revisions("web", world.ns) == {1: "failed"}
    reasons = await world.event_reasons()
    assert reasons == ["InstallSucceeded", "UpgradeFailed", "UninstallSucceeded", "InstallFailed"]
    assert world.helm_actions("uninstall", "success") == 1


async def test_a_secret_value_in_helms_error_is_redacted_everywhere(world: World) -> None:
    password = "hunter2-very-secret"
    values = base64.b64encode(f"db:\n  password: {password}\n".encode()).decode()
    secret = {"metadata": {"name": "db", "namespace": world.ns}, "data": {"values.yaml": values}}
    await world.client.create(SECRETS, world.ns, secret)
    await world.apply({"valuesFrom": [{"kind": "Secret", "name": "db", "valuesKey": "values.yaml"}]})
    world.helm.fail("upgrade", f'Error: INSTALLATION FAILED: bad password "{password}" for db')

    await world.reconcile()

    assert world.helm.calls[0].options["values"] == {"db": {"password": password}}  # on helm's stdin
    said = 'install failed: bad password "***" for db'
    assert (await world.condition("Released"))["message"] == said
    assert (await world.condition("Ready"))["message"].endswith(f"last error: {said}")  # stalled
    await world.events.flush()
    items, _ = await world.client.list(EVENTS, world.ns)
    assert [e["note"] for e in items] == [said + "; changed: chart: webapp 1.0.0 (first install)"]
    assert [(n.outcome, n.reason.endswith(said)) for n in world.notifier.sent] == [
        ("failed", True),
        ("stalled", True),
    ]
    assert password not in json.dumps(await world.obj())


async def test_a_release_left_pending_is_unlocked_then_upgraded(world: World) -> None:
    await installed(world)
    labels = {"helmrelease.dev/name": "web", "helmrelease.dev/namespace": world.ns}
    await world.helm.store("web", world.ns, 2, "pending-upgrade", labels)  # helm killed mid-upgrade

    result = await world.reconcile()

    assert (result.action, result.ok) == ("none", True)
    assert [c.command for c in world.helm.calls] == ["upgrade"]  # never an uninstall (rule 2)
    assert await world.helm.revisions("web", world.ns) == {1: "superseded", 2: "failed", 3: "deployed"}
    ready = await world.condition("Ready")
    assert (ready["status"], ready["reason"]) == ("True", "UpgradeSucceeded")
    assert await world.event_reasons() == ["InstallSucceeded", "UnlockSucceeded", "UpgradeSucceeded"]
    assert world.helm_actions("unlock", "success") == 1


@pytest.mark.parametrize(
    ("spec", "annotations", "says"),
    [
        ({"suspend": True}, {}, "reconciliation suspended (spec.suspend)"),
        (
            {},
            {"helmrelease.dev/suspend": "true"},
            "reconciliation suspended (helmrelease.dev/suspend annotation)",
        ),
    ],
    ids=["spec.suspend", "annotation"],
)
async def test_suspended_says_so_and_runs_no_helm(
    world: World, spec: dict[str, Any], annotations: dict[str, str], says: str
) -> None:
    await world.apply(spec, annotations=annotations)

    result = await world.reconcile()

    assert result.action == "suspended" and result.requeue_after is None
    assert world.helm.calls == [] and world.sources.resolves == []
    ready = await world.condition("Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("Unknown", "Suspended", says)
    assert (await world.status())["suspended"] is True


async def test_invalid_spec_stalls_with_the_reason_and_runs_no_helm(world: World) -> None:
    # Valid for the CRD schema (which refuses e.g. a bad duration at apply time), refused by the
    # controller: helm keeps a release's storage in its own namespace.
    await world.apply({"storageNamespace": "elsewhere"})

    result = await world.reconcile()

    assert (result.action, result.ok, result.requeue_after) == ("invalid", False, None)
    assert world.helm.calls == [] and world.sources.resolves == []
    stalled, ready = await world.condition("Stalled"), await world.condition("Ready")
    assert (stalled["status"], stalled["reason"]) == ("True", "InvalidSpec")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert ready["message"].startswith("invalid spec: spec.storageNamespace") and "\n" not in ready["message"]
    assert await world.event_reasons() == ["InvalidSpec"]
    assert world.notifier.outcomes() == [("stalled", "")] and world.failures("spec") == 1

    writes = world.writes()
    await world.reconcile()  # the same bad spec: told once

    assert world.writes() == writes and await world.event_reasons() == ["InvalidSpec"]
    assert world.notifier.outcomes() == [("stalled", "")] and world.failures("spec") == 1


@pytest.mark.parametrize("test_enabled", [False, True])
async def test_an_in_sync_release_costs_no_helm_call_and_no_write(world: World, test_enabled: bool) -> None:
    await installed(world, {"test": {"enable": test_enabled}})
    writes = world.writes()

    result = await world.reconcile()

    assert (result.action, result.ok, result.requeue_after) == ("none", True, 300.0)
    assert world.helm.calls == []
    assert world.writes() == writes
    assert (await world.condition("Ready"))["status"] == "True"


async def test_force_at_upgrades_with_force_once_and_records_the_token(world: World) -> None:
    await installed(world)

    await world.edit({"metadata": {"annotations": {"helmrelease.dev/force-at": "t1"}}})
    result = await world.reconcile()

    assert (result.action, result.ok) == ("none", True)
    assert [(c.command, c.options["force"]) for c in world.helm.calls] == [("upgrade", True)]
    assert (await world.status())["lastHandledForceAt"] == "t1"
    assert world.sources.resolves[-1] is True  # a new request token refetches the chart

    await world.reconcile()  # the same token again: handled already

    assert len(world.helm.calls) == 1


async def test_helm_test_runs_once_per_revision(world: World) -> None:
    await world.apply({"test": {"enable": True}})

    await world.reconcile()

    assert [c.command for c in world.helm.calls] == ["upgrade", "test"]
    test = await world.condition("TestSuccess")
    assert (test["status"], test["reason"]) == ("True", "TestSucceeded")
    assert (await world.status())["lastTestedRevision"] == 1

    await world.reconcile()  # revision 1 is tested: nothing to do

    assert [c.command for c in world.helm.calls] == ["upgrade", "test"]

    world.sources.chart = world.sources.version("1.1.0")  # a new chart version: revision 2
    await world.reconcile()

    assert [c.command for c in world.helm.calls] == ["upgrade", "test", "upgrade", "test"]
    assert (await world.status())["lastTestedRevision"] == 2
    assert world.helm_actions("test", "success") == 2


@pytest.mark.parametrize(
    ("owner", "uninstalled"),
    [("ours", True), ("another HelmRelease", False), ("another tool", False)],
)
async def test_deletion_uninstalls_only_a_release_this_helmrelease_made(
    world: World, owner: str, uninstalled: bool
) -> None:
    if owner == "ours":
        await installed(world)
    else:
        labels = {"helmrelease.dev/name": "other", "helmrelease.dev/namespace": world.ns}
        await world.helm.store("web", world.ns, 1, "deployed", labels if owner != "another tool" else {})
        # the finalizer from an earlier reconcile, before this one could adopt the release
        await world.apply({}, finalizers=[FINALIZER])

    await world.client.delete(HELMRELEASES, world.ns, "web")
    result = await world.reconcile()

    assert result.action == "finalize"
    assert [c.command for c in world.helm.calls] == (["uninstall"] if uninstalled else [])
    assert (await world.helm.revisions("web", world.ns) == {}) is uninstalled
    with pytest.raises(NotFound):  # the finalizer is gone, and so is the object
        await world.obj()
    assert ("UninstallSucceeded" in await world.event_reasons()) is uninstalled
