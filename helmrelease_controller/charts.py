"""Chart resolution for a HelmRelease: picks the source for `spec.chart` and reads its credentials.

The sources themselves (sources/) know nothing of Kubernetes; this is where a
`secretRef` becomes `Credentials` (`secret_credentials`, which GitSync uses too). Credentials are
read per resolve and never logged.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any
from urllib.parse import urlsplit

from .api.chart import KEYRING_KEY
from .kube.client import SECRETS, KubeClient
from .kube.client import NotFound as KubeNotFound
from .sources.base import Credentials, ResolvedChart, SourceError
from .sources.oci import OCIChartSpec
from .sources.ociregistry import docker_config_credentials
from .sources.provenance import Keyring

# Concurrent resolves per source host (the resolves of one index or archive share one fetch anyway).
DEFAULT_PER_HOST = 4


def _host_of(url: str) -> str:
    """The server of a source URL (host and port; scp-like git URLs included), for per-host limits."""
    if "://" in url:
        try:
            parts = urlsplit(url)
            return f"{(parts.hostname or '').lower()}:{parts.port or parts.scheme}"
        except ValueError:
            return ""
    return url.split("@", 1)[-1].split(":", 1)[0].lower()  # git@host:path


async def secret_credentials(
    client: KubeClient, namespace: str, ref: Any, oci_spec: Any = None
) -> Credentials | None:
    """The `Credentials` in the Secret `ref` (a secretRef: `.name`) names in `namespace`; None when
    there is no ref. For an OCI source (`oci_spec`), a kubernetes.io/dockerconfigjson Secret is read
    as image pull secrets are. SourceError when the Secret is missing or a pair is incomplete."""
    if ref is None:
        return None
    try:
        secret = await client.get(SECRETS, namespace, ref.name)
    except KubeNotFound:
        raise SourceError(f"secretRef: Secret {namespace}/{ref.name} not found") from None
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    if oci_spec is not None and ".dockerconfigjson" in data:
        return docker_config_credentials(data, OCIChartSpec.from_spec(oci_spec).host)
    return Credentials.from_secret_data(data)


async def verify_keyring(client: KubeClient, namespace: str, verify: Any) -> Keyring | None:
    """The keyring `spec.chart.verify` names (key pubring.gpg of its Secret); None without verify.
    SourceError when the Secret or its key is missing or the keys are unreadable."""
    if verify is None:
        return None
    name = verify.secret_ref.name
    try:
        secret = await client.get(SECRETS, namespace, name)
    except KubeNotFound:
        raise SourceError(f"chart.verify: Secret {namespace}/{name} not found") from None
    raw = (secret.get("data") or {}).get(KEYRING_KEY)
    if not raw:
        raise SourceError(f"chart.verify: Secret {namespace}/{name} has no key {KEYRING_KEY} (the keyring)")
    return Keyring.from_bytes(base64.b64decode(raw), f"Secret {namespace}/{name} key {KEYRING_KEY}")


class ChartResolver:
    def __init__(
        self,
        repository: Any,
        git: Any = None,
        oci: Any = None,
        metrics: Any = None,
        per_host: int = DEFAULT_PER_HOST,
    ) -> None:
        self.repository, self.git, self.oci = repository, git, oci
        self.metrics = metrics  # helmrelease_controller.metrics.Metrics, when wired
        self.per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        """At most `per_host` resolves at once against one host: a dead host costs a few
        connection attempts at a time, not one per HelmRelease."""
        host = _host_of(url)
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self.per_host)
        return slot

    async def resolve(self, hr: Any, client: KubeClient, refresh: bool = False) -> ResolvedChart:
        chart = hr.spec.chart
        for kind in ("repository", "git", "oci"):
            ref = getattr(chart, kind, None)
            if ref is None:
                continue
            source = getattr(self, kind)
            if source is None:
                raise SourceError(f"spec.chart.{kind}: this source kind is not supported yet")
            creds = await secret_credentials(
                client, hr.namespace, getattr(ref, "secret_ref", None), ref if kind == "oci" else None
            )
            keyring = await verify_keyring(client, hr.namespace, getattr(chart, "verify", None))
            verify = {"keyring": keyring} if keyring is not None else {}  # not git (api)
            hits, start = getattr(source, "cache_hits", 0), time.monotonic()
            try:
                async with self._host_slot(str(getattr(ref, "url", "") or "")):
                    resolved: ResolvedChart = await source.resolve(ref, creds, refresh=refresh, **verify)
            except SourceError:
                if self.metrics is not None:
                    self.metrics.source_fetch(kind, False, time.monotonic() - start)
                raise
            if self.metrics is not None:
                hit = getattr(source, "cache_hits", 0) > hits
                self.metrics.source_fetch(kind, True, time.monotonic() - start, cache_hit=hit)
            return resolved
        raise SourceError("spec.chart: no chart source set")
