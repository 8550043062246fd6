"""Writing a GitSync's plan to the cluster, and reading what it applied before. I/O through kube/.

- `list_live` reads the objects carrying the `helmrelease.dev/gitsync` label (any value), metadata
  only: Namespaces cluster-wide, ConfigMaps and HelmReleases in the given namespaces.
- `apply_plan` server-side applies each object of the plan under the field manager
  `helmrelease-controller-gitsync`: Namespaces first, then ConfigMaps, then HelmReleases (each
  kind only when the previous one is complete), and prunes only after everything was applied.

Applies use `force=True`: git is the declared source of truth for the fields it sets, so a field
someone changed by hand with kubectl (another field manager) is taken back when its file changes,
instead of failing the whole commit on a conflict. Fields git does not set (the controller's
finalizer and status, labels added by others) stay with their managers. An object whose file did
not change is not written at all (plan.py), so hand edits to it survive until its next commit.

A failed write raises `ApplyError` (one line naming the file and object); what was applied stays,
and the next sync applies the whole commit again (unchanged objects cost nothing).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from helmrelease_controller.api.gitsync import GITSYNC_KIND, GITSYNC_PLURAL, LABEL_GITSYNC
from helmrelease_controller.api.models import GROUP, VERSION
from helmrelease_controller.helm.failures import forbidden
from helmrelease_controller.kube.client import (
    CONFIGMAPS,
    HELMRELEASES,
    NAMESPACES,
    ApiError,
    KubeClient,
    NotFound,
    Resource,
)

from .plan import APPLY_ORDER, LiveObject, Plan, Ref

__all__ = ["FIELD_MANAGER", "GITSYNCS", "RESOURCES", "ApplyError", "ApplyResult", "apply_plan", "list_live"]

FIELD_MANAGER = "helmrelease-controller-gitsync"
GITSYNCS = Resource(GROUP, VERSION, GITSYNC_PLURAL, True, GITSYNC_KIND)
RESOURCES: dict[str, Resource] = {
    "Namespace": NAMESPACES,
    "ConfigMap": CONFIGMAPS,
    "HelmRelease": HELMRELEASES,
}
CONCURRENCY = 8  # writes in flight at once, within one kind


class ApplyError(Exception):
    """A write failed; str() is one line naming the file (or object) and the API server's reason."""


@dataclass
class ApplyResult:
    applied: Counter[str] = field(default_factory=Counter)  # kind -> objects written
    pruned: Counter[str] = field(default_factory=Counter)  # kind -> objects deleted
    unchanged: int = 0

    @property
    def total_applied(self) -> int:
        return sum(self.applied.values())

    @property
    def total_pruned(self) -> int:
        return sum(self.pruned.values())


async def list_live(client: KubeClient, namespaces: Iterable[str]) -> list[LiveObject]:
    """Every object labelled by some GitSync: Namespaces, and ConfigMaps and HelmReleases in `namespaces`."""
    out: list[LiveObject] = []

    async def one(res: Resource, ns: str | None) -> list[LiveObject]:
        items, _ = await client.list(res, ns, label_selector=LABEL_GITSYNC, metadata_only=True)
        found = []
        for item in items:
            meta = item.get("metadata") or {}
            ref = Ref(res.kind, str(meta.get("namespace") or "") if res.namespaced else "", str(meta["name"]))
            found.append(LiveObject(ref, dict(meta.get("labels") or {}), dict(meta.get("annotations") or {})))
        return found

    calls = [one(NAMESPACES, None)]
    calls += [one(res, ns) for ns in sorted(set(namespaces)) for res in (CONFIGMAPS, HELMRELEASES)]
    for found in await asyncio.gather(*calls):
        out.extend(found)
    return out


def _reason(err: ApiError) -> str:
    message = " ".join(err.message.split()) or err.reason
    if err.status == 403 and (explained := forbidden(message)):
        return explained  # who may not do what, where: as for helm (helm/failures.py)
    return f"{err.status} {err.reason}: {message}" if err.status else message


async def apply_plan(client: KubeClient, plan: Plan, *, concurrency: int = CONCURRENCY) -> ApplyResult:
    """Apply, then prune, as the module docstring says; returns what was written."""
    result = ApplyResult(unchanged=len(plan.unchanged))
    gate = asyncio.Semaphore(concurrency)

    async def apply_one(kind: str, ns: str, name: str, body: dict[str, object], where: str) -> str | None:
        async with gate:
            try:
                await client.patch(
                    RESOURCES[kind], ns or None, name, body, patch_type="apply",
                    field_manager=FIELD_MANAGER, force=True,
                )  # fmt: skip
            except ApiError as err:
                label = f"{kind} {ns}/{name}" if ns else f"{kind} {name}"
                return f"{where}: {label}: apply failed: {_reason(err)}"
        return None

    for kind in APPLY_ORDER:
        batch = [(d, body) for d, body in plan.apply if d.kind == kind]
        outcomes = await asyncio.gather(
            *(apply_one(d.kind, d.namespace, d.name, body, d.where) for d, body in batch)
        )
        failures = [o for o in outcomes if o is not None]
        result.applied[kind] += len(batch) - len(failures)
        if failures:
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            raise ApplyError(failures[0] + more)

    for ref in plan.prune:  # in plan order: HelmReleases, ConfigMaps, Namespaces
        try:
            await client.delete(
                RESOURCES[ref.kind], ref.namespace or None, ref.name, propagation="Background"
            )
        except NotFound:
            continue
        except ApiError as err:
            raise ApplyError(f"{ref.describe()}: prune failed: {_reason(err)}") from None
        result.pruned[ref.kind] += 1
    return result
