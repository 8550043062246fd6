"""A deleted HelmRelease: uninstall the release it made, then let the object go.

Only a release this HelmRelease made (our owner labels in Helm's storage) is uninstalled,
never another's. Deleting the HelmRelease CRD (or uninstalling the controller with it) deletes
every HelmRelease: that never cascades into uninstalling workloads (DESIGN rule 6); when
unsure whether the CRD is going, the finalizer waits rather than uninstall by surprise.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ..api.models import CRD_NAME, FINALIZER, HelmRelease, SpecError
from ..helm.runner import Helm
from ..kube.client import CRDS, SECRETS, KubeClient
from ..kube.client import ApiError as KubeApiError
from .actions.uninstall import uninstall
from .gates import backoff_of
from .helmstorage import ReleaseObservation, observe
from .objects import Objects
from .remote import Cluster, RemoteClusters, RemoteError, remote_unusable
from .report import Reporter
from .run import Result
from .tenancy import Tenancy


class Finalizer:
    def __init__(
        self, client: KubeClient, helm: Helm, objects: Objects, report: Reporter, tenancy: Tenancy
    ) -> None:
        self.client, self.helm, self.objects, self.report = client, helm, objects, report
        self.tenancy = tenancy
        self.remotes = RemoteClusters(client)  # spec.kubeConfig: the release is in another cluster

    async def finalize(self, obj: dict[str, Any]) -> Result:
        finalizers = list(obj["metadata"].get("finalizers") or [])
        if FINALIZER not in finalizers:
            return Result(None)
        hr = _parsed(obj)
        if hr is not None and await self._crd_deleting():
            where = f"{hr.target_namespace}/{hr.release_name}"
            msg = f"the HelmRelease CRD is being deleted: release {where} is left installed"
            self.report.event(obj, True, "ReleaseKept", msg, "Finalize")
            hr = None
        if hr is not None and not await self._uninstall(obj, hr):
            return Result(backoff_of(hr.spec).delay(1), "uninstall", False)
        try:
            await self.objects.set_finalizers(obj, [f for f in finalizers if f != FINALIZER])
        except KubeApiError as e:
            if e.status != 404:
                raise
        return Result(None, "finalize")

    async def _uninstall(self, obj: dict[str, Any], hr: HelmRelease) -> bool:
        """Uninstall the release if it is ours, where it lives (spec.kubeConfig: in the remote
        cluster); False when that failed (retried)."""
        local = Cluster(self.client, self.helm, partial(observe_release, self.client))
        try:
            async with self.remotes.cluster(hr, local, self.tenancy.helm_user(hr)) as where:
                return await self._uninstall_in(where, obj, hr)
        except RemoteError as e:
            return remote_unusable(self.report, obj, hr, e)

    async def _uninstall_in(self, where: Cluster, obj: dict[str, Any], hr: HelmRelease) -> bool:
        release, ns = hr.release_name, hr.target_namespace
        obs = await observe_release(where.client, hr.storage_namespace, release)
        latest = obs.latest
        if not obs.exists or latest is None or latest.owner != f"{hr.namespace}/{hr.name}":
            return True
        helm = where.helm.impersonating(self.tenancy.helm_user(hr))  # as it was installed
        out = await uninstall(helm, release, ns, hr.spec, hr.spec.timeout)
        ok_msg = f"release {ns}/{release} uninstalled (HelmRelease deleted)"
        reason = "UninstallSucceeded" if out.ok else "UninstallFailed"
        self.report.event(obj, out.ok, reason, ok_msg if out.ok else out.message, "Uninstall")
        return out.ok

    async def _crd_deleting(self) -> bool:
        """True when the HelmRelease CRD is being deleted (or already gone)."""
        try:
            crd = await self.client.get(CRDS, None, CRD_NAME)
        except KubeApiError as e:
            if e.status == 404:
                return True
            raise  # unsure: retry later rather than uninstall by surprise
        return bool(crd["metadata"].get("deletionTimestamp"))


def _parsed(obj: dict[str, Any]) -> HelmRelease | None:
    """The HelmRelease, even with a field this controller does not support (an older one may have
    installed it); None when the spec never was valid (so nothing of ours was installed from it)."""
    try:
        return HelmRelease.from_obj(obj, supported_only=False)
    except SpecError:
        return None


async def observe_release(client: KubeClient, storage_namespace: str, release: str) -> ReleaseObservation:
    """Helm's storage for one release, from its Secrets' labels alone: a metadata-only list, so
    neither the API server nor we handle the release blobs (most of each Secret's bytes)."""
    items, _ = await client.list(
        SECRETS, storage_namespace, label_selector=f"owner=helm,name={release}", metadata_only=True
    )
    return observe(items)
