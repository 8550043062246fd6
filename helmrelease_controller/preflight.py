"""Startup checks: what must hold before the controller starts, each failure said in one line.

- `check_helm`, `helm_version`: the helm binary exists, runs, and is v3 or v4 (else nothing could
  ever be installed).
- `missing_tools`: git and ssh, which only `spec.chart.git` sources need: a warning, not a failure.
- `connect`: a `KubeClient` from --kubeconfig/--context, $KUBECONFIG or the in-cluster service
  account; a bad file, an unknown context or no cluster at all is a `StartupError` (one line).
- `check_api`: one list of HelmReleases before the informers start. A missing CRD, a 401 or a 403
  is a `StartupError` naming the fix; an unreachable or failing API server is retried (the one
  `Backoff` policy: 0.5 s doubling to 30 s, no jitter; logged; waits on an injectable `Clock`)
  until it answers or `stop` is set.
- `forbidden_reason`: a 403 from the API server as a one-line reason naming who lacks which
  permission where (for the reconciler: Helm's storage Secrets).

The CLI turns a `StartupError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil

from . import procs
from .clock import SYSTEM, Clock
from .kube.client import HELMRELEASES, ApiError, KubeClient, NotFound, TransportError
from .reconcile.backoff import Backoff

log = logging.getLogger("helmrelease_controller")

CRD_NAME = f"{HELMRELEASES.plural}.{HELMRELEASES.group}"
CRD_INSTALL = "kubectl apply -k crds/ (the CRDs in the helmrelease-controller repository)"
RBAC_INSTALL = "kubectl apply -k deploy/ (deploy/base/rbac.yaml)"
_USER = re.compile(r'User "([^"]+)"')
API_BACKOFF = Backoff(initial=0.5, max=30.0, factor=2.0, jitter=0.0)  # waiting for the API server


class StartupError(Exception):
    """The controller cannot start; the message is one line saying why and what to do."""


def _one_line(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def check_helm(helm: str) -> None:
    """StartupError unless `helm` (a name on PATH or a path) is an executable file."""
    found = shutil.which(helm)
    if found is not None:
        return
    if os.sep in helm:
        why = "no such file" if not os.path.exists(helm) else "not an executable file"
        raise StartupError(f"--helm {helm}: {why}; the controller needs the helm CLI (v3 or v4)")
    raise StartupError(f"helm CLI {helm!r} not found on PATH; install helm (v3 or v4) or pass --helm PATH")


async def helm_version(helm: str, timeout: float = 30.0) -> str:
    """`helm version` ("v4.3.1"; probed once, shared with the runner: procs.helm_version);
    StartupError when helm does not run or is not v3/v4."""
    try:
        version = await procs.helm_version(helm, timeout)
    except procs.ProcessError as e:
        if e.timed_out:
            raise StartupError(f"--helm {helm}: `helm version` did not answer in {timeout:g}s") from None
        if e.rc is None:
            raise StartupError(f"--helm {helm}: cannot run it: {e.why}") from None
        raise StartupError(f"--helm {helm}: `helm version` {_one_line(e.why)}") from None
    if not re.fullmatch(r"v[34]\.\d+\.\d+\S*", version):
        raise StartupError(f"--helm {helm}: helm {_one_line(version, 40) or '?'} is not supported (v3 or v4)")
    return version


def missing_tools() -> list[str]:
    """What git chart sources need and is not on PATH: git (every git URL), ssh (ssh URLs)."""
    return [tool for tool in ("git", "ssh") if shutil.which(tool) is None]


async def connect(kubeconfig: str | None, context: str | None) -> KubeClient:
    """A client for the cluster, or a one-line StartupError saying why there is none."""
    if kubeconfig:
        # $KUBECONFIG may list several files (merged); at least one must exist.
        if not any(os.path.isfile(p) for p in kubeconfig.split(os.pathsep) if p):
            raise StartupError(f"kubeconfig {kubeconfig}: no such file")
        try:
            return await KubeClient.from_kubeconfig(kubeconfig, context)
        except Exception as e:
            raise StartupError(_kubeconfig_error(kubeconfig, context, e)) from None
    if not os.environ.get("KUBERNETES_SERVICE_HOST"):
        raise StartupError(
            "no cluster to talk to: pass --kubeconfig FILE or set KUBECONFIG "
            "(or run in a pod, with its service account)"
        )
    try:
        return await KubeClient.in_cluster()
    except Exception as e:
        raise StartupError(f"in-cluster configuration: {_one_line(e)}") from None


def _kubeconfig_error(path: str, context: str | None, err: Exception) -> str:
    text = _one_line(err)
    if context and "context" in text.lower() and context in text:
        return f'kubeconfig {path}: no context "{context}"'
    if not isinstance(err, ValueError | KeyError | OSError) and type(err).__name__ != "ConfigException":
        return f"kubeconfig {path}: not a kubeconfig file ({type(err).__name__})"
    if "invalid kube-config" in text.lower():
        return f"kubeconfig {path}: not a kubeconfig file ({text})"
    return f"kubeconfig {path}: {text}"


async def check_api(
    client: KubeClient,
    namespace: str | None,
    stop: asyncio.Event,
    backoff: Backoff = API_BACKOFF,
    clock: Clock = SYSTEM,
) -> bool:
    """List HelmReleases once. True when that worked; False when `stop` was set while retrying.

    StartupError when retrying cannot help: the CRD is not installed, or we are not allowed.
    """
    failures = 0
    where = f"namespace {namespace}" if namespace else "all namespaces"
    while not stop.is_set():
        try:
            await client.list(HELMRELEASES, namespace, limit=1)
            return True
        except NotFound:
            raise StartupError(f"the HelmRelease CRD ({CRD_NAME}) is not installed: {CRD_INSTALL}") from None
        except ApiError as e:
            if e.status == 401:
                raise StartupError(
                    f"the API server rejected our credentials (401): {_one_line(e.message)}"
                ) from None
            if e.status == 403:
                raise StartupError(
                    forbidden_reason(e, "list", CRD_NAME, namespace, "HelmReleases", RBAC_INSTALL)
                ) from None
            failures += 1
            delay = backoff.delay(failures)
            what = "unreachable" if isinstance(e, TransportError) else "failing"
            log.warning(
                "API server %s (listing HelmReleases in %s: %s); retrying in %.1fs",
                what,
                where,
                _one_line(e),
                delay,
            )
        with contextlib.suppress(TimeoutError):
            async with clock.timeout(delay):
                await stop.wait()
    return False


def forbidden_reason(
    err: ApiError,
    verb: str,
    resource: str,
    namespace: str | None,
    purpose: str = "",
    grant: str = "the ClusterRole in deploy/base/rbac.yaml",
) -> str:
    """One line for a 403: who cannot do what where, what for, and what to grant.

    `who` is the user the API server names in its message ('User "system:serviceaccount:ns:sa"'),
    else "the controller's service account".
    """
    m = _USER.search(err.message or "")
    who = m.group(1) if m else "the controller's service account"
    where = f"in namespace {namespace}" if namespace else "cluster-wide"
    why = f" ({purpose})" if purpose else ""
    return f"forbidden: {who} cannot {verb} {resource} {where}{why}; grant {verb} on {resource}: {grant}"


def storage_forbidden_reason(err: ApiError, storage_namespace: str) -> str | None:
    """The reason to put on a HelmRelease when listing Helm's storage Secrets got a 403; None otherwise."""
    if err.status != 403:
        return None
    return forbidden_reason(err, "list", "secrets", storage_namespace, "Helm's release storage")
