"""A small dict-in/dict-out async Kubernetes client.

Owns talking HTTP to the API server: configuration and authentication (through the
official client's ``kubernetes.aio`` flavour: kubeconfig, in-cluster service account
with token refresh, exec plugins), resource paths, CRUD, the four patch flavours,
paginated lists, streaming watches, and mapping error responses to :class:`ApiError`
and its subclasses. Objects are plain dicts; no generated models are involved.

Request bodies are never logged: they may be Secrets. The errors (errors.py) and the resources
(resources.py) are re-exported here, where the client's callers import them from.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Literal

import aiohttp
from kubernetes.aio import client as kclient
from kubernetes.aio import config as kconfig

from helmrelease_controller import __version__

from .errors import (
    ApiError,
    Gone,
    StreamBroken,
    TransportError,
    error_from_status,
)
from .errors import Conflict as Conflict
from .errors import NotFound as NotFound
from .resources import (
    _NON_RESOURCE,
    METADATA_ACCEPT,
    METADATA_LIST_ACCEPT,
    PODS,
    Resource,
)
from .resources import CONFIGMAPS as CONFIGMAPS
from .resources import CORE_EVENTS as CORE_EVENTS
from .resources import CRDS as CRDS
from .resources import EVENTS as EVENTS
from .resources import HELMRELEASES as HELMRELEASES
from .resources import LEASES as LEASES
from .resources import NAMESPACES as NAMESPACES
from .resources import SECRETS as SECRETS

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ObjList = list[Obj]  # (a class with a `list` method cannot say list[...] in its annotations)
PatchType = Literal["merge", "json", "strategic", "apply"]

FIELD_MANAGER = "helmrelease-controller"
PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


# -- wire formats ---------------------------------------------------------------------------------
def micro_time(t: dt.datetime | None = None) -> str:
    """A Kubernetes MicroTime: RFC 3339, UTC, 6 fractional digits, "Z"."""
    t = (t or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> dt.datetime | None:
    """Parse a Kubernetes Time or MicroTime (None when absent or malformed)."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# -- the client -----------------------------------------------------------------------------------
class KubeClient:
    """Async JSON client. Build with :meth:`from_kubeconfig` or :meth:`in_cluster`; `close()` when done."""

    def __init__(
        self,
        api_client: kclient.ApiClient,
        request_timeout: float = 60.0,
        refresher: asyncio.Task[None] | None = None,
    ) -> None:
        self.api_client = api_client
        self.api_client.user_agent = f"helmrelease-controller/{__version__}"
        # kubernetes.aio's session trusts the environment, which makes every request look up netrc
        # and proxy settings in a thread (about 30% of a no-op reconcile's CPU, measured by
        # `make bench --profile`). A proxy for the API server comes from the kubeconfig's
        # proxy-url (cfg.proxy), which the loader sets; environment proxies are not consulted.
        cfg = self.api_client.configuration
        cfg.client_session_kwargs = {
            **(getattr(cfg, "client_session_kwargs", None) or {}),
            "trust_env": False,
        }
        self.request_timeout = request_timeout
        self.request_count: Counter[tuple[str, str]] = Counter()  # (verb, resource label) -> requests
        self._refresher = refresher
        self.as_user: str | None = None  # Impersonate-User on every request (impersonating())

    def impersonating(self, user: str | None) -> KubeClient:
        """This client acting as `user` (the Impersonate-User header: the API server checks that we
        may impersonate it, then authorizes each request as `user`); itself when `user` is None.
        Shares the connection and the request counts; never close() a view."""
        if user is None or user == self.as_user:
            return self
        view = copy.copy(self)
        view.as_user = user
        return view

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    @classmethod
    async def from_kubeconfig(cls, path: str | None = None, context: str | None = None) -> KubeClient:
        """From a kubeconfig file (default: $KUBECONFIG or ~/.kube/config) and context."""
        cfg = kclient.Configuration()
        loader = await kconfig.load_kube_config(
            config_file=path, context=context, client_configuration=cfg, persist_config=False
        )
        refresher = None
        user = getattr(loader, "_user", None)
        if loader.provider == "gcp" or (user is not None and "exec" in user):
            # kubernetes.aio refreshes exec/gcp credentials only through this loop (no per-request hook).
            refresher = asyncio.create_task(kconfig.refresh_token(loader, cfg), name="kube-token-refresh")
        return cls(kclient.ApiClient(cfg), refresher=refresher)

    @classmethod
    async def in_cluster(cls, token_file: str | None = None, ca_file: str | None = None) -> KubeClient:
        """From the pod's service account. The token file is re-read every minute (bound tokens rotate):
        the loader installs `refresh_api_key_hook`, which runs on every request that asks for BearerToken."""
        cfg = kclient.Configuration()
        if token_file is None and ca_file is None:
            kconfig.load_incluster_config(client_configuration=cfg)
        else:
            from kubernetes.aio.config import incluster_config

            incluster_config.InClusterConfigLoader(
                token_filename=token_file or incluster_config.SERVICE_TOKEN_FILENAME,
                cert_filename=ca_file or incluster_config.SERVICE_CERT_FILENAME,
            ).load_and_set(cfg)
        return cls(kclient.ApiClient(cfg))

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.wait({self._refresher})
        await self.api_client.close()

    # -- transport --------------------------------------------------------------------------------
    async def _serialize(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> tuple[str, str, dict[str, str], Any]:
        method, url, headers, body, _ = await self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params={
                "Accept": accept,
                "Content-Type": content_type,
                **({"Impersonate-User": self.as_user} if self.as_user else {}),
            },
            body=body,
            auth_settings=["BearerToken"],
        )
        return method, url, headers, body

    async def _send(
        self,
        method: str,
        verb: str,
        res: Resource,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
        timeout: aiohttp.ClientTimeout | None = None,
        accept: str = "application/json",
    ) -> Any:
        """One request; returns the RESTResponse (status < 400) or raises ApiError."""
        self.request_count[(verb, res.label)] += 1
        method, url, headers, body = await self._serialize(method, path, query, body, content_type, accept)
        try:
            resp = await self.api_client.rest_client.request(
                method,
                url,
                headers=headers,
                body=body,
                _request_timeout=timeout or aiohttp.ClientTimeout(total=self.request_timeout),
            )
        except (aiohttp.ClientError, TimeoutError) as e:
            log.debug("%s %s failed: %s", method, path, e)
            raise TransportError(f"{method} {path}: {type(e).__name__}: {e}") from e
        if resp.status >= 400:
            try:
                data = await resp.read()
            except (aiohttp.ClientError, TimeoutError):
                data = b""
            finally:
                resp.response.release()
            err = error_from_status(resp.status, data, str(resp.reason or ""))
            log.debug("%s %s -> %s %s", method, path, err.status, err.reason)
            raise err
        return resp

    async def _json(self, *args: Any, **kw: Any) -> Any:
        resp = await self._send(*args, **kw)
        try:
            raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransportError(f"reading response: {type(e).__name__}: {e}") from e
        finally:
            resp.response.release()
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise ApiError(
                resp.status, "InvalidResponse", f"response is not JSON ({len(raw)} bytes)"
            ) from None

    # -- verbs ------------------------------------------------------------------------------------
    async def get(self, res: Resource, ns: str | None, name: str, subresource: str | None = None) -> Obj:
        obj: Obj = await self._json("GET", "get", res, res.path(ns, name, subresource))
        return obj

    async def server_version(self) -> Obj:
        """`GET /version`: the API server's version (`gitVersion`, `major`, `minor`)."""
        return await self.get_path("/version")

    async def get_path(self, path: str) -> Obj:
        """`GET` of a path that is no resource: `/version`, discovery (`/apis`, `/apis/apps/v1`)."""
        obj: Obj = await self._json("GET", "get", _NON_RESOURCE, path)
        return obj

    async def pod_log(self, ns: str, name: str, container: str, tail_lines: int = 5) -> str:
        """The last lines a container wrote (`GET pods/<name>/log`), as text."""
        query = [("container", container), ("tailLines", str(tail_lines))]
        resp = await self._send("GET", "get", PODS, PODS.path(ns, name, "log"), query, accept="text/plain")
        try:
            raw: bytes = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransportError(f"reading a log: {type(e).__name__}: {e}") from e
        finally:
            resp.response.release()
        return raw.decode(errors="replace")

    async def list(
        self,
        res: Resource,
        ns: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
        metadata_only: bool = False,
    ) -> tuple[ObjList, str]:
        """Every matching object (following `continue` pages) and the list's resourceVersion.

        The resourceVersion is the first page's: the snapshot the pages belong to, and a safe
        point to start a watch from. An expired continue token falls back to one unpaged list.
        """
        base: list[tuple[str, str]] = []
        if label_selector:
            base.append(("labelSelector", label_selector))
        if field_selector:
            base.append(("fieldSelector", field_selector))
        items: ObjList = []
        rv = ""
        cont = ""
        accept = METADATA_LIST_ACCEPT if metadata_only else "application/json"
        while True:
            query = [*base, ("limit", str(limit))] if limit else list(base)
            if cont:
                query.append(("continue", cont))
            try:
                page = await self._json("GET", "list", res, res.path(ns), query, accept=accept)
            except Gone:
                if not cont:
                    raise
                log.info("continue token for %s expired; listing without pages", res.label)
                page = await self._json("GET", "list", res, res.path(ns), base, accept=accept)
                items, rv, cont = [], "", ""
            meta = page.get("metadata") or {}
            rv = rv or str(meta.get("resourceVersion") or "")
            for item in page.get("items") or []:
                item.setdefault("apiVersion", res.api_version)
                item.setdefault("kind", res.kind)
                items.append(item)
            cont = str(meta.get("continue") or "")
            if not cont or not limit:
                return items, rv

    async def create(
        self, res: Resource, ns: str | None, body: Obj, field_manager: str = FIELD_MANAGER
    ) -> Obj:
        ns = ns or (body.get("metadata") or {}).get("namespace")
        obj: Obj = await self._json(
            "POST", "create", res, res.path(ns), [("fieldManager", field_manager)], body
        )
        return obj

    async def replace(
        self,
        res: Resource,
        ns: str | None,
        name: str,
        body: Obj,
        subresource: str | None = None,
        field_manager: str = FIELD_MANAGER,
    ) -> Obj:
        """PUT: with body.metadata.resourceVersion set, a stale write raises Conflict."""
        path = res.path(ns, name, subresource)
        obj: Obj = await self._json("PUT", "update", res, path, [("fieldManager", field_manager)], body)
        return obj

    async def patch(
        self,
        res: Resource,
        ns: str | None,
        name: str,
        body: Obj | ObjList,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
        field_manager: str = FIELD_MANAGER,
        force: bool = False,
    ) -> Obj:
        try:
            content_type = PATCH_CONTENT_TYPES[patch_type]
        except KeyError:
            raise ValueError(f"unknown patch type {patch_type!r}") from None
        if patch_type == "json" and not isinstance(body, list):
            raise ValueError("a json patch is a list of operations")
        query = [("fieldManager", field_manager)]
        if patch_type == "apply" and force:
            query.append(("force", "true"))
        path = res.path(ns, name, subresource)
        obj: Obj = await self._json("PATCH", "patch", res, path, query, body, content_type)
        return obj

    async def delete(
        self,
        res: Resource,
        ns: str | None,
        name: str,
        propagation: Literal["Foreground", "Background", "Orphan"] | None = None,
        preconditions: dict[str, str] | None = None,
    ) -> Obj:
        """Delete; returns what the server answers (the object, or a `Status`)."""
        opts: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation:
            opts["propagationPolicy"] = propagation
        if preconditions:
            opts["preconditions"] = preconditions
        obj: Obj = await self._json("DELETE", "delete", res, res.path(ns, name), (), opts)
        return obj

    async def watch(
        self,
        res: Resource,
        ns: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
        metadata_only: bool = False,
    ) -> AsyncGenerator[tuple[str, Obj], None]:
        """Stream (type, object) watch events: ADDED, MODIFIED, DELETED, BOOKMARK.

        Ends when the server ends the stream (`timeout_seconds`). An ERROR event raises the
        matching ApiError (410: :class:`Gone`); a stream that breaks off raises :class:`StreamBroken`.
        Use with `contextlib.aclosing` to release the connection when leaving early.
        """
        query: list[tuple[str, str]] = [("watch", "true")]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if timeout_seconds:
            query.append(("timeoutSeconds", str(timeout_seconds)))
        if allow_bookmarks:
            query.append(("allowWatchBookmarks", "true"))
        # No total timeout; a read timeout a bit above the server-side one catches half-open sockets.
        read_timeout = (timeout_seconds + 30) if timeout_seconds else None
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.request_timeout, sock_read=read_timeout)
        accept = METADATA_ACCEPT if metadata_only else "application/json"
        resp = await self._send("GET", "watch", res, res.path(ns), query, timeout=timeout, accept=accept)
        stream = resp.response
        partial: list[bytes] = []  # an event's bytes until its newline arrives (events can be large)
        try:
            try:
                async for chunk in stream.content.iter_any():
                    if b"\n" not in chunk:
                        partial.append(chunk)
                        continue
                    *lines, rest = b"".join([*partial, chunk]).split(b"\n")
                    partial = [rest]
                    for line in lines:
                        if line.strip():
                            yield _decode_event(line)
            except (aiohttp.ClientError, TimeoutError) as e:
                raise StreamBroken(f"watch {res.label}: {type(e).__name__}: {e}") from e
            if (tail := b"".join(partial)).strip():
                yield _decode_event(tail)
        finally:
            stream.close()


def _decode_event(line: bytes) -> tuple[str, Obj]:
    try:
        ev = json.loads(line)
        ev_type, obj = str(ev["type"]), ev["object"]
    except (ValueError, KeyError, TypeError) as e:
        raise TransportError(f"undecodable watch event ({len(line)} bytes)") from e
    if ev_type == "ERROR":
        raise error_from_status(int((obj or {}).get("code") or 500), obj if isinstance(obj, dict) else None)
    return ev_type, obj
