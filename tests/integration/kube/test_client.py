"""KubeClient against kubesim: CRUD, patches, errors, pagination, watch, auth plumbing."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helmrelease_controller.kube import client as kc
from helmrelease_controller.kube.client import CONFIGMAPS, HELMRELEASES, NAMESPACES, SECRETS, KubeClient
from kubesim import KubeSim


@pytest.fixture
async def client(kubesim: KubeSim) -> AsyncIterator[KubeClient]:
    c = await KubeClient.from_kubeconfig(str(kubesim.kubeconfig_path))
    yield c
    await c.close()


def cm(name: str, **labels: str) -> dict[str, object]:
    return {"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}


def test_resource_paths() -> None:
    assert CONFIGMAPS.path("ns", "a") == "/api/v1/namespaces/ns/configmaps/a"
    assert CONFIGMAPS.path() == "/api/v1/configmaps"
    assert NAMESPACES.path(None, "ns") == "/api/v1/namespaces/ns"
    assert NAMESPACES.path("ignored", "ns") == "/api/v1/namespaces/ns"
    assert (
        HELMRELEASES.path("dev", "web", "status")
        == "/apis/helmrelease.dev/v1/namespaces/dev/helmreleases/web/status"
    )
    assert kc.LEASES.path("kube-system") == "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
    assert kc.EVENTS.api_version == "events.k8s.io/v1" and kc.CORE_EVENTS.api_version == "v1"
    assert SECRETS.label == "secrets" and HELMRELEASES.label == "helmreleases.helmrelease.dev"
    assert CONFIGMAPS.path("ns", "a/b") == "/api/v1/namespaces/ns/configmaps/a%2Fb"


def test_micro_time_round_trip() -> None:
    t = dt.datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=dt.UTC)
    assert kc.micro_time(t) == "2026-01-02T03:04:05.000060Z"
    assert kc.parse_time(kc.micro_time(t)) == t
    assert kc.parse_time("2026-01-02T03:04:05Z") == t.replace(microsecond=0)
    assert kc.parse_time("garbage") is None and kc.parse_time(None) is None


async def test_crud(client: KubeClient, kubesim: KubeSim) -> None:
    created = await client.create(CONFIGMAPS, "default", cm("a"))
    assert created["metadata"]["uid"] and created["data"] == {"k": "v"}
    got = await client.get(CONFIGMAPS, "default", "a")
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    got["data"] = {"k": "v2"}
    replaced = await client.replace(CONFIGMAPS, "default", "a", got)
    assert replaced["data"] == {"k": "v2"}

    merged = await client.patch(CONFIGMAPS, "default", "a", {"data": {"m": "1"}})
    ops = [{"op": "add", "path": "/data/j", "value": "2"}]
    jsoned = await client.patch(CONFIGMAPS, "default", "a", ops, patch_type="json")
    strategic = await client.patch(CONFIGMAPS, "default", "a", {"data": {"s": "3"}}, patch_type="strategic")
    assert merged["data"] == {"k": "v2", "m": "1"}
    assert jsoned["data"]["j"] == "2" and strategic["data"]["s"] == "3"

    applied = await client.patch(
        CONFIGMAPS,
        "default",
        "b",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"x": "y"}},
        patch_type="apply",
        force=True,
    )
    assert applied["data"] == {"x": "y"}
    assert applied["metadata"]["managedFields"][0]["manager"] == "helmrelease-controller"
    assert "fieldManager=helmrelease-controller" in kubesim.requests.entries()[-1].query

    await client.delete(CONFIGMAPS, "default", "a")
    with pytest.raises(kc.NotFound):
        await client.get(CONFIGMAPS, "default", "a")

    ns = await client.create(NAMESPACES, None, {"metadata": {"name": "team"}})
    assert "namespace" not in ns["metadata"]
    assert (await client.get(NAMESPACES, None, "team"))["metadata"]["name"] == "team"
    assert client.request_count[("patch", "configmaps")] == 4
    assert client.request_count[("create", "namespaces")] == 1


async def test_errors(client: KubeClient) -> None:
    with pytest.raises(kc.NotFound) as nf:
        await client.get(CONFIGMAPS, "default", "missing")
    assert (nf.value.status, nf.value.reason) == (404, "NotFound")
    assert "missing" in nf.value.message
    with pytest.raises(kc.NotFound):
        await client.delete(CONFIGMAPS, "default", "missing")

    first = await client.create(CONFIGMAPS, "default", cm("a"))
    with pytest.raises(kc.Conflict) as exists:
        await client.create(CONFIGMAPS, "default", cm("a"))
    assert exists.value.reason == "AlreadyExists"

    await client.patch(CONFIGMAPS, "default", "a", {"data": {"k": "changed"}})
    with pytest.raises(kc.Conflict) as stale:  # first's resourceVersion is now stale
        await client.replace(CONFIGMAPS, "default", "a", first)
    assert (stale.value.status, stale.value.reason) == (409, "Conflict")
    with pytest.raises(kc.Conflict):
        await client.delete(CONFIGMAPS, "default", "a", preconditions={"resourceVersion": "1"})

    with pytest.raises(ValueError):
        await client.patch(CONFIGMAPS, "default", "a", {"not": "a list"}, patch_type="json")


async def test_server_error_and_unreachable_server(client: KubeClient, kubesim: KubeSim) -> None:
    kubesim.add_fault(status=500, verb="get", resource="configmaps", times=1, message="etcd is sad")
    with pytest.raises(kc.ApiError) as err:
        await client.get(CONFIGMAPS, "default", "x")
    assert type(err.value) is kc.ApiError and err.value.status == 500 and err.value.message == "etcd is sad"

    client.api_client.configuration.host = "http://127.0.0.1:1"  # nothing listens there
    with pytest.raises(kc.TransportError) as down:
        await client.get(CONFIGMAPS, "default", "x")
    assert down.value.status == 0


async def test_list_follows_pages(client: KubeClient, kubesim: KubeSim) -> None:
    for i in range(7):
        await client.create(CONFIGMAPS, "default", cm(f"cm{i}", app="web" if i % 2 else "db"))
    await client.create(CONFIGMAPS, "kube-system", cm("other"))
    before = kubesim.requests.count(verb="list", resource="configmaps")

    items, rv = await client.list(CONFIGMAPS, "default", limit=3)
    # 8 items in 3 pages: the namespace's kube-root-ca.crt too, as in every real namespace.
    assert sorted(i["metadata"]["name"] for i in items) == [*(f"cm{i}" for i in range(7)), "kube-root-ca.crt"]
    assert all(i["kind"] == "ConfigMap" and i["apiVersion"] == "v1" for i in items)
    assert int(rv) > 0
    assert kubesim.requests.count(verb="list", resource="configmaps") - before == 3

    web, _ = await client.list(CONFIGMAPS, "default", label_selector="app=web")
    assert sorted(i["metadata"]["name"] for i in web) == ["cm1", "cm3", "cm5"]
    everywhere, _ = await client.list(CONFIGMAPS, field_selector="metadata.name=other")
    assert [i["metadata"]["namespace"] for i in everywhere] == ["kube-system"]
    assert "limit=500" in kubesim.requests.entries()[-1].query


async def test_status_subresource_on_a_custom_resource(client: KubeClient) -> None:
    crd = {
        "metadata": {"name": "helmreleases.helmrelease.dev"},
        "spec": {
            "group": "helmrelease.dev",
            "scope": "Namespaced",
            "names": {"plural": "helmreleases", "singular": "helmrelease", "kind": "HelmRelease"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }
    await client.create(kc.CRDS, None, crd)
    hr = {"apiVersion": "helmrelease.dev/v1", "kind": "HelmRelease", "metadata": {"name": "web"}, "spec": {}}
    for _ in range(100):  # the CRD is served once established
        try:
            created = await client.create(HELMRELEASES, "default", hr)
            break
        except kc.NotFound:
            await asyncio.sleep(0.02)
    else:
        pytest.fail("the HelmRelease CRD never became served")
    status = {"status": {"observedGeneration": 1}}
    patched = await client.patch(HELMRELEASES, "default", "web", status, subresource="status")
    assert patched["status"] == {"observedGeneration": 1}
    assert patched["metadata"]["generation"] == created["metadata"]["generation"]


async def test_watch_streams_events_and_raises_gone(client: KubeClient, kubesim: KubeSim) -> None:
    _, rv = await client.list(CONFIGMAPS, "default")
    seen: list[tuple[str, str]] = []

    async def consume() -> None:
        async with contextlib.aclosing(client.watch(CONFIGMAPS, "default", rv)) as events:
            async for ev_type, obj in events:
                seen.append((ev_type, obj["metadata"].get("name", "")))
                if ev_type == "DELETED":
                    return

    task = asyncio.create_task(consume())
    await client.create(CONFIGMAPS, "default", cm("w"))
    await client.patch(CONFIGMAPS, "default", "w", {"data": {"k": "2"}})
    await client.delete(CONFIGMAPS, "default", "w")
    await asyncio.wait_for(task, 10)  # a hang guard, not a speed claim
    assert [s for s in seen if s[0] != "BOOKMARK"] == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]

    kubesim.compact()
    with pytest.raises(kc.Gone) as gone:
        async for _ in client.watch(CONFIGMAPS, "default", rv):
            pass
    assert gone.value.status == 410


async def test_watch_ends_with_timeout_and_breaks_on_drop(client: KubeClient, kubesim: KubeSim) -> None:
    events = [
        e async for e in client.watch(CONFIGMAPS, "default", "", timeout_seconds=1, allow_bookmarks=False)
    ]
    # Only what existed (the namespace's kube-root-ca.crt); the server ended the stream after 1 s.
    assert [(t, o["metadata"]["name"]) for t, o in events] == [("ADDED", "kube-root-ca.crt")]

    async def consume() -> None:
        async for _ in client.watch(CONFIGMAPS, "default"):
            pass

    task = asyncio.create_task(consume())
    dropped = 0
    for _ in range(1000):  # until the watch is open (no fixed sleep: a loaded machine is slower)
        if dropped := kubesim.drop_watches():
            break
        await asyncio.sleep(0.01)
    assert dropped == 1
    with pytest.raises(kc.TransportError):
        await asyncio.wait_for(task, 10)


async def test_bodies_are_never_logged(
    client: KubeClient, kubesim: KubeSim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = {"metadata": {"name": "s"}, "stringData": {"password": "hunter2-very-secret"}}
    await client.create(SECRETS, "default", secret)
    kubesim.add_fault(status=500, verb="update", resource="secrets", times=1)
    with pytest.raises(kc.ApiError):
        await client.replace(SECRETS, "default", "s", secret)
    assert "hunter2" not in caplog.text


async def test_in_cluster_token_is_refreshed_from_file(
    tmp_path: Path, kubesim: KubeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kubernetes.aio in-cluster loader re-reads the (rotating) token through refresh_api_key_hook;
    our requests ask for BearerToken auth, so they carry the new token once the old one is a minute old."""
    from kubernetes.aio.config import incluster_config

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("token-1")
    ca.write_text(Path("/etc/ssl/certs/ca-certificates.crt").read_text())
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(kubesim.port))
    client = await KubeClient.in_cluster(token_file=str(token), ca_file=str(ca))
    try:
        assert client.host == f"https://127.0.0.1:{kubesim.port}"
        _, _, headers, _ = await client._serialize("GET", "/api/v1/namespaces")
        assert headers["authorization"] == "bearer token-1"

        token.write_text("token-2")
        later = dt.datetime.now() + dt.timedelta(minutes=2)
        fake_datetime = types.SimpleNamespace(
            datetime=types.SimpleNamespace(now=lambda: later), timedelta=dt.timedelta
        )
        monkeypatch.setattr(incluster_config, "datetime", fake_datetime)
        _, _, headers, _ = await client._serialize("GET", "/api/v1/namespaces")
        assert headers["authorization"] == "bearer token-2"
        # (No request over the wire: the hook re-applies the https host on every call, kubesim is plain http.)
    finally:
        await client.close()


async def test_watch_reassembles_large_and_batched_events(client: KubeClient) -> None:
    big = "x" * 1_000_000  # several network reads for one event (a ConfigMap holds at most 1 MiB)
    await client.create(CONFIGMAPS, "default", {"metadata": {"name": "big"}, "data": {"k": big}})
    for i in range(150):  # many events in one read
        await client.create(CONFIGMAPS, "default", {"metadata": {"name": f"small{i:03}"}})
    names = []
    async with contextlib.aclosing(client.watch(CONFIGMAPS, "default", "0")) as events:
        async for ev_type, obj in events:
            assert ev_type == "ADDED"
            names.append(obj["metadata"]["name"])
            if obj["metadata"]["name"] == "big":
                assert obj["data"]["k"] == big
            if len(names) == 152:
                break
    assert sorted(names) == ["big", "kube-root-ca.crt", *[f"small{i:03}" for i in range(150)]]


async def test_expired_continue_token_falls_back_to_one_full_list(
    client: KubeClient, kubesim: KubeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        await client.create(CONFIGMAPS, "default", cm(f"cm{i}"))
    real_json = client._json
    pages = 0

    async def first_page_then_compact(*args: Any, **kw: Any) -> Any:
        nonlocal pages
        out = await real_json(*args, **kw)
        pages += 1
        if pages == 1:  # history moves on and is compacted between two pages
            await real_json("POST", "create", CONFIGMAPS, CONFIGMAPS.path("default"), (), cm("late"))
            kubesim.compact()
        return out

    monkeypatch.setattr(client, "_json", first_page_then_compact)
    items, _ = await client.list(CONFIGMAPS, "default", limit=2)
    names = sorted(i["metadata"]["name"] for i in items)
    assert names == [*[f"cm{i}" for i in range(5)], "kube-root-ca.crt", "late"]
    lists = [e for e in kubesim.requests.entries() if e.verb == "list"]
    assert [e.status for e in lists] == [200, 410, 200] and "limit" not in lists[-1].query


async def test_exec_credential_plugin(tmp_path: Path, kubesim: KubeSim) -> None:
    plugin = tmp_path / "credential-plugin"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": "exec-token"},
    }
    plugin.write_text(f"#!/bin/sh\necho '{json.dumps(credential)}'\n")
    plugin.chmod(0o755)
    config = yaml.safe_load(Path(str(kubesim.kubeconfig_path)).read_text())
    config["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin)}
    }
    path = tmp_path / "exec-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    client = await KubeClient.from_kubeconfig(str(path))
    try:
        _, _, headers, _ = await client._serialize("GET", "/api/v1/namespaces")
        assert headers["authorization"] == "Bearer exec-token"
        assert client._refresher is not None and not client._refresher.done()  # re-runs the plugin
        assert (await client.get(NAMESPACES, None, "default"))["metadata"]["name"] == "default"
    finally:
        await client.close()
    assert client._refresher.done()
