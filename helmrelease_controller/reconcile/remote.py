"""Where a HelmRelease's release lives: this cluster, or another one (spec.kubeConfig.secretRef).

Flux's remote-cluster mode: one management cluster drives many. The HelmRelease, its chart
resolution, its values (valuesFrom), status, events and finalizer stay in this cluster; helm
(install, upgrade, test, rollback, uninstall) runs against the remote one, and Helm's storage is
read (and unlocked) there. `targetNamespace` and `storageNamespace` name namespaces of the remote
cluster. With `serviceAccountName` (or --default-service-account) helm, and our reads of Helm's
storage, impersonate `system:serviceaccount:<the HelmRelease's namespace>:<name>` in the remote
cluster, as Flux does: the kubeconfig's user must be allowed to impersonate it there.

`RemoteClusters.cluster(hr, local, user)` is the one entry: for a HelmRelease without
spec.kubeConfig it yields `local` untouched; otherwise, per use, it reads the Secret (with the
controller's own identity, in the HelmRelease's namespace: a Secret of another namespace cannot
be named, so --no-cross-namespace-refs has nothing to add), checks the kubeconfig
(kube/kubeconfig.py: no programs, no controller files), writes what it keeps as a 0600 file in a
private directory of the controller for helm (`--kubeconfig`, never in argv otherwise, never in
logs, events or status), builds a client for the remote API server, and removes both when the use
ends. Anything wrong with the Secret, the kubeconfig or the remote API server (unreachable,
credentials refused) ends the use with `RemoteError`: one line, no secret, for the HelmRelease's
Ready condition and an event (reason RESTClientError, as Flux), retried with the spec's backoff.
An error of the remote API server is never taken for an outage of this cluster's (kube/apihealth).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import ssl
import tempfile
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes.aio import client as kclient

from ..api.models import HelmRelease
from ..helm.runner import Helm
from ..kube import kubeconfig
from ..kube.client import SECRETS, ApiError, KubeClient, TransportError
from ..preflight import forbidden_reason
from ..sources.base import redact_url
from .helmstorage import ReleaseObservation
from .report import Reporter
from .status import one_line

REASON = "RESTClientError"  # Flux's Ready reason when the remote cluster's client cannot be had
REQUEST_TIMEOUT = 30.0  # seconds per request to a remote API server (Flux's default)
_TAG = "_remote_cluster"  # set on an ApiError raised by a remote client

# (storage_namespace, release, fresh=True, after=revision): see reconcile/storagecache.py
Observe = Callable[..., Awaitable[ReleaseObservation]]


class RemoteError(Exception):
    """The remote cluster cannot be used now; str() is one secret-free line."""

    def __init__(self, message: str, secret_missing: bool = False) -> None:
        super().__init__(one_line(message, 400))
        self.secret_missing = secret_missing


@dataclass(frozen=True)
class Cluster:
    """Where one reconcile (or finalize) works: the client for Helm's storage and the release's
    objects, the helm runner, and how Helm's storage is looked at."""

    client: KubeClient
    helm: Helm
    observe: Observe
    server: str = ""  # the remote API server, for messages; "" for this cluster

    @property
    def remote(self) -> bool:
        return bool(self.server)


class RemoteKubeClient(KubeClient):
    """A client of a remote API server whose errors say so (`remote_error`), so that the caller
    tells them apart from this cluster's."""

    def __init__(self, api_client: kclient.ApiClient, server: str) -> None:
        super().__init__(api_client, request_timeout=REQUEST_TIMEOUT)
        self.server = server

    async def _send(self, *args: Any, **kw: Any) -> Any:
        return await self._tagged(super()._send(*args, **kw))

    async def _json(self, *args: Any, **kw: Any) -> Any:
        return await self._tagged(super()._json(*args, **kw))

    async def _tagged(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except ApiError as e:
            setattr(e, _TAG, self.server)
            raise


def remote_error(err: BaseException) -> RemoteError | None:
    """The one line for an error a remote API server gave (None: not a remote client's error)."""
    server = getattr(err, _TAG, None)
    if not isinstance(err, ApiError) or server is None:
        return None
    where = f"remote cluster {server}"
    if isinstance(err, TransportError):
        return RemoteError(f"{where} is unreachable: {err.message}")
    if err.status == 401:
        return RemoteError(f"{where} refused the kubeconfig's credentials (401 Unauthorized)")
    return RemoteError(f"{where}: {err.status} {err.reason}: {err.message}")


def configuration(endpoint: kubeconfig.Endpoint, workdir: Path) -> kclient.Configuration:
    """The official client's configuration for `endpoint`; a client certificate and key go to
    0600 files in `workdir` (the TLS library reads them only from files)."""
    cfg = kclient.Configuration()
    cfg.host = endpoint.server
    if endpoint.ca_data:
        cfg.ca_cert_data = _b64(endpoint.ca_data).decode("utf-8", "replace")
    if endpoint.client_certificate_data:
        cfg.cert_file = str(write_private(workdir / "client.crt", _b64(endpoint.client_certificate_data)))
        cfg.key_file = str(write_private(workdir / "client.key", _b64(endpoint.client_key_data)))
    if endpoint.tls_server_name:
        cfg.tls_server_name = endpoint.tls_server_name
    if endpoint.proxy_url:
        cfg.proxy = endpoint.proxy_url
    if endpoint.token:
        cfg.api_key["BearerToken"] = f"Bearer {endpoint.token}"
    elif endpoint.username:
        basic = base64.b64encode(f"{endpoint.username}:{endpoint.password}".encode()).decode()
        cfg.api_key["BearerToken"] = f"Basic {basic}"
    return cfg


def write_private(path: Path, content: bytes) -> Path:
    """`content` into a new file only the controller's user may read (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    return path


def _b64(data: str) -> bytes:
    return base64.b64decode("".join(data.split()))


class RemoteClusters:
    """The remote clusters of HelmReleases with spec.kubeConfig (see the module docstring)."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client  # this cluster's: reads the kubeconfig Secrets
        self._root: Path | None = None

    def _workdir(self) -> Path:
        """A new private directory (0700) for one use's kubeconfig and client key."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="helmrelease-kubeconfigs-"))
            weakref.finalize(self, shutil.rmtree, self._root, True)
        return Path(tempfile.mkdtemp(dir=self._root))

    @contextlib.asynccontextmanager
    async def cluster(self, hr: HelmRelease, local: Cluster, user: str | None) -> AsyncIterator[Cluster]:
        """`local` for a HelmRelease without spec.kubeConfig; else its remote cluster, acting as
        `user` there (None: the kubeconfig's own user). RemoteError when it cannot be used, also
        when the remote API server fails while in use."""
        ref = hr.spec.kube_config.secret_ref if hr.spec.kube_config else None
        if ref is None:
            yield local
            return
        endpoint = await self._endpoint(hr.namespace, ref.name, ref.key)
        workdir = self._workdir()
        remote: RemoteKubeClient | None = None
        try:
            path = write_private(workdir / "kubeconfig", yaml.safe_dump(endpoint.kubeconfig()).encode())
            remote = _client(endpoint, workdir)
            local.helm.add_secrets(endpoint.secrets)
            view = remote.impersonating(user)
            helm = local.helm.with_kubeconfig(str(path))
            try:
                yield Cluster(view, helm, _observer(view), redact_url(endpoint.server))
            except ApiError as e:
                if (why := remote_error(e)) is not None:
                    raise why from None
                raise
        finally:
            if remote is not None:
                await remote.close()
            shutil.rmtree(workdir, ignore_errors=True)

    async def _endpoint(self, namespace: str, name: str, key: str | None) -> kubeconfig.Endpoint:
        """The checked kubeconfig of Secret namespace/name (read as the controller)."""
        secret = f"{namespace}/{name}"
        try:
            obj = await self.client.get(SECRETS, namespace, name)
        except ApiError as e:
            if e.status == 404:
                raise RemoteError(
                    f"spec.kubeConfig: Secret {secret} not found", secret_missing=True
                ) from None
            if e.status == 403:
                raise RemoteError(
                    forbidden_reason(e, "get", "secrets", namespace, "spec.kubeConfig")
                ) from None
            raise  # this cluster's API server: its outage handling applies
        try:
            raw = kubeconfig.from_secret(obj.get("data"), key, secret)
            return kubeconfig.parse(raw)
        except kubeconfig.KubeConfigError as e:
            text = str(e)
            where = "" if text.startswith("Secret ") else f"the kubeconfig in Secret {secret}: "
            raise RemoteError(f"spec.kubeConfig: {where}{text}") from None


def _client(endpoint: kubeconfig.Endpoint, workdir: Path) -> RemoteKubeClient:
    try:
        return RemoteKubeClient(
            kclient.ApiClient(configuration(endpoint, workdir)), redact_url(endpoint.server)
        )
    except (ssl.SSLError, ValueError, OSError) as e:
        # A CA or client certificate the TLS library cannot load (its message has no key material).
        raise RemoteError(f"spec.kubeConfig: the kubeconfig's certificates cannot be loaded: {e}") from None


def _observer(client: KubeClient) -> Observe:
    """Helm's storage of one release in the remote cluster: always a direct, metadata-only list."""
    from .finalize import observe_release  # finalize imports this module

    async def look(
        storage_namespace: str, release: str, fresh: bool = True, after: int = 0
    ) -> ReleaseObservation:
        return await observe_release(client, storage_namespace, release)

    return look


def remote_unusable(report: Reporter, obj: dict[str, Any], hr: HelmRelease, err: RemoteError) -> bool:
    """A deleted HelmRelease whose remote cluster cannot be used. Its kubeconfig Secret gone: the
    release cannot be reached any more, so it is left there and the HelmRelease goes (as Flux);
    True. Anything else: an UninstallFailed event, and the finalizer tries again; False."""
    if err.secret_missing:
        where = f"{hr.target_namespace}/{hr.release_name}"
        report.event(
            obj, False, "ReleaseKept", f"release {where} is left in the remote cluster: {err}", "Finalize"
        )
        return True
    report.event(obj, False, "UninstallFailed", str(err), "Uninstall")
    return False
