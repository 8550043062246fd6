"""`KubeSim`: one running API server, and the handle tests, the demo and benchmarks hold.

Runs the aiohttp application on 127.0.0.1 in a background thread with its own event
loop (or inside a caller's loop with `start_async`), writes a kubeconfig that
kubectl, helm and the official Python client accept, and exposes the test hooks:
fault rules, the request log, dropping every open watch, forcing 410 Gone, and
compacting history. The same hooks are served over HTTP under `/kubesim/` for
clients in other processes.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import yaml
from aiohttp import web

from . import tls
from .authn import Authenticator
from .controllers import Controllers
from .enforce import Enforcer, GuardedStore
from .faults import Fault, Faults, RequestLog
from .resources import Registry
from .server import Server
from .store import Store
from .watch import WatchHub

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def kubeconfig(
    url: str, context: str = "kubesim", namespace: str = "default", token: str = "kubesim", ca_data: str = ""
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {"server": url, **({"certificate-authority-data": ca_data} if ca_data else {})},
            }
        ],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}
        ],
        "current-context": context,
        "preferences": {},
    }


class KubeSim:
    def __init__(
        self,
        port: int = 0,
        bookmark_interval: float = 5.0,
        controller_delay: float = 0.02,
        rbac: bool = False,
        pods: bool = True,
    ) -> None:
        self.registry = Registry()
        self.store = Store(self.registry)
        # pods=False: workloads get statuses but no ReplicaSet pods, kubelet or events (cheaper)
        self.controllers = Controllers(self.registry, self.store, delay=controller_delay, pods=pods)
        self.hub = WatchHub(self.store, bookmark_interval)
        self.faults = Faults()
        self.requests = RequestLog()
        self.server = Server(self.registry, self.store, self.hub, self.faults, self.requests)
        self.server.admin = self._admin
        self.port = port
        self.url = ""
        self.kubeconfig_path: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        ns_rt = self.registry.get("", "v1", "namespaces")
        assert ns_rt is not None
        for ns in DEFAULT_NAMESPACES:
            self.store.create(ns_rt, "", {"metadata": {"name": ns}})
        self.authn = Authenticator()
        self.enforcer: Enforcer | None = None
        self.tls: tls.ServingCert | None = None
        if rbac:  # authentication and RBAC as kube-apiserver enforces them (enforce.py)
            self.enforcer = Enforcer(self.registry, self.store, self.authn)
            self.server.guard, self.server.store = (
                self.enforcer.gate,
                cast(Store, GuardedStore(self.store, self.enforcer)),
            )

    # -- lifecycle -------------------------------------------------------------------------
    async def start_async(self) -> str:
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self.server.app(), access_log=None, handler_cancellation=True)
        await self._runner.setup()
        self.tls = tls.self_signed() if self.enforcer is not None else None  # tokens travel over TLS only
        ssl_context = self.tls.context if self.tls is not None else None
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.port = sock.getsockname()[1]
        self.url = f"{'https' if self.tls is not None else 'http'}://127.0.0.1:{self.port}"
        return self.url

    async def stop_async(self) -> None:
        self.hub.drop_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> str:
        """Start in a background thread; returns the URL once the server is listening."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as e:  # pragma: no cover - surfaced to the caller
                errors.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name="kubesim", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> KubeSim:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        p = Path(path)
        p.write_text(yaml.safe_dump(kubeconfig(self.url, namespace=namespace, ca_data=self._ca_data())))
        self.kubeconfig_path = p
        return p

    def user_kubeconfig(self, path: str | Path, user: str, groups: tuple[str, ...] | list[str] = (),
                        namespace: str = "default") -> Path:  # fmt: skip
        """A kubeconfig authenticating as `user` in `groups` (a token of its own; see authn.py)."""
        p = Path(path)
        token = self.authn.add_user(user, groups)
        p.write_text(
            yaml.safe_dump(kubeconfig(self.url, namespace=namespace, token=token, ca_data=self._ca_data()))
        )
        return p

    def _ca_data(self) -> str:
        return self.tls.ca_data if self.tls is not None else ""

    # -- test hooks (thread-safe) ---------------------------------------------------------------
    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the server's loop (where the store lives) and return its result."""
        if self._loop is None or self._thread is None or threading.current_thread() is self._thread:
            return fn()
        fut = asyncio.run_coroutine_threadsafe(_as_coro(fn), self._loop)
        return fut.result(10)

    def add_fault(self, **kw: Any) -> Fault:
        return self.faults.add(**kw)

    def clear_faults(self) -> None:
        self.faults.clear()

    def drop_watches(self) -> int:
        return int(self.call(self.hub.drop_all))

    def force_gone(self, next_watches: int = 1) -> None:
        """The next N watches that resume from a resourceVersion answer 410 Gone."""

        def _set() -> None:
            self.hub.force_gone_next = next_watches

        self.call(_set)

    def compact(self) -> None:
        """Forget watch history: resuming from any earlier resourceVersion answers 410 Gone."""
        self.call(self.store.compact)

    # -- HTTP admin API (/kubesim/...) -----------------------------------------------------------
    async def _admin(self, request: web.Request, parts: list[str]) -> web.StreamResponse:
        what = parts[0] if parts else ""
        if what == "requests":
            if request.method == "DELETE":
                self.requests.clear()
                return web.json_response({})
            since = float(request.query.get("since", 0))
            return web.json_response([e.as_dict() for e in self.requests.entries(since)])
        if what == "faults":
            if request.method == "POST":
                fault = self.faults.add(**(await request.json()))
                return web.json_response(fault.public(), status=201)
            if request.method == "DELETE":
                if len(parts) > 1:
                    self.faults.remove(int(parts[1]))
                else:
                    self.faults.clear()
                return web.json_response({})
            return web.json_response(self.faults.list())
        if what == "drop-watches" and request.method == "POST":
            return web.json_response({"dropped": self.hub.drop_all()})
        if what == "force-gone" and request.method == "POST":
            self.hub.force_gone_next = int(request.query.get("next", 1))
            return web.json_response({})
        if what == "compact" and request.method == "POST":
            self.store.compact()
            return web.json_response({"compactedRevision": self.store.compacted_rv})
        if what == "users" and request.method == "POST":  # a token for a test identity
            spec = await request.json()
            return web.json_response(
                {"token": self.authn.add_user(spec["name"], spec.get("groups", ()))}, status=201
            )
        if what == "state":
            return web.json_response(
                {
                    "resourceVersion": self.store.resource_version,
                    "openWatches": self.hub.open_streams,
                }
            )
        return web.Response(status=404, text=json.dumps({"error": "unknown admin path"}))


async def _as_coro(fn: Callable[[], Any]) -> Any:
    return fn()
