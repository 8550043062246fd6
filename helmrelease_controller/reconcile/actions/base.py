"""What every action shares: what it acts on (`Step`), the I/O it may use (`Helm`, the
Kubernetes client) and what it returns (`ActionResult`).

An action module (install.py, upgrade.py, ...) has two functions, read side by side:
`run(helm, client, step)` carries it out (the one place its helm process starts) and
`record(status, step, result, now, rand)` says what status shows afterwards, success and
failure (pure). The pipeline (reconcile/pipeline.py) only picks the module and reports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ...api.models import HelmReleaseSpec
from ...helm.runner import Helm, slot_wait
from ...kube.client import KubeClient
from ...postrender import PostRender
from ...valuepaths import KeyPath
from ..backoff import Backoff
from ..decide import Decision, Facts
from ..helmstorage import ReleaseObservation
from ..status import Status


@dataclass(frozen=True)
class ReleaseTarget:
    """Where and what to release, resolved from the spec."""

    owner_namespace: str
    owner_name: str
    release: str
    namespace: str  # target namespace
    storage_namespace: str
    chart_path: Path
    values: dict[str, Any]
    config_digest: str
    history_max: int
    timeout: str
    helm_user: str | None = None  # impersonated by helm (reconcile/tenancy.py); None: the controller
    post_render: PostRender | None = None  # postRenderers + commonMetadata; None: none
    secret_paths: frozenset[KeyPath] = frozenset()  # the values' paths a valuesFrom Secret set (masked)


@dataclass(frozen=True)
class Attempt:
    """The release being worked on, as status needs to describe it."""

    namespace: str  # target namespace
    release: str
    config_digest: str
    chart_name: str
    chart_version: str
    app_version: str
    chart_revision: str
    max_history: int
    backoff: Backoff
    test_ignore_failures: bool
    generation: int


@dataclass(frozen=True)
class Step:
    """One decided action with everything it acts on."""

    decision: Decision
    facts: Facts
    target: ReleaseTarget
    attempt: Attempt
    spec: HelmReleaseSpec
    force: bool = False  # force-at asked for a replace (install/upgrade)


@dataclass
class ActionResult:
    ok: bool
    message: str  # one redacted line
    revision: int = 0  # the release revision the action produced, when known
    duration: float = 0.0
    observed: ReleaseObservation | None = None  # Helm's storage as the action left it, when it looked


class Action(Protocol):
    """An action module, as the pipeline uses it."""

    LABEL: str  # install, upgrade, rollback, uninstall, test, unlock: events, metrics, logs

    async def run(self, helm: Helm, client: KubeClient, step: Step) -> ActionResult: ...

    def record(self, status: Status, step: Step, result: ActionResult, now: float, rand: float) -> Status: ...


class Stopwatch:
    """Seconds since it was made, less any wait for a helm slot (`--concurrent`): every
    ActionResult carries how long its action took."""

    def __init__(self) -> None:
        self.start, self.waited = time.monotonic(), slot_wait()

    def result(self, ok: bool, message: str, **fields: Any) -> ActionResult:
        took = time.monotonic() - self.start - (slot_wait() - self.waited)
        return ActionResult(ok, message, duration=took, **fields)


__all__ = ["Action", "ActionResult", "Attempt", "ReleaseTarget", "Step", "Stopwatch"]
